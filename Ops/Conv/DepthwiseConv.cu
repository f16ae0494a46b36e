// Depthwise conv2d on NCHW maps (groups = in-channels, output channel co reads input channel co / multiplier),
// F32 and F64, for DepthwiseConv.Cuda.cs. The forward and the input gradient give each output (input) element
// to one thread, which adds its taps in the CPU's order with the CPU's fused multiply-adds: the forward adds
// every tap, padding included (as zeros), onto the bias; the input gradient gathers over (multiplier, ky, kx).
// The weight and bias gradients go in two passes: one warp per (chunk of pixels, channel, tap) sums its
// products in double in a fixed lane order and butterfly, then one thread per (channel, tap) adds the chunks
// in order. No atomics: the same input gives the same bits.

struct DepthwiseShape
{
    int channels, height, width, out_channels;
    int kernel_h, kernel_w;
    int stride_h, stride_w, dilation_h, dilation_w;
    int pad_top, pad_left;
    int out_h, out_w;
};

__device__ __forceinline__ float fused(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fused(double a, double b, double c) { return fma(a, b, c); }

template <typename T>
__device__ void depthwise_forward(const T* x, const T* w, const T* bias, T* y, i64 images, DepthwiseShape s)
{
    int taps = s.kernel_h * s.kernel_w, multiplier = s.out_channels / s.channels;
    i64 total = images * s.out_channels * s.out_h * s.out_w;
    GRID_STRIDE_LOOP(e, total)
    {
        int ox = (int)(e % s.out_w);
        i64 t = e / s.out_w;
        int oy = (int)(t % s.out_h);
        t /= s.out_h;
        int co = (int)(t % s.out_channels);
        i64 n = t / s.out_channels;
        const T* plane = x + (n * s.channels + co / multiplier) * s.height * s.width;
        const T* kernel = w + (i64)co * taps;
        T acc = bias ? bias[co] : (T)0;
        for (int ky = 0; ky < s.kernel_h; ++ky)
        {
            int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
            bool row = iy >= 0 && iy < s.height;
            for (int kx = 0; kx < s.kernel_w; ++kx)
            {
                int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
                T v = row && ix >= 0 && ix < s.width ? plane[(i64)iy * s.width + ix] : (T)0;
                acc = fused(kernel[ky * s.kernel_w + kx], v, acc);
            }
        }
        y[e] = acc;
    }
}

// gx[n, ci, iy, ix] = Σ over the channel's outputs co and the taps that read (iy, ix) of w[co, tap]·gy[n, co, oy, ox].
template <typename T>
__device__ void depthwise_input_grad(const T* w, const T* gy, T* gx, i64 images, DepthwiseShape s)
{
    int taps = s.kernel_h * s.kernel_w, multiplier = s.out_channels / s.channels;
    i64 total = images * s.channels * s.height * s.width;
    GRID_STRIDE_LOOP(e, total)
    {
        int ix = (int)(e % s.width);
        i64 t = e / s.width;
        int iy = (int)(t % s.height);
        t /= s.height;
        int ci = (int)(t % s.channels);
        i64 n = t / s.channels;
        T acc = 0;
        for (int m = 0; m < multiplier; ++m)
        {
            int co = ci * multiplier + m;
            const T* g = gy + (n * s.out_channels + co) * s.out_h * s.out_w;
            const T* kernel = w + (i64)co * taps;
            for (int ky = 0; ky < s.kernel_h; ++ky)
            {
                int ty = iy + s.pad_top - ky * s.dilation_h;
                if (ty < 0 || ty % s.stride_h != 0 || ty / s.stride_h >= s.out_h) continue;
                int oy = ty / s.stride_h;
                for (int kx = 0; kx < s.kernel_w; ++kx)
                {
                    int tx = ix + s.pad_left - kx * s.dilation_w;
                    if (tx < 0 || tx % s.stride_w != 0 || tx / s.stride_w >= s.out_w) continue;
                    acc = fused(kernel[ky * s.kernel_w + kx], g[(i64)oy * s.out_w + tx / s.stride_w], acc);
                }
            }
        }
        gx[e] = acc;
    }
}

// Pass 1: partials[chunk, co, tap] = Σ over the chunk's pixels q (flat over images and output pixels) of
// gy[n, co, p]·x at the tap's input pixel (tap < taps), or of gy alone (tap = taps: the bias). One warp per
// (chunk, co, tap); a warp skips the taps nobody asked for.
template <typename T>
__device__ void depthwise_weight_partials(const T* x, const T* gy, double* partials, i64 images, DepthwiseShape s,
                                          i64 chunks, int with_weight, int with_bias)
{
    int taps = s.kernel_h * s.kernel_w, multiplier = s.out_channels / s.channels, lane = threadIdx.x % 32;
    int plane = s.out_h * s.out_w;
    i64 pixels = images * plane, per = (pixels + chunks - 1) / chunks;
    WARP_ROW_LOOP(u, chunks * s.out_channels * (taps + 1))
    {
        int tap = (int)(u % (taps + 1));
        i64 t = u / (taps + 1);
        int co = (int)(t % s.out_channels);
        i64 chunk = t / s.out_channels;
        if (tap < taps ? !with_weight : !with_bias) continue;
        int ky = tap / s.kernel_w, kx = tap % s.kernel_w;
        i64 end = (chunk + 1) * per < pixels ? (chunk + 1) * per : pixels;
        double sum = 0;
        for (i64 q = chunk * per + lane; q < end; q += 32)
        {
            i64 n = q / plane;
            int p = (int)(q % plane);
            double g = (double)gy[(n * s.out_channels + co) * plane + p];
            if (tap == taps) { sum += g; continue; }
            int oy = p / s.out_w, ox = p % s.out_w;
            int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
            int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
            if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
            sum += g * (double)x[(n * s.channels + co / multiplier) * s.height * s.width + (i64)iy * s.width + ix];
        }
        sum = warp_sum(sum);
        if (lane == 0) partials[(chunk * s.out_channels + co) * (taps + 1) + tap] = sum;
    }
}

// Pass 2: gw[co, tap] and gb[co] add the chunks in order; either may be null.
template <typename T>
__device__ void depthwise_weight_final(const double* partials, T* gw, T* gb, int out_channels, int taps, i64 chunks)
{
    GRID_STRIDE_LOOP(e, (i64)out_channels * (taps + 1))
    {
        int tap = (int)(e % (taps + 1));
        i64 co = e / (taps + 1);
        T* target = tap < taps ? (gw ? gw + co * taps + tap : 0) : (gb ? gb + co : 0);
        if (!target) continue;
        double sum = 0;
        for (i64 c = 0; c < chunks; ++c) sum += partials[(c * out_channels + co) * (taps + 1) + tap];
        *target = (T)sum;
    }
}

#define DW_SHAPE_PARAMS int channels, int height, int width, int out_channels, int kernel_h, int kernel_w, int stride_h, \
                        int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left, int out_h, int out_w
#define DW_SHAPE dw_shape(channels, height, width, out_channels, kernel_h, kernel_w, stride_h, stride_w, dilation_h, \
                          dilation_w, pad_top, pad_left, out_h, out_w)

