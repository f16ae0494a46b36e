// Softmax and log-softmax along one axis, forward and backward, F32 and F64, on contiguous data seen as
// (outer, n, inner) around the axis. The CPU's stable formula (Softmax.Cpu.cs): the maximum first, then
// exp(x - max) summed, then a division (softmax) or the log of the sum subtracted (log-softmax). Differences and
// exponentials are taken in the tensor's type, as on the CPU; sums in double. A NaN anywhere in a row makes the
// whole row NaN, since the maximum propagates it as the CPU's does.
// Two layouts: the last axis (inner == 1) goes a warp per row, the lanes striding the row; any other axis (or a last
// axis of a few elements, where most lanes would idle) goes a thread per (outer, inner) column walking the axis with
// stride inner, adjacent threads on adjacent columns so that every step of the walk is one coalesced read. Each sum has a fixed order (a lane's or a thread's own
// stride, then the warp's butterfly), so the same input gives the same bits on every run.

__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }

// The larger of m and v, NaN winning whichever side it is on, as the CPU's maximum.
template <typename T>
__device__ __forceinline__ T max_nan(T m, T v) { return (v > m || v != v) ? v : m; }

// The maximum over the warp's lanes (NaN winning); every lane gets it. All 32 lanes must call it.
template <typename T>
__device__ __forceinline__ T warp_max_nan(T v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = max_nan(v, __shfl_xor_sync(FULL_WARP, v, offset));
    return v;
}

// y = softmax or log_softmax of each contiguous row of n.
template <typename T>
__device__ void softmax_rows_forward(const T* x, T* y, i64 rows, int n, int logarithm)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(r, rows)
    {
        const T* xr = x + r * n;
        T* yr = y + r * n;
        T m = xr[0];
        for (int i = lane; i < n; i += 32) m = max_nan(m, xr[i]);
        m = warp_max_nan(m);
        double s = 0;
        for (int i = lane; i < n; i += 32) s += (double)exp_of((T)(xr[i] - m));
        s = warp_sum(s);
        if (logarithm)
        {
            double ls = log(s);
            for (int i = lane; i < n; i += 32) yr[i] = (T)((double)(T)(xr[i] - m) - ls);
        }
        else
        {
            for (int i = lane; i < n; i += 32) yr[i] = (T)((double)exp_of((T)(xr[i] - m)) / s);
        }
    }
}

// The same along an axis with stride inner: one thread per (outer, inner) column.
template <typename T>
__device__ void softmax_columns_forward(const T* x, T* y, i64 outer, int n, i64 inner, int logarithm)
{
    GRID_STRIDE_LOOP(c, outer * inner)
    {
        i64 at = c / inner * n * inner + c % inner;
        const T* xc = x + at;
        T* yc = y + at;
        T m = xc[0];
        for (int d = 1; d < n; ++d) m = max_nan(m, xc[d * inner]);
        double s = 0;
        for (int d = 0; d < n; ++d) s += (double)exp_of((T)(xc[d * inner] - m));
        if (logarithm)
        {
            double ls = log(s);
            for (int d = 0; d < n; ++d) yc[d * inner] = (T)((double)(T)(xc[d * inner] - m) - ls);
        }
        else
        {
            for (int d = 0; d < n; ++d) yc[d * inner] = (T)((double)exp_of((T)(xc[d * inner] - m)) / s);
        }
    }
}

// Softmax: gx = y·(g - Σ g·y). Log-softmax: gx = g - exp(y)·Σ g. A warp per contiguous row.
template <typename T>
__device__ void softmax_rows_backward(const T* g, const T* y, T* gx, i64 rows, int n, int logarithm)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(r, rows)
    {
        const T* gr = g + r * n;
        const T* yr = y + r * n;
        T* o = gx + r * n;
        double s = 0;
        for (int i = lane; i < n; i += 32) s += logarithm ? (double)gr[i] : (double)gr[i] * (double)yr[i];
        s = warp_sum(s);
        for (int i = lane; i < n; i += 32)
            o[i] = logarithm ? (T)((double)gr[i] - (double)exp_of(yr[i]) * s) : (T)(((double)gr[i] - s) * (double)yr[i]);
    }
}

// The same along an axis with stride inner: one thread per (outer, inner) column.
template <typename T>
__device__ void softmax_columns_backward(const T* g, const T* y, T* gx, i64 outer, int n, i64 inner, int logarithm)
{
    GRID_STRIDE_LOOP(c, outer * inner)
    {
        i64 at = c / inner * n * inner + c % inner;
        const T* gc = g + at;
        const T* yc = y + at;
        T* o = gx + at;
        double s = 0;
        for (int d = 0; d < n; ++d) s += logarithm ? (double)gc[d * inner] : (double)gc[d * inner] * (double)yc[d * inner];
        for (int d = 0; d < n; ++d)
        {
            double gv = (double)gc[d * inner];
            o[d * inner] = logarithm ? (T)(gv - (double)exp_of(yc[d * inner]) * s) : (T)((gv - s) * (double)yc[d * inner]);
        }
    }
}

#define DEFINE_SOFTMAX(T, S)                                                                                   \
extern "C" __global__ void softmax_rows_forward_##S(const T* x, T* y, i64 rows, int n, int logarithm)          \
{ softmax_rows_forward<T>(x, y, rows, n, logarithm); }                                                         \
extern "C" __global__ void softmax_columns_forward_##S(const T* x, T* y, i64 outer, int n, i64 inner,          \
                                                       int logarithm)                                          \
{ softmax_columns_forward<T>(x, y, outer, n, inner, logarithm); }                                              \
extern "C" __global__ void softmax_rows_backward_##S(const T* g, const T* y, T* gx, i64 rows, int n,           \
                                                     int logarithm)                                            \
{ softmax_rows_backward<T>(g, y, gx, rows, n, logarithm); }                                                    \
extern "C" __global__ void softmax_columns_backward_##S(const T* g, const T* y, T* gx, i64 outer, int n,       \
                                                        i64 inner, int logarithm)                              \
{ softmax_columns_backward<T>(g, y, gx, outer, n, inner, logarithm); }

DEFINE_SOFTMAX(float, f32)
DEFINE_SOFTMAX(double, f64)
