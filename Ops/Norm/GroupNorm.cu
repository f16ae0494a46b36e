// Group norm of a contiguous (N, C, S) tensor in G groups, forward and backward, F32 and F64. Each (n, group) is
// one contiguous row of C/G·S values. Statistics are summed in double, two passes (mean, then squared deviations),
// as on the CPU (GroupNorm.Cpu.cs); every sum has a fixed order (strided per thread, then a warp's butterfly, then
// the warps in order), and every launch shape comes from the tensor's shape, so the same input always gives the
// same bits. Weight and bias are optional (null: 1 and 0).

// The sum of v over the block, the same bits in every thread: each warp adds its lanes (warp_sum), then every
// thread adds the warps' sums in warp order. blockDim.x is a multiple of 32; every thread of the block must call
// it. The leading barrier lets consecutive calls reuse warp_sums.
__device__ double group_norm_block_sum(double v, double* warp_sums)
{
    v = warp_sum(v);
    __syncthreads();
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
    __syncthreads();
    double total = 0;
    for (unsigned k = 0; k < blockDim.x / 32; ++k) total += warp_sums[k];
    return total;
}

// One block per row (rows grid-strided): mean and rstd = 1 / sqrt(var + eps) with the biased variance, then
// y = x·scale + shift per channel, scale = rstd·w and shift = b - mean·scale (the CPU's form).
template <typename T>
__device__ void group_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd,
                                   i64 rows, int c, i64 s, int groups, double eps)
{
    __shared__ double warp_sums[32];
    int per_group = c / groups;
    i64 length = per_group * s;
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x)
    {
        const T* xr = x + row * length;
        T* yr = y + row * length;
        double sum = 0;
        for (i64 i = threadIdx.x; i < length; i += blockDim.x) sum += (double)xr[i];
        sum = group_norm_block_sum(sum, warp_sums);
        double mu = length == 0 ? 0.0 : sum / length;
        double squares = 0;
        for (i64 i = threadIdx.x; i < length; i += blockDim.x) { double t = (double)xr[i] - mu; squares += t * t; }
        squares = group_norm_block_sum(squares, warp_sums);
        double rs = 1.0 / sqrt((length == 0 ? 0.0 : squares / length) + eps);
        int first = (int)(row % groups) * per_group;
        for (i64 i = threadIdx.x; i < length; i += blockDim.x)
        {
            int ch = first + (int)(i / s);
            double scale = rs * (w ? (double)w[ch] : 1.0);
            double shift = (b ? (double)b[ch] : 0.0) - mu * scale;
            yr[i] = (T)((double)xr[i] * scale + shift);
        }
        if (threadIdx.x == 0) { mean[row] = (T)mu; rstd[row] = (T)rs; }
    }
}

// Backward pass 1: for every (n, channel), sums[n, 0, ch] = Σ g·(x - mean) and sums[n, 1, ch] = Σ g over its S
// values, one warp per (n, channel) run (coalesced), lanes in a fixed order, then the warp's butterfly.
template <typename T>
__device__ void group_norm_channel_sums(const T* g, const T* x, const T* mean, double* sums, int n, int c, i64 s, int groups)
{
    int lane = threadIdx.x % 32;
    int per_group = c / groups;
    WARP_ROW_LOOP(run, (i64)n * c)
    {
        i64 sample = run / c;
        int ch = (int)(run % c);
        double mu = (double)mean[sample * groups + ch / per_group];
        const T* gr = g + run * s;
        const T* xr = x + run * s;
        double sg = 0, sgx = 0;
        for (i64 i = lane; i < s; i += 32)
        {
            double gv = (double)gr[i];
            sg += gv;
            sgx += gv * ((double)xr[i] - mu);
        }
        sg = warp_sum(sg);
        sgx = warp_sum(sgx);
        if (lane == 0)
        {
            sums[(sample * 2) * c + ch] = sgx;
            sums[(sample * 2 + 1) * c + ch] = sg;
        }
    }
}

