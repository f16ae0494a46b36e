// Elementwise add and fill, F32 and F64: a contiguous fast path and a strided path for views.
// All loops are grid-stride, so any grid size covers every element.

#define DEFINE_ELEMENTWISE(T, SUFFIX)                                                                    \
extern "C" __global__ void add_contiguous_##SUFFIX(const T* a, const T* b, T* out, i64 n)                \
{                                                                                                        \
    GRID_STRIDE_LOOP(i, n) out[i] = a[i] + b[i];                                                         \
}                                                                                                        \
extern "C" __global__ void add_strided_##SUFFIX(const T* a, Strided la, const T* b, Strided lb,          \
                                                T* out, Strided lo, i64 n)                               \
{                                                                                                        \
    GRID_STRIDE_LOOP(i, n) out[strided_offset(lo, i)] = a[strided_offset(la, i)] + b[strided_offset(lb, i)]; \
}                                                                                                        \
extern "C" __global__ void fill_contiguous_##SUFFIX(T* out, T value, i64 n)                              \
{                                                                                                        \
    GRID_STRIDE_LOOP(i, n) out[i] = value;                                                               \
}                                                                                                        \
extern "C" __global__ void fill_strided_##SUFFIX(T* out, Strided lo, T value, i64 n)                     \
{                                                                                                        \
    GRID_STRIDE_LOOP(i, n) out[strided_offset(lo, i)] = value;                                           \
}

DEFINE_ELEMENTWISE(float, f32)
DEFINE_ELEMENTWISE(double, f64)
