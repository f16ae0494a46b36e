// Layer norm over the rows of a contiguous (rows, d) matrix, forward and backward, F32 and F64. The
// statistics are accumulated in double, as on the CPU (LayerNorm.Cpu.cs), by one warp per row: each lane
// walks the row with a stride of 32 in a fixed order and the warp adds its lanes in a fixed butterfly, so
// the same input always gives the same bits. Weight and bias are optional (null: 1 and 0).

// mean[r], rstd[r] = 1 / sqrt(var + eps) with the biased variance, then y = (x - mean)·rstd·w + b.
template <typename T>
__device__ void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, i64 rows, int d, double eps)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(r, rows)
    {
        const T* xr = x + r * d;
        T* yr = y + r * d;
        double s = 0;
        for (int i = lane; i < d; i += 32) s += (double)xr[i];
        double mu = warp_sum(s) / d;
        double q = 0;
        for (int i = lane; i < d; i += 32) { double t = (double)xr[i] - mu; q += t * t; }
        double rs = 1.0 / sqrt(warp_sum(q) / d + eps);
        for (int i = lane; i < d; i += 32)
            yr[i] = (T)(((double)xr[i] - mu) * rs * (w ? (double)w[i] : 1.0) + (b ? (double)b[i] : 0.0));
        if (lane == 0) { mean[r] = (T)mu; rstd[r] = (T)rs; }
    }
}

// dx = rstd·(w·g - mean(w·g) - x̂·mean(w·g·x̂)), written as rstd·w·g + c1·x + c0 (the CPU's formula).
template <typename T>
__device__ void layer_norm_backward_input(const T* g, const T* x, const T* w, const T* mean, const T* rstd, T* dx, i64 rows, int d)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(r, rows)
    {
        const T* gr = g + r * d;
        const T* xr = x + r * d;
        double mu = (double)mean[r], rs = (double)rstd[r];
        double sg = 0, sgx = 0;
        for (int i = lane; i < d; i += 32)
        {
            double gw = (double)gr[i] * (w ? (double)w[i] : 1.0);
            sg += gw;
            sgx += gw * ((double)xr[i] - mu);
        }
        sg = warp_sum(sg);
        sgx = warp_sum(sgx);
        double c1 = -rs * rs * rs * sgx / d;
        double c0 = -rs * sg / d - c1 * mu;
        for (int i = lane; i < d; i += 32)
            dx[r * d + i] = (T)((double)gr[i] * (w ? (double)w[i] : 1.0) * rs + (double)xr[i] * c1 + c0);
    }
}

// Pass 1 of the affine gradients: partials[c, 0, j] = Σ g·x̂ and partials[c, 1, j] = Σ g over the rows of
// chunk c, for every column j; one thread per (c, j), rows in order. No atomics.
template <typename T>
__device__ void layer_norm_affine_partials(const T* g, const T* x, const T* mean, const T* rstd, double* partials,
                                           i64 rows, int d, i64 chunks)
{
    i64 per = (rows + chunks - 1) / chunks;
    GRID_STRIDE_LOOP(e, chunks * d)
    {
        i64 c = e / d;
        int j = (int)(e % d);
        double sgx = 0, sg = 0;
        i64 end = (c + 1) * per < rows ? (c + 1) * per : rows;
        for (i64 r = c * per; r < end; ++r)
        {
            double gv = (double)g[r * d + j];
            sgx += gv * ((double)x[r * d + j] - (double)mean[r]) * (double)rstd[r];
            sg += gv;
        }
        partials[(c * 2) * d + j] = sgx;
        partials[(c * 2 + 1) * d + j] = sg;
    }
}

// Pass 2: dw[j] and db[j] sum the chunks' partials in chunk order. Either may be null.
template <typename T>
__device__ void layer_norm_affine_final(const double* partials, T* dw, T* db, int d, i64 chunks)
{
    GRID_STRIDE_LOOP(j, d)
    {
        double sgx = 0, sg = 0;
        for (i64 c = 0; c < chunks; ++c)
        {
            sgx += partials[(c * 2) * d + j];
            sg += partials[(c * 2 + 1) * d + j];
        }
        if (dw) dw[j] = (T)sgx;
        if (db) db[j] = (T)sg;
    }
}

#define DEFINE_LAYER_NORM(T, S)                                                                                  \
extern "C" __global__ void layer_norm_forward_##S(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd,   \
                                                  i64 rows, int d, double eps)                                  \
{ layer_norm_forward<T>(x, w, b, y, mean, rstd, rows, d, eps); }                                               \
extern "C" __global__ void layer_norm_backward_input_##S(const T* g, const T* x, const T* w, const T* mean,      \
                                                         const T* rstd, T* dx, i64 rows, int d)                 \
{ layer_norm_backward_input<T>(g, x, w, mean, rstd, dx, rows, d); }                                             \
extern "C" __global__ void layer_norm_affine_partials_##S(const T* g, const T* x, const T* mean, const T* rstd,  \
                                                          double* partials, i64 rows, int d, i64 chunks)        \
{ layer_norm_affine_partials<T>(g, x, mean, rstd, partials, rows, d, chunks); }                                 \
extern "C" __global__ void layer_norm_affine_final_##S(const double* partials, T* dw, T* db, int d, i64 chunks)  \
{ layer_norm_affine_final<T>(partials, dw, db, d, chunks); }

DEFINE_LAYER_NORM(float, f32)
DEFINE_LAYER_NORM(double, f64)
