// Fills and copies with dtype conversion over any strides, for the four dtypes (f32, f64, i64, and bool for
// Bool, stored as one byte 0/1). One kernel per (source, destination) pair, named copy_<src>_<dst>. The
// conversions are the CPU's (Engine/Cpu/ElementwiseKernels.cs, CopyLoop): to Bool, any non-zero value
// (NaN included) is true; to i64, floating point values saturate and NaN gives 0, as .NET's
// CreateSaturating does (a bare C cast is undefined out of range).

__device__ __forceinline__ void convert(double v, double* out) { *out = v; }
__device__ __forceinline__ void convert(double v, float* out) { *out = (float)v; }
__device__ __forceinline__ void convert(double v, u8* out) { *out = v != 0.0 ? 1 : 0; }
__device__ __forceinline__ void convert(double v, i64* out)
{
    *out = v != v ? 0 : v >= 9223372036854775807.0 ? (i64)0x7fffffffffffffffLL
         : v <= -9223372036854775808.0 ? (i64)(-0x7fffffffffffffffLL - 1) : (i64)v;
}
// From i64 the value goes straight to the destination type: through double it would lose bits above 2^53.
__device__ __forceinline__ void convert(i64 v, i64* out) { *out = v; }
__device__ __forceinline__ void convert(i64 v, double* out) { *out = (double)v; }
__device__ __forceinline__ void convert(i64 v, float* out) { *out = (float)v; }
__device__ __forceinline__ void convert(i64 v, u8* out) { *out = v != 0 ? 1 : 0; }
// f32 to f32 and u8 to u8 must copy bits exactly (a NaN payload, a negative zero).
__device__ __forceinline__ void convert(float v, float* out) { *out = v; }
__device__ __forceinline__ void convert(float v, double* out) { *out = (double)v; }
__device__ __forceinline__ void convert(float v, i64* out) { convert((double)v, out); }
__device__ __forceinline__ void convert(float v, u8* out) { *out = v != 0.0f ? 1 : 0; }
__device__ __forceinline__ void convert(u8 v, u8* out) { *out = v != 0 ? 1 : 0; }
__device__ __forceinline__ void convert(u8 v, float* out) { *out = v != 0 ? 1.0f : 0.0f; }
__device__ __forceinline__ void convert(u8 v, double* out) { *out = v != 0 ? 1.0 : 0.0; }
__device__ __forceinline__ void convert(u8 v, i64* out) { *out = v != 0 ? 1 : 0; }

#define DEFINE_COPY(TS, S, TD, D)                                                                        \
extern "C" __global__ void copy_##S##_##D(const TS* src, Strided ls, TD* dst, Strided ld, i64 n)        \
{                                                                                                        \
    GRID_STRIDE_LOOP(i, n) convert(src[strided_offset(ls, i)], &dst[strided_offset(ld, i)]);             \
}

#define DEFINE_COPIES_FROM(TS, S)   \
    DEFINE_COPY(TS, S, float, f32)  \
    DEFINE_COPY(TS, S, double, f64) \
    DEFINE_COPY(TS, S, i64, i64)    \
    DEFINE_COPY(TS, S, u8, bool)

DEFINE_COPIES_FROM(float, f32)
DEFINE_COPIES_FROM(double, f64)
DEFINE_COPIES_FROM(i64, i64)
DEFINE_COPIES_FROM(u8, bool)

// The value arrives as the destination's own type, so an i64 fill is exact beyond 2^53.
#define DEFINE_FILL(T, D)                                                                                \
extern "C" __global__ void fill_##D(T* dst, Strided ld, T value, i64 n)                                 \
{                                                                                                        \
    GRID_STRIDE_LOOP(i, n) dst[strided_offset(ld, i)] = value;                                           \
}

DEFINE_FILL(float, f32)
DEFINE_FILL(double, f64)
DEFINE_FILL(i64, i64)
DEFINE_FILL(u8, bool)