// Backward pass 2: per row, coefficients[row] = (c1, c0) of dx = rstd·w·g + c1·x + c0, from the w-weighted
// channel sums of its group added in channel order: c1 = -rstd³·Σ w·g·(x - mean) / L, c0 = -rstd·Σ w·g / L - c1·mean.
template <typename T>
__device__ void group_norm_input_coefficients(const double* sums, const T* w, const T* mean, const T* rstd,
                                              double* coefficients, i64 rows, int c, i64 s, int groups)
{
    int per_group = c / groups;
    i64 length = per_group * s;
    GRID_STRIDE_LOOP(row, rows)
    {
        i64 sample = row / groups;
        int first = (int)(row % groups) * per_group;
        double mu = (double)mean[row], rs = (double)rstd[row];
        double sg = 0, sgx = 0;
        for (int ch = first; ch < first + per_group; ++ch)
        {
            double gamma = w ? (double)w[ch] : 1.0;
            sg += gamma * sums[(sample * 2 + 1) * c + ch];
            sgx += gamma * sums[(sample * 2) * c + ch];
        }
        double c1 = -rs * rs * rs * sgx / length;
        coefficients[row * 2] = c1;
        coefficients[row * 2 + 1] = -rs * sg / length - c1 * mu;
    }
}

// Backward pass 3, elementwise: dx = g·(rstd·w) + x·c1 + c0.
template <typename T>
__device__ void group_norm_backward_input(const T* g, const T* x, const T* w, const T* rstd, const double* coefficients,
                                          T* dx, i64 count, int c, i64 s, int groups)
{
    int per_group = c / groups;
    GRID_STRIDE_LOOP(e, count)
    {
        i64 run = e / s;
        int ch = (int)(run % c);
        i64 row = run / c * groups + ch / per_group;
        double alpha = (double)rstd[row] * (w ? (double)w[ch] : 1.0);
        dx[e] = (T)((double)g[e] * alpha + (double)x[e] * coefficients[row * 2] + coefficients[row * 2 + 1]);
    }
}

// The affine gradients: dw[ch] = Σ_n sums[n, 0, ch]·rstd[n, group] and db[ch] = Σ_n sums[n, 1, ch], samples in
// order. Either may be null.
template <typename T>
__device__ void group_norm_affine(const double* sums, const T* rstd, T* dw, T* db, int n, int c, int groups)
{
    int per_group = c / groups;
    GRID_STRIDE_LOOP(ch, c)
    {
        double sgx = 0, sg = 0;
        for (int sample = 0; sample < n; ++sample)
        {
            sgx += sums[((i64)sample * 2) * c + ch] * (double)rstd[(i64)sample * groups + ch / per_group];
            sg += sums[((i64)sample * 2 + 1) * c + ch];
        }
        if (dw) dw[ch] = (T)sgx;
        if (db) db[ch] = (T)sg;
    }
}

#define DEFINE_GROUP_NORM(T, S)                                                                                        \
extern "C" __global__ void group_norm_forward_##S(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd,         \
                                                  i64 rows, int c, i64 s, int groups, double eps)                     \
{ group_norm_forward<T>(x, w, b, y, mean, rstd, rows, c, s, groups, eps); }                                           \
extern "C" __global__ void group_norm_channel_sums_##S(const T* g, const T* x, const T* mean, double* sums,            \
                                                       int n, int c, i64 s, int groups)                               \
{ group_norm_channel_sums<T>(g, x, mean, sums, n, c, s, groups); }                                                    \
extern "C" __global__ void group_norm_input_coefficients_##S(const double* sums, const T* w, const T* mean,            \
                                                             const T* rstd, double* coefficients, i64 rows, int c,    \
                                                             i64 s, int groups)                                       \
{ group_norm_input_coefficients<T>(sums, w, mean, rstd, coefficients, rows, c, s, groups); }                           \
extern "C" __global__ void group_norm_backward_input_##S(const T* g, const T* x, const T* w, const T* rstd,            \
                                                         const double* coefficients, T* dx, i64 count, int c, i64 s,  \
                                                         int groups)                                                  \
{ group_norm_backward_input<T>(g, x, w, rstd, coefficients, dx, count, c, s, groups); }                               \
extern "C" __global__ void group_norm_affine_##S(const double* sums, const T* rstd, T* dw, T* db, int n, int c,       \
                                                 int groups)                                                          \
{ group_norm_affine<T>(sums, rstd, dw, db, n, c, groups); }

DEFINE_GROUP_NORM(float, f32)
DEFINE_GROUP_NORM(double, f64)
