// Separable resize of contiguous (planes, H, W) data, forward and adjoint, F32 and F64, with the taps computed on
// the host (ResizeTaps.cs): along each axis output o reads inputs index[o·taps + k] with weights weight[o·taps + k].
// Every sum is the CPU's (Interpolate.Cpu.cs), term for term and in the same order, with the multiplications and
// additions rounded one by one in the tensor's type (__fmul_rn and friends, so that the compiler contracts nothing
// into a fused multiply-add): the two devices give the same bits.
// The adjoint is a gather, not a scatter: each input element adds the contributions it received in the forward,
// listed per input index on the host (start, taps_of), in the order the CPU adds them. No atomics.

__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

// y[p, oh, ow] = Σ_a wh_a · (Σ_b ww_b · x[p, ih_a, iw_b]): the inner sum is the CPU's pass along W, the outer its
// pass along H. One thread per output element.
template <typename T>
__device__ void interpolate_forward(const T* x, T* y, i64 planes, int in_h, int in_w, int out_h, int out_w,
                                    const i64* h_index, const T* h_weight, int h_taps,
                                    const i64* w_index, const T* w_weight, int w_taps)
{
    GRID_STRIDE_LOOP(e, planes * out_h * out_w)
    {
        int ow = (int)(e % out_w), oh = (int)(e / out_w % out_h);
        const T* plane = x + e / ((i64)out_h * out_w) * in_h * in_w;
        T sum = (T)0;
        for (int a = 0; a < h_taps; ++a)
        {
            const T* row = plane + h_index[oh * h_taps + a] * in_w;
            T inner = (T)0;
            for (int b = 0; b < w_taps; ++b)
                inner = add_rn(inner, mul_rn(w_weight[ow * w_taps + b], row[w_index[ow * w_taps + b]]));
            sum = add_rn(sum, mul_rn(h_weight[oh * h_taps + a], inner));
        }
        y[e] = sum;
    }
}

// Adjoint, pass 1 (along H): rows[p, ih, ow] = Σ wh_tap · g[p, oh(tap), ow] over the taps that read row ih. One
// thread per (p, ih, ow); adjacent threads read adjacent columns of g.
template <typename T>
__device__ void interpolate_backward_rows(const T* g, T* rows, i64 planes, int in_h, int out_h, int out_w,
                                          const T* h_weight, int h_taps, const i64* h_start, const i64* h_taps_of)
{
    GRID_STRIDE_LOOP(e, planes * in_h * out_w)
    {
        int ow = (int)(e % out_w), ih = (int)(e / out_w % in_h);
        const T* column = g + e / ((i64)in_h * out_w) * out_h * out_w + ow;
        T sum = (T)0;
        for (i64 k = h_start[ih]; k < h_start[ih + 1]; ++k)
        {
            i64 tap = h_taps_of[k];
            sum = add_rn(sum, mul_rn(h_weight[tap], column[tap / h_taps * out_w]));
        }
        rows[e] = sum;
    }
}

// Adjoint, pass 2 (along W): gx[p, ih, iw] = Σ rows[p, ih, ow(tap)] · ww_tap over the taps that read column iw.
template <typename T>
__device__ void interpolate_backward_columns(const T* rows, T* gx, i64 planes, int in_h, int in_w, int out_w,
                                             const T* w_weight, int w_taps, const i64* w_start, const i64* w_taps_of)
{
    GRID_STRIDE_LOOP(e, planes * in_h * in_w)
    {
        int iw = (int)(e % in_w);
        const T* row = rows + e / in_w * out_w;
        T sum = (T)0;
        for (i64 k = w_start[iw]; k < w_start[iw + 1]; ++k)
        {
            i64 tap = w_taps_of[k];
            sum = add_rn(sum, mul_rn(row[tap / w_taps], w_weight[tap]));
        }
        gx[e] = sum;
    }
}

#define DEFINE_INTERPOLATE(T, S)                                                                               \
extern "C" __global__ void interpolate_forward_##S(const T* x, T* y, i64 planes, int in_h, int in_w,           \
    int out_h, int out_w, const i64* h_index, const T* h_weight, int h_taps,                                   \
    const i64* w_index, const T* w_weight, int w_taps)                                                         \
{ interpolate_forward<T>(x, y, planes, in_h, in_w, out_h, out_w, h_index, h_weight, h_taps, w_index, w_weight, w_taps); } \
extern "C" __global__ void interpolate_backward_rows_##S(const T* g, T* rows, i64 planes, int in_h, int out_h,  \
    int out_w, const T* h_weight, int h_taps, const i64* h_start, const i64* h_taps_of)                        \
{ interpolate_backward_rows<T>(g, rows, planes, in_h, out_h, out_w, h_weight, h_taps, h_start, h_taps_of); }    \
extern "C" __global__ void interpolate_backward_columns_##S(const T* rows, T* gx, i64 planes, int in_h,         \
    int in_w, int out_w, const T* w_weight, int w_taps, const i64* w_start, const i64* w_taps_of)              \
{ interpolate_backward_columns<T>(rows, gx, planes, in_h, in_w, out_w, w_weight, w_taps, w_start, w_taps_of); }

DEFINE_INTERPOLATE(float, f32)
DEFINE_INTERPOLATE(double, f64)