__device__ __forceinline__ DepthwiseShape dw_shape(DW_SHAPE_PARAMS)
{
    DepthwiseShape s = { channels, height, width, out_channels, kernel_h, kernel_w, stride_h, stride_w, dilation_h,
                         dilation_w, pad_top, pad_left, out_h, out_w };
    return s;
}

#define DEFINE_DEPTHWISE(T, S)                                                                                      \
extern "C" __global__ void depthwise_forward_##S(const T* x, const T* w, const T* bias, T* y, i64 images,          \
                                                 DW_SHAPE_PARAMS)                                                   \
{ depthwise_forward<T>(x, w, bias, y, images, DW_SHAPE); }                                                          \
extern "C" __global__ void depthwise_input_grad_##S(const T* w, const T* gy, T* gx, i64 images, DW_SHAPE_PARAMS)   \
{ depthwise_input_grad<T>(w, gy, gx, images, DW_SHAPE); }                                                           \
extern "C" __global__ void depthwise_weight_partials_##S(const T* x, const T* gy, double* partials, i64 images,     \
                                                         DW_SHAPE_PARAMS, i64 chunks, int with_weight,              \
                                                         int with_bias)                                             \
{ depthwise_weight_partials<T>(x, gy, partials, images, DW_SHAPE, chunks, with_weight, with_bias); }                \
extern "C" __global__ void depthwise_weight_final_##S(const double* partials, T* gw, T* gb, int out_channels,       \
                                                      int taps, i64 chunks)                                         \
{ depthwise_weight_final<T>(partials, gw, gb, out_channels, taps, chunks); }

DEFINE_DEPTHWISE(float, f32)
DEFINE_DEPTHWISE(double, f64)
