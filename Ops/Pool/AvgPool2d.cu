// Average pooling over contiguous (H, W) planes, F32 and F64, for AvgPool2d.Cuda.cs, with the CPU's (and
// PyTorch's) windows and divisors: a window is clipped to the padded input for count_include_pad and to the
// input otherwise, and a divisor override replaces both. The forward gives each output to one thread, which
// sums its window in double. The backward is a gather: each input element adds, in output order, the shares
// g / divisor (in the tensor's type, as the CPU computes them) of the windows that hold it, so it is
// written once, with no atomics, with the CPU's bits.

struct AvgWindow { int y0, y1, x0, x1, divisor; };

__device__ __forceinline__ AvgWindow avg_window(int oy, int ox, int height, int width, int kernel_h, int kernel_w,
                                                int stride_h, int stride_w, int pad_h, int pad_w,
                                                int count_include_pad, int divisor_override)
{
    int y0 = oy * stride_h - pad_h, x0 = ox * stride_w - pad_w;
    int y1 = min(y0 + kernel_h, height + pad_h), x1 = min(x0 + kernel_w, width + pad_w);
    int padded = (y1 - y0) * (x1 - x0);
    AvgWindow w;
    w.y0 = max(y0, 0); w.x0 = max(x0, 0);
    w.y1 = min(y1, height); w.x1 = min(x1, width);
    w.divisor = divisor_override != 0 ? divisor_override : count_include_pad ? padded : (w.y1 - w.y0) * (w.x1 - w.x0);
    return w;
}

// Floor of a / b for b > 0 and any a.
__device__ __forceinline__ int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

#define AVG_SHAPE height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, count_include_pad, divisor_override

template <typename T>
__device__ void avg_pool_forward(const T* x, T* y, i64 planes, int height, int width, int kernel_h, int kernel_w,
                                 int stride_h, int stride_w, int pad_h, int pad_w, int count_include_pad,
                                 int divisor_override, int out_h, int out_w)
{
    GRID_STRIDE_LOOP(e, planes * out_h * out_w)
    {
        int ox = (int)(e % out_w);
        i64 t = e / out_w;
        int oy = (int)(t % out_h);
        const T* plane = x + t / out_h * height * width;
        AvgWindow w = avg_window(oy, ox, AVG_SHAPE);
        if (w.y0 >= w.y1 || w.x0 >= w.x1) { y[e] = 0; continue; }
        double sum = 0;
        for (int iy = w.y0; iy < w.y1; ++iy)
            for (int ix = w.x0; ix < w.x1; ++ix) sum += (double)plane[(i64)iy * width + ix];
        y[e] = (T)((T)sum / (T)w.divisor);
    }
}

template <typename T>
__device__ void avg_pool_backward(const T* gy, T* gx, i64 planes, int height, int width, int kernel_h, int kernel_w,
                                  int stride_h, int stride_w, int pad_h, int pad_w, int count_include_pad,
                                  int divisor_override, int out_h, int out_w)
{
    GRID_STRIDE_LOOP(e, planes * height * width)
    {
        int ix = (int)(e % width);
        i64 t = e / width;
        int iy = (int)(t % height);
        const T* g = gy + t / height * out_h * out_w;
        // Window oy starts at oy·sh − ph and holds kh rows: the candidates, each then checked against its clipped window.
        int oy0 = max(0, floor_div(iy + pad_h - kernel_h, stride_h) + 1), oy1 = min(out_h - 1, floor_div(iy + pad_h, stride_h));
        int ox0 = max(0, floor_div(ix + pad_w - kernel_w, stride_w) + 1), ox1 = min(out_w - 1, floor_div(ix + pad_w, stride_w));
        T sum = 0;
        for (int oy = oy0; oy <= oy1; ++oy)
            for (int ox = ox0; ox <= ox1; ++ox)
            {
                AvgWindow w = avg_window(oy, ox, AVG_SHAPE);
                if (iy < w.y0 || iy >= w.y1 || ix < w.x0 || ix >= w.x1) continue;
                sum += g[(i64)oy * out_w + ox] / (T)w.divisor;
            }
        gx[e] = sum;
    }
}

#define AVG_POOL_PARAMS i64 planes, int height, int width, int kernel_h, int kernel_w, int stride_h, int stride_w, \
                        int pad_h, int pad_w, int count_include_pad, int divisor_override, int out_h, int out_w
#define AVG_POOL_ARGS planes, AVG_SHAPE, out_h, out_w

#define DEFINE_AVG_POOL(T, S)                                                                                       \
extern "C" __global__ void avg_pool_forward_##S(const T* x, T* y, AVG_POOL_PARAMS)                                 \
{ avg_pool_forward<T>(x, y, AVG_POOL_ARGS); }                                                                       \
extern "C" __global__ void avg_pool_backward_##S(const T* gy, T* gx, AVG_POOL_PARAMS)                              \
{ avg_pool_backward<T>(gy, gx, AVG_POOL_ARGS); }

DEFINE_AVG_POOL(float, f32)
DEFINE_AVG_POOL(double, f64)
