// Max pooling over contiguous (H, W) planes, F32 and F64, for MaxPool2d.Cuda.cs: the CPU's window walk, tie
// and NaN rule (the first maximum in row-major window order wins; a NaN wins and stays), one output per
// thread. The backward is a gather: each input element sums, in output order, the gradients of the outputs
// whose recorded index is that element, so it is written once, with no atomics, in the CPU's order.

__device__ __forceinline__ double negative_infinity() { return __longlong_as_double(0xfff0000000000000LL); }

// Floor of a / b for b > 0 and any a.
__device__ __forceinline__ int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

template <typename T>
__device__ void max_pool_forward(const T* x, T* y, i64* indices, i64 planes, int height, int width, int kernel_h,
                                 int kernel_w, int stride_h, int stride_w, int pad_h, int pad_w, int dilation_h,
                                 int dilation_w, int out_h, int out_w)
{
    GRID_STRIDE_LOOP(e, planes * out_h * out_w)
    {
        int ox = (int)(e % out_w);
        i64 t = e / out_w;
        int oy = (int)(t % out_h);
        const T* plane = x + t / out_h * height * width;
        int y0 = oy * stride_h - pad_h, x0 = ox * stride_w - pad_w;
        int y1 = min(y0 + (kernel_h - 1) * dilation_h + 1, height), x1 = min(x0 + (kernel_w - 1) * dilation_w + 1, width);
        while (y0 < 0) y0 += dilation_h;
        while (x0 < 0) x0 += dilation_w;
        // A dilated window of padding only gives -inf and index -1, as on the CPU.
        i64 best = y0 < y1 && x0 < x1 ? (i64)y0 * width + x0 : -1;
        T m = (T)negative_infinity();
        for (int iy = y0; iy < y1; iy += dilation_h)
            for (int ix = x0; ix < x1; ix += dilation_w)
            {
                i64 at = (i64)iy * width + ix;
                T v = plane[at];
                if (v > m || v != v) { m = v; best = at; }
            }
        y[e] = m;
        indices[e] = best;
    }
}

// gx[p, iy, ix] = Σ over the outputs o of plane p whose window can hold (iy, ix) and whose index is it, in
// output order, of gy[p, o].
template <typename T>
__device__ void max_pool_backward(const T* gy, const i64* indices, T* gx, i64 planes, int height, int width,
                                  int kernel_h, int kernel_w, int stride_h, int stride_w, int pad_h, int pad_w,
                                  int dilation_h, int dilation_w, int out_h, int out_w)
{
    GRID_STRIDE_LOOP(e, planes * height * width)
    {
        int ix = (int)(e % width);
        i64 t = e / width;
        int iy = (int)(t % height);
        i64 first = t / height * out_h * out_w;
        i64 at = (i64)iy * width + ix;
        // Window oy spans rows oy·sh − ph to oy·sh − ph + (kh − 1)·dh.
        int oy0 = max(0, -floor_div(-(iy + pad_h - (kernel_h - 1) * dilation_h), stride_h));
        int oy1 = min(out_h - 1, floor_div(iy + pad_h, stride_h));
        int ox0 = max(0, -floor_div(-(ix + pad_w - (kernel_w - 1) * dilation_w), stride_w));
        int ox1 = min(out_w - 1, floor_div(ix + pad_w, stride_w));
        T sum = 0;
        for (int oy = oy0; oy <= oy1; ++oy)
            for (int ox = ox0; ox <= ox1; ++ox)
            {
                i64 o = first + (i64)oy * out_w + ox;
                if (indices[o] == at) sum += gy[o];
            }
        gx[e] = sum;
    }
}

#define POOL_PARAMS i64 planes, int height, int width, int kernel_h, int kernel_w, int stride_h, int stride_w, \
                    int pad_h, int pad_w, int dilation_h, int dilation_w, int out_h, int out_w
#define POOL_ARGS planes, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, \
                  out_h, out_w

#define DEFINE_MAX_POOL(T, S)                                                                                       \
extern "C" __global__ void max_pool_forward_##S(const T* x, T* y, i64* indices, POOL_PARAMS)                       \
{ max_pool_forward<T>(x, y, indices, POOL_ARGS); }                                                                  \
extern "C" __global__ void max_pool_backward_##S(const T* gy, const i64* indices, T* gx, POOL_PARAMS)              \
{ max_pool_backward<T>(gy, indices, gx, POOL_ARGS); }

DEFINE_MAX_POOL(float, f32)
DEFINE_MAX_POOL(double, f64)
