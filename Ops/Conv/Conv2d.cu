// The column matrix of a convolution and its adjoint, for the GEMM path of conv2d (Conv2d.Cuda.cs), F32 and
// F64. Row r = (c, ky, kx) of the column matrix holds, for image b of the chunk and output pixel p = (oy, ox),
// the input pixel that tap (ky, kx) of channel c reads there, zero in the padding. Entry (r, b, p) lives at
// r·row_stride + b·image_stride + p, so one kernel writes both layouts the host asks for: image-major
// (row_stride = Ho·Wo; each image's block is its own matrix, for the forward GEMMs batched over images)
// and group-major (image_stride = Ho·Wo, row_stride = count·Ho·Wo; one long row per (c, ky, kx), for the
// weight gradient's GEMM over every pixel of the chunk). Consecutive threads take consecutive output
// pixels, so the writes are coalesced and the reads are too wherever the stride is 1.

// The sizes every kernel here shares, passed by value.
struct ConvShape
{
    int channels, height, width;            // input channels and plane
    int kernel_h, kernel_w;
    int stride_h, stride_w, dilation_h, dilation_w;
    int pad_top, pad_left;
    int out_h, out_w;
};

__device__ __forceinline__ ConvShape conv_shape(int channels, int height, int width, int kernel_h, int kernel_w, int stride_h,
                                                int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left,
                                                int out_h, int out_w)
{
    ConvShape s = { channels, height, width, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w,
                    pad_top, pad_left, out_h, out_w };
    return s;
}

// cols[(c, ky, kx), b, p] = x[b, c, oy·sh − pad_top + ky·dh, ox·sw − pad_left + kx·dw], or 0 in the padding;
// x points at the chunk's first image.
template <typename T>
__device__ void conv_im2col(const T* x, T* cols, int count, ConvShape s, i64 row_stride, i64 image_stride)
{
    int plane = s.out_h * s.out_w, taps = s.kernel_h * s.kernel_w;
    i64 total = (i64)s.channels * taps * count * plane;
    GRID_STRIDE_LOOP(e, total)
    {
        int p = (int)(e % plane);
        i64 t = e / plane;
        int b = (int)(t % count), r = (int)(t / count);
        int c = r / taps, ky = r % taps / s.kernel_w, kx = r % s.kernel_w;
        int oy = p / s.out_w, ox = p % s.out_w;
        int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
        int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
        T v = 0;
        if (iy >= 0 && iy < s.height && ix >= 0 && ix < s.width)
            v = x[((i64)b * s.channels + c) * s.height * s.width + (i64)iy * s.width + ix];
        cols[r * row_stride + b * image_stride + p] = v;
    }
}

// The adjoint as a gather: gx[b, c, iy, ix] = the sum of the column entries that read that pixel, taps in
// (ky, kx) order, as the CPU adds them; every input element is written once, with no atomics. gx points at
// the chunk's first image.
template <typename T>
__device__ void conv_col2im(const T* cols, T* gx, int count, ConvShape s, i64 row_stride, i64 image_stride)
{
    i64 plane = (i64)s.height * s.width;
    i64 total = (i64)count * s.channels * plane;
    GRID_STRIDE_LOOP(e, total)
    {
        int ix = (int)(e % s.width);
        i64 t = e / s.width;
        int iy = (int)(t % s.height);
        t /= s.height;
        int c = (int)(t % s.channels), b = (int)(t / s.channels);
        const T* image = cols + b * image_stride;
        T sum = 0;
        for (int ky = 0; ky < s.kernel_h; ++ky)
        {
            int ty = iy + s.pad_top - ky * s.dilation_h;
            if (ty < 0 || ty % s.stride_h != 0 || ty / s.stride_h >= s.out_h) continue;
            int oy = ty / s.stride_h;
            for (int kx = 0; kx < s.kernel_w; ++kx)
            {
                int tx = ix + s.pad_left - kx * s.dilation_w;
                if (tx < 0 || tx % s.stride_w != 0 || tx / s.stride_w >= s.out_w) continue;
                i64 r = ((i64)c * s.kernel_h + ky) * s.kernel_w + kx;
                sum += image[r * row_stride + (i64)oy * s.out_w + tx / s.stride_w];
            }
        }
        gx[e] = sum;
    }
}

#define CONV_SHAPE_PARAMS int channels, int height, int width, int kernel_h, int kernel_w, int stride_h, int stride_w, \
                          int dilation_h, int dilation_w, int pad_top, int pad_left, int out_h, int out_w
#define CONV_SHAPE conv_shape(channels, height, width, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, \
                              pad_top, pad_left, out_h, out_w)

#define DEFINE_CONV2D(T, S)                                                                                        \
extern "C" __global__ void conv_im2col_##S(const T* x, T* cols, int count, CONV_SHAPE_PARAMS, i64 row_stride,       \
                                           i64 image_stride)                                                       \
{ conv_im2col<T>(x, cols, count, CONV_SHAPE, row_stride, image_stride); }                                          \
extern "C" __global__ void conv_col2im_##S(const T* cols, T* gx, int count, CONV_SHAPE_PARAMS, i64 row_stride,      \
                                           i64 image_stride)                                                       \
{ conv_col2im<T>(cols, gx, count, CONV_SHAPE, row_stride, image_stride); }

DEFINE_CONV2D(float, f32)
DEFINE_CONV2D(double, f64)
