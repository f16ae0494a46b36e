// Depthwise conv2d on channels-last maps (N, H, W, C) with odd kernels, "same" zero padding and stride 1,
// F32 and F64, for DepthwiseConvChannelsLast.Cuda.cs. The weight is PyTorch's (C, 1, kH, kW). Consecutive
// threads take consecutive channels, so every read and write along C is coalesced. The forward and the input
// gradient are one correlation (the gradient with the offsets negated), one output element per thread, taps
// added in (ky, kx) order onto the bias, a product then a sum as on the CPU. The weight and bias gradients go
// in two passes: one thread per (chunk of rows, tap, channel) sums its chunk in order in double, then one
// thread per (tap, channel) adds the chunks in order. No atomics: the same input gives the same bits.

__device__ __forceinline__ float product(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double product(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float plus(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double plus(double a, double b) { return __dadd_rn(a, b); }

// dst[b, i, j, c] = bias[c] + Σ_taps w[c, ky, kx]·src[b, i ± (ky − kh/2), j ± (kx − kw/2), c]; the sign is + for
// the forward and − (flip) for the input gradient.
template <typename T>
__device__ void dwcl_correlate(const T* src, const T* w, const T* bias, T* dst, int images, int height, int width,
                               int channels, int kernel_h, int kernel_w, int flip)
{
    int ph = kernel_h / 2, pw = kernel_w / 2, taps = kernel_h * kernel_w;
    i64 total = (i64)images * height * width * channels;
    GRID_STRIDE_LOOP(e, total)
    {
        int c = (int)(e % channels);
        i64 t = e / channels;
        int j = (int)(t % width);
        t /= width;
        int i = (int)(t % height);
        i64 b = t / height;
        T acc = bias ? bias[c] : (T)0;
        for (int ky = 0; ky < kernel_h; ++ky)
        {
            int ii = flip ? i - ky + ph : i + ky - ph;
            if (ii < 0 || ii >= height) continue;
            for (int kx = 0; kx < kernel_w; ++kx)
            {
                int jj = flip ? j - kx + pw : j + kx - pw;
                if (jj < 0 || jj >= width) continue;
                acc = plus(acc, product(w[(i64)c * taps + ky * kernel_w + kx], src[((b * height + ii) * width + jj) * channels + c]));
            }
        }
        dst[e] = acc;
    }
}

// Pass 1: partials[chunk, tap, c] = Σ over the chunk's rows (b, i) and every column j of gy[b, i, j, c] times x
// at the tap's offset (tap < taps), or gy alone (tap = taps: the bias).
template <typename T>
__device__ void dwcl_weight_partials(const T* gy, const T* x, double* partials, int images, int height, int width,
                                     int channels, int kernel_h, int kernel_w, i64 chunks)
{
    int ph = kernel_h / 2, pw = kernel_w / 2, taps = kernel_h * kernel_w;
    i64 rows = (i64)images * height, per = (rows + chunks - 1) / chunks;
    GRID_STRIDE_LOOP(e, chunks * (taps + 1) * channels)
    {
        int c = (int)(e % channels);
        i64 t = e / channels;
        int tap = (int)(t % (taps + 1));
        i64 chunk = t / (taps + 1);
        int ky = tap / kernel_w, kx = tap % kernel_w;
        i64 end = (chunk + 1) * per < rows ? (chunk + 1) * per : rows;
        double sum = 0;
        for (i64 row = chunk * per; row < end; ++row)
        {
            i64 b = row / height;
            int i = (int)(row % height), ii = i + ky - ph;
            if (tap < taps && (ii < 0 || ii >= height)) continue;
            for (int j = 0; j < width; ++j)
            {
                double g = (double)gy[(row * width + j) * channels + c];
                if (tap == taps) { sum += g; continue; }
                int jj = j + kx - pw;
                if (jj < 0 || jj >= width) continue;
                sum += g * (double)x[((b * height + ii) * width + jj) * channels + c];
            }
        }
        partials[e] = sum;
    }
}

// Pass 2: gw[c, tap] and gb[c] add the chunks in order; either may be null.
template <typename T>
__device__ void dwcl_weight_final(const double* partials, T* gw, T* gb, int channels, int taps, i64 chunks)
{
    GRID_STRIDE_LOOP(e, (i64)(taps + 1) * channels)
    {
        int c = (int)(e % channels), tap = (int)(e / channels);
        T* target = tap < taps ? (gw ? gw + (i64)c * taps + tap : 0) : (gb ? gb + c : 0);
        if (!target) continue;
        double sum = 0;
        for (i64 k = 0; k < chunks; ++k) sum += partials[k * (taps + 1) * channels + e];
        *target = (T)sum;
    }
}

#define DEFINE_DWCL(T, S)                                                                                           \
extern "C" __global__ void dwcl_correlate_##S(const T* src, const T* w, const T* bias, T* dst, int images,          \
                                              int height, int width, int channels, int kernel_h, int kernel_w,      \
                                              int flip)                                                             \
{ dwcl_correlate<T>(src, w, bias, dst, images, height, width, channels, kernel_h, kernel_w, flip); }                \
extern "C" __global__ void dwcl_weight_partials_##S(const T* gy, const T* x, double* partials, int images,          \
                                                    int height, int width, int channels, int kernel_h,              \
                                                    int kernel_w, i64 chunks)                                       \
{ dwcl_weight_partials<T>(gy, x, partials, images, height, width, channels, kernel_h, kernel_w, chunks); }          \
extern "C" __global__ void dwcl_weight_final_##S(const double* partials, T* gw, T* gb, int channels, int taps,      \
                                                 i64 chunks)                                                        \
{ dwcl_weight_final<T>(partials, gw, gb, channels, taps, chunks); }

DEFINE_DWCL(float, f32)
DEFINE_DWCL(double, f64)
