// Channels-first layer norm of a contiguous (N, C, S) tensor, normalised over C at each of the N·S positions,
// forward and backward, F32 and F64. One thread per position: adjacent threads take adjacent positions, so every
// step over the channels reads consecutive addresses across a warp (coalesced), and each position's statistics
// are summed in double by one thread in channel order, as on the CPU (LayerNorm2d.Cpu.cs). eps_on_std selects
// (x - mean) / (std + eps) and saves the std as the second statistic; otherwise (x - mean) / sqrt(var + eps),
// saving 1 / sqrt(var + eps). Weight and bias are optional (null: 1 and 0).

// The offset of element (n, 0, s) for position p = n·S + s.
__device__ __forceinline__ i64 layer_norm2d_base(i64 p, int c, i64 s) { return p / s * c * s + p % s; }

template <typename T>
__device__ void layer_norm2d_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* spread,
                                     i64 positions, int c, i64 s, double eps, int eps_on_std)
{
    GRID_STRIDE_LOOP(p, positions)
    {
        i64 at = layer_norm2d_base(p, c, s);
        double sum = 0;
        for (int ch = 0; ch < c; ++ch) sum += (double)x[at + ch * s];
        double mu = c == 0 ? 0.0 : sum / c;
        double squares = 0;
        for (int ch = 0; ch < c; ++ch) { double t = (double)x[at + ch * s] - mu; squares += t * t; }
        double variance = c == 0 ? 0.0 : squares / c;
        double std = sqrt(variance);
        double rs = eps_on_std ? 1.0 / (std + eps) : 1.0 / sqrt(variance + eps);
        for (int ch = 0; ch < c; ++ch)
            y[at + ch * s] = (T)(((double)x[at + ch * s] - mu) * rs * (w ? (double)w[ch] : 1.0) + (b ? (double)b[ch] : 0.0));
        mean[p] = (T)mu;
        spread[p] = (T)(eps_on_std ? std : rs);
    }
}

// The factor of the normalisation from the saved spread: rstd itself, or 1 / (std + eps).
__device__ __forceinline__ double layer_norm2d_rstd(double spread, double eps, int eps_on_std)
{
    return eps_on_std ? 1.0 / (spread + eps) : spread;
}

// dx = rstd·w·g + c1·x + c0 per position, with c1 = -q·Σ w·g·(x - mean) / C and c0 = -rstd·Σ w·g / C - c1·mean,
// where q is the derivative of rstd's factor: rstd³ for 1/sqrt(var + eps), rstd²/std for 1/(std + eps) (0 at
// std = 0, where the std term vanishes with the deviations). The CPU's formula, term for term.
template <typename T>
__device__ void layer_norm2d_backward_input(const T* g, const T* x, const T* w, const T* mean, const T* spread, T* dx,
                                            i64 positions, int c, i64 s, double eps, int eps_on_std)
{
    GRID_STRIDE_LOOP(p, positions)
    {
        i64 at = layer_norm2d_base(p, c, s);
        double mu = (double)mean[p], v = (double)spread[p];
        double rs = layer_norm2d_rstd(v, eps, eps_on_std);
        double q = eps_on_std ? (v > 0 ? rs * rs / v : 0.0) : v * v * v;
        double sg = 0, sgx = 0;
        for (int ch = 0; ch < c; ++ch)
        {
            double gw = (double)g[at + ch * s] * (w ? (double)w[ch] : 1.0);
            sg += gw;
            sgx += gw * ((double)x[at + ch * s] - mu);
        }
        double c1 = -q * sgx / c;
        double c0 = -rs * sg / c - c1 * mu;
        for (int ch = 0; ch < c; ++ch)
            dx[at + ch * s] = (T)((double)g[at + ch * s] * rs * (w ? (double)w[ch] : 1.0) + (double)x[at + ch * s] * c1 + c0);
    }
}

// Pass 1 of the affine gradients: partials[k, 0, ch] = Σ g·x̂ and partials[k, 1, ch] = Σ g over the positions of
// chunk k. One warp per (chunk, channel): its lanes take adjacent positions (coalesced) in a fixed order, and the
// warp adds its lanes in the fixed butterfly; pass 2 (LayerNorm.cu's layer_norm_affine_final) adds the chunks in
// order. No atomics: the same input gives the same bits.
template <typename T>
__device__ void layer_norm2d_affine_partials(const T* g, const T* x, const T* mean, const T* spread, double* partials,
                                             i64 positions, int c, i64 s, double eps, int eps_on_std, i64 chunks)
{
    int lane = threadIdx.x % 32;
    i64 per = (positions + chunks - 1) / chunks;
    WARP_ROW_LOOP(row, chunks * c)
    {
        i64 k = row / c;
        int ch = (int)(row % c);
        i64 end = (k + 1) * per < positions ? (k + 1) * per : positions;
        double sgx = 0, sg = 0;
        for (i64 p = k * per + lane; p < end; p += 32)
        {
            i64 at = layer_norm2d_base(p, c, s) + ch * s;
            double gv = (double)g[at];
            sgx += gv * ((double)x[at] - (double)mean[p]) * layer_norm2d_rstd((double)spread[p], eps, eps_on_std);
            sg += gv;
        }
        sgx = warp_sum(sgx);
        sg = warp_sum(sg);
        if (lane == 0)
        {
            partials[(k * 2) * c + ch] = sgx;
            partials[(k * 2 + 1) * c + ch] = sg;
        }
    }
}

#define DEFINE_LAYER_NORM2D(T, S)                                                                                      \
extern "C" __global__ void layer_norm2d_forward_##S(const T* x, const T* w, const T* b, T* y, T* mean, T* spread,     \
                                                    i64 positions, int c, i64 s, double eps, int eps_on_std)          \
{ layer_norm2d_forward<T>(x, w, b, y, mean, spread, positions, c, s, eps, eps_on_std); }                              \
extern "C" __global__ void layer_norm2d_backward_input_##S(const T* g, const T* x, const T* w, const T* mean,         \
                                                           const T* spread, T* dx, i64 positions, int c, i64 s,       \
                                                           double eps, int eps_on_std)                                \
{ layer_norm2d_backward_input<T>(g, x, w, mean, spread, dx, positions, c, s, eps, eps_on_std); }                      \
extern "C" __global__ void layer_norm2d_affine_partials_##S(const T* g, const T* x, const T* mean, const T* spread,   \
                                                            double* partials, i64 positions, int c, i64 s,            \
                                                            double eps, int eps_on_std, i64 chunks)                   \
{ layer_norm2d_affine_partials<T>(g, x, mean, spread, partials, positions, c, s, eps, eps_on_std, chunks); }

DEFINE_LAYER_NORM2D(float, f32)
DEFINE_LAYER_NORM2D(double, f64)
