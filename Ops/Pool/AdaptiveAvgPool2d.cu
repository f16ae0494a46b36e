// Adaptive average pooling over contiguous (H, W) planes, F32 and F64, for AdaptiveAvgPool2d.Cuda.cs: output
// (i, j) averages rows floor(i·H/oH) to ceil((i+1)·H/oH) − 1 and the columns likewise (PyTorch's windows,
// which may overlap). One output per thread, summed in double. The backward is a gather: each input element
// adds, in output order, the shares g / count (in the tensor's type, as the CPU computes them) of the windows
// that hold it, so it is written once, with no atomics, with the CPU's bits.

__device__ __forceinline__ int window_start(int i, int input, int output) { return (int)((i64)i * input / output); }
__device__ __forceinline__ int window_end(int i, int input, int output) { return (int)(((i64)(i + 1) * input + output - 1) / output); }

template <typename T>
__device__ void adaptive_avg_pool_forward(const T* x, T* y, i64 planes, int height, int width, int out_h, int out_w)
{
    GRID_STRIDE_LOOP(e, planes * out_h * out_w)
    {
        int ox = (int)(e % out_w);
        i64 t = e / out_w;
        int oy = (int)(t % out_h);
        const T* plane = x + t / out_h * height * width;
        int y0 = window_start(oy, height, out_h), y1 = window_end(oy, height, out_h);
        int x0 = window_start(ox, width, out_w), x1 = window_end(ox, width, out_w);
        double sum = 0;
        for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) sum += (double)plane[(i64)iy * width + ix];
        y[e] = (T)((T)sum / (T)((y1 - y0) * (x1 - x0)));
    }
}

template <typename T>
__device__ void adaptive_avg_pool_backward(const T* gy, T* gx, i64 planes, int height, int width, int out_h, int out_w)
{
    GRID_STRIDE_LOOP(e, planes * height * width)
    {
        int ix = (int)(e % width);
        i64 t = e / width;
        int iy = (int)(t % height);
        const T* g = gy + t / height * out_h * out_w;
        // Windows that can hold row iy: those ending after it and starting at or before it; each is then checked.
        int oy0 = (int)((i64)iy * out_h / height), oy1 = min(out_h - 1, (int)(((i64)(iy + 1) * out_h + height - 1) / height) - 1);
        int ox0 = (int)((i64)ix * out_w / width), ox1 = min(out_w - 1, (int)(((i64)(ix + 1) * out_w + width - 1) / width) - 1);
        T sum = 0;
        for (int oy = oy0; oy <= oy1; ++oy)
        {
            int y0 = window_start(oy, height, out_h), y1 = window_end(oy, height, out_h);
            if (iy < y0 || iy >= y1) continue;
            for (int ox = ox0; ox <= ox1; ++ox)
            {
                int x0 = window_start(ox, width, out_w), x1 = window_end(ox, width, out_w);
                if (ix < x0 || ix >= x1) continue;
                sum += g[(i64)oy * out_w + ox] / (T)((y1 - y0) * (x1 - x0));
            }
        }
        gx[e] = sum;
    }
}

#define DEFINE_ADAPTIVE_AVG_POOL(T, S)                                                                              \
extern "C" __global__ void adaptive_avg_pool_forward_##S(const T* x, T* y, i64 planes, int height, int width,       \
                                                         int out_h, int out_w)                                      \
{ adaptive_avg_pool_forward<T>(x, y, planes, height, width, out_h, out_w); }                                        \
extern "C" __global__ void adaptive_avg_pool_backward_##S(const T* gy, T* gx, i64 planes, int height, int width,    \
                                                          int out_h, int out_w)                                     \
{ adaptive_avg_pool_backward<T>(gy, gx, planes, height, width, out_h, out_w); }

DEFINE_ADAPTIVE_AVG_POOL(float, f32)
DEFINE_ADAPTIVE_AVG_POOL(double, f64)
