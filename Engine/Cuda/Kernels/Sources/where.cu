// z = cond ? x : y over any strides (broadcast operands have stride 0), for the four dtypes.

#define DEFINE_WHERE(T, S)                                                                               \
extern "C" __global__ void where_##S(const u8* c, Strided lc, const T* x, Strided lx, const T* y, Strided ly, \
                                     T* z, Strided lz, i64 n)                                           \
{                                                                                                        \
    GRID_STRIDE_LOOP(i, n) z[strided_offset(lz, i)] = c[strided_offset(lc, i)] != 0 ? x[strided_offset(lx, i)] : y[strided_offset(ly, i)]; \
}

DEFINE_WHERE(float, f32)
DEFINE_WHERE(double, f64)
DEFINE_WHERE(i64, i64)
DEFINE_WHERE(u8, bool)
