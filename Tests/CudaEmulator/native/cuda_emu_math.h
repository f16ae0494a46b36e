// The CUDA math library and intrinsics for emulated kernels (included by cuda_emu_shim.h only).
// libm does the work (the module links -lm); the C++ float overloads forward to the f-suffixed functions,
// as CUDA's device math does. Fast-math intrinsics (__expf, __sinf, ...) return libm's accurate results: the
// emulator cannot reproduce the device's approximations (see the README's limits).
#ifndef CUDA_EMU_MATH_H
#define CUDA_EMU_MATH_H

#define __EMU_M1(name) extern "C" double name(double) noexcept; extern "C" float name##f(float) noexcept; \
    static __forceinline__ float name(float x) { return name##f(x); }
#define __EMU_M2(name) extern "C" double name(double, double) noexcept; extern "C" float name##f(float, float) noexcept; \
    static __forceinline__ float name(float x, float y) { return name##f(x, y); }
__EMU_M1(sqrt) __EMU_M1(cbrt) __EMU_M1(exp) __EMU_M1(exp2) __EMU_M1(exp10) __EMU_M1(expm1)
__EMU_M1(log) __EMU_M1(log2) __EMU_M1(log10) __EMU_M1(log1p) __EMU_M1(logb)
__EMU_M1(sin) __EMU_M1(cos) __EMU_M1(tan) __EMU_M1(asin) __EMU_M1(acos) __EMU_M1(atan)
__EMU_M1(sinh) __EMU_M1(cosh) __EMU_M1(tanh) __EMU_M1(asinh) __EMU_M1(acosh) __EMU_M1(atanh)
__EMU_M1(erf) __EMU_M1(erfc) __EMU_M1(lgamma) __EMU_M1(tgamma) __EMU_M1(fabs) __EMU_M1(floor) __EMU_M1(ceil)
__EMU_M1(trunc) __EMU_M1(round) __EMU_M1(rint) __EMU_M1(nearbyint) __EMU_M1(j0) __EMU_M1(j1) __EMU_M1(y0) __EMU_M1(y1)
__EMU_M2(pow) __EMU_M2(atan2) __EMU_M2(fmod) __EMU_M2(remainder) __EMU_M2(copysign) __EMU_M2(hypot)
__EMU_M2(fmin) __EMU_M2(fmax) __EMU_M2(fdim) __EMU_M2(nextafter)
#undef __EMU_M1
#undef __EMU_M2
extern "C" {
double fma(double, double, double) noexcept; float fmaf(float, float, float) noexcept;
double ldexp(double, int) noexcept; float ldexpf(float, int) noexcept;
double scalbn(double, int) noexcept; float scalbnf(float, int) noexcept;
double frexp(double, int*) noexcept; float frexpf(float, int*) noexcept;
double modf(double, double*) noexcept; float modff(float, float*) noexcept;
double remquo(double, double, int*) noexcept; float remquof(float, float, int*) noexcept;
int ilogb(double) noexcept; int ilogbf(float) noexcept;
long lround(double) noexcept; long lroundf(float) noexcept; long long llround(double) noexcept; long long llroundf(float) noexcept;
long lrint(double) noexcept; long lrintf(float) noexcept; long long llrint(double) noexcept; long long llrintf(float) noexcept;
void sincos(double, double*, double*) noexcept; void sincosf(float, float*, float*) noexcept;
double nan(const char*) noexcept; float nanf(const char*) noexcept;
int abs(int) noexcept; long labs(long) noexcept; long long llabs(long long) noexcept;
}
static __forceinline__ float fma(float x, float y, float z) { return fmaf(x, y, z); }
static __forceinline__ float ldexp(float x, int e) { return ldexpf(x, e); }
static __forceinline__ float scalbn(float x, int e) { return scalbnf(x, e); }
static __forceinline__ float frexp(float x, int* e) { return frexpf(x, e); }
static __forceinline__ float modf(float x, float* i) { return modff(x, i); }
static __forceinline__ int ilogb(float x) { return ilogbf(x); }
static __forceinline__ void sincos(float x, float* s, float* c) { sincosf(x, s, c); }
static __forceinline__ float abs(float x) { return fabsf(x); }
static __forceinline__ double abs(double x) { return fabs(x); }
static __forceinline__ long long abs(long long x) { return llabs(x); }

static __forceinline__ bool isnan(double x) { return __builtin_isnan(x); }
static __forceinline__ bool isnan(float x) { return __builtin_isnan(x); }
static __forceinline__ bool isinf(double x) { return __builtin_isinf(x); }
static __forceinline__ bool isinf(float x) { return __builtin_isinf(x); }
static __forceinline__ bool isfinite(double x) { return __builtin_isfinite(x); }
static __forceinline__ bool isfinite(float x) { return __builtin_isfinite(x); }
static __forceinline__ bool signbit(double x) { return __builtin_signbit(x); }
static __forceinline__ bool signbit(float x) { return __builtin_signbitf(x); }
static __forceinline__ int __isnan(double x) { return __builtin_isnan(x); }
static __forceinline__ int __isnanf(float x) { return __builtin_isnan(x); }
static __forceinline__ int __isinf(double x) { return __builtin_isinf(x); }
static __forceinline__ int __isinff(float x) { return __builtin_isinf(x); }
static __forceinline__ int __finite(double x) { return __builtin_isfinite(x); }
static __forceinline__ int __finitef(float x) { return __builtin_isfinite(x); }
static __forceinline__ int __signbit(double x) { return __builtin_signbit(x); }
static __forceinline__ int __signbitf(float x) { return __builtin_signbitf(x); }

// Functions CUDA has and libm does not.
static __forceinline__ double rsqrt(double x) { return 1.0 / sqrt(x); }
static __forceinline__ float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static __forceinline__ float rsqrt(float x) { return rsqrtf(x); }
static __forceinline__ double rcbrt(double x) { return 1.0 / cbrt(x); }
static __forceinline__ float rcbrtf(float x) { return 1.0f / cbrtf(x); }
static __forceinline__ double sinpi(double x) { return sin(3.141592653589793 * x); }
static __forceinline__ float sinpif(float x) { return (float)sin(3.141592653589793 * x); }
static __forceinline__ double cospi(double x) { return cos(3.141592653589793 * x); }
static __forceinline__ float cospif(float x) { return (float)cos(3.141592653589793 * x); }
static __forceinline__ void sincospi(double x, double* s, double* c) { *s = sinpi(x); *c = cospi(x); }
static __forceinline__ void sincospif(float x, float* s, float* c) { *s = sinpif(x); *c = cospif(x); }
static __forceinline__ double rhypot(double x, double y) { return 1.0 / hypot(x, y); }
static __forceinline__ float rhypotf(float x, float y) { return 1.0f / hypotf(x, y); }
static __forceinline__ double norm3d(double a, double b, double c) { return sqrt(a * a + b * b + c * c); }
static __forceinline__ float norm3df(float a, float b, float c) { return (float)norm3d(a, b, c); }
static __forceinline__ double rnorm3d(double a, double b, double c) { return 1.0 / norm3d(a, b, c); }
static __forceinline__ float rnorm3df(float a, float b, float c) { return (float)rnorm3d(a, b, c); }
static __forceinline__ double norm4d(double a, double b, double c, double d) { return sqrt(a * a + b * b + c * c + d * d); }
static __forceinline__ float norm4df(float a, float b, float c, float d) { return (float)norm4d(a, b, c, d); }
static __forceinline__ double normcdf(double x) { return 0.5 * erfc(-x * 0.7071067811865476); }
static __forceinline__ float normcdff(float x) { return (float)normcdf(x); }
// erfinv: Giles' approximation (2010), then two Newton steps on erf in double.
static inline double erfinv(double y)
{
    if (y <= -1.0) return y == -1.0 ? -__builtin_inf() : __builtin_nan("");
    if (y >= 1.0) return y == 1.0 ? __builtin_inf() : __builtin_nan("");
    double w = -log((1.0 - y) * (1.0 + y)), x;
    if (w < 5.0)
    {
        w -= 2.5;
        x = 2.81022636e-08; x = 3.43273939e-07 + x * w; x = -3.5233877e-06 + x * w; x = -4.39150654e-06 + x * w;
        x = 0.00021858087 + x * w; x = -0.00125372503 + x * w; x = -0.00417768164 + x * w; x = 0.246640727 + x * w;
        x = 1.50140941 + x * w;
    }
    else
    {
        w = sqrt(w) - 3.0;
        x = -0.000200214257; x = 0.000100950558 + x * w; x = 0.00134934322 + x * w; x = -0.00367342844 + x * w;
        x = 0.00573950773 + x * w; x = -0.0076224613 + x * w; x = 0.00943887047 + x * w; x = 1.00167406 + x * w;
        x = 2.83297682 + x * w;
    }
    x *= y;
    for (int i = 0; i < 2; ++i) x -= (erf(x) - y) / (1.1283791670955126 * exp(-x * x));
    return x;
}
static __forceinline__ float erfinvf(float y) { return (float)erfinv(y); }
static __forceinline__ float erfinv(float y) { return erfinvf(y); }
static inline double erfcinv(double y)
{
    if (y <= 0.0 || y >= 2.0) return y == 0.0 ? __builtin_inf() : y == 2.0 ? -__builtin_inf() : __builtin_nan("");
    if (y > 0.0625 && y < 1.9375) return erfinv(1.0 - y);
    double x = y < 1.0 ? erfinv(1.0 - y) : -erfinv(y - 1.0);   // a start; Newton on erfc keeps the tail's precision
    for (int i = 0; i < 4; ++i) x += (erfc(x) - y) / (1.1283791670955126 * exp(-x * x));
    return x;
}
static __forceinline__ float erfcinvf(float y) { return (float)erfcinv(y); }
static __forceinline__ double normcdfinv(double p) { return -1.4142135623730951 * erfcinv(2.0 * p); }
static __forceinline__ float normcdfinvf(float p) { return (float)normcdfinv(p); }

// min and max, as CUDA overloads them.
#define __EMU_MINMAX(T) \
    static __forceinline__ T min(T a, T b) { return a < b ? a : b; } static __forceinline__ T max(T a, T b) { return a > b ? a : b; }
__EMU_MINMAX(int) __EMU_MINMAX(unsigned) __EMU_MINMAX(long) __EMU_MINMAX(unsigned long) __EMU_MINMAX(long long)
__EMU_MINMAX(unsigned long long)
#undef __EMU_MINMAX
static __forceinline__ float min(float a, float b) { return fminf(a, b); }
static __forceinline__ float max(float a, float b) { return fmaxf(a, b); }
static __forceinline__ double min(double a, double b) { return fmin(a, b); }
static __forceinline__ double max(double a, double b) { return fmax(a, b); }
static __forceinline__ double min(float a, double b) { return fmin((double)a, b); }
static __forceinline__ double min(double a, float b) { return fmin(a, (double)b); }
static __forceinline__ double max(float a, double b) { return fmax((double)a, b); }
static __forceinline__ double max(double a, float b) { return fmax(a, (double)b); }
static __forceinline__ unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
static __forceinline__ unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
static __forceinline__ unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
static __forceinline__ unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
static __forceinline__ unsigned long long min(long long a, unsigned long long b) { return min((unsigned long long)a, b); }
static __forceinline__ unsigned long long min(unsigned long long a, long long b) { return min(a, (unsigned long long)b); }
static __forceinline__ unsigned long long max(long long a, unsigned long long b) { return max((unsigned long long)a, b); }
static __forceinline__ unsigned long long max(unsigned long long a, long long b) { return max(a, (unsigned long long)b); }

// ---- fast-math intrinsics (libm's accurate results) ----------------------------------------------------
static __forceinline__ float __expf(float x) { return expf(x); }
static __forceinline__ float __exp10f(float x) { return exp10f(x); }
static __forceinline__ float __logf(float x) { return logf(x); }
static __forceinline__ float __log2f(float x) { return log2f(x); }
static __forceinline__ float __log10f(float x) { return log10f(x); }
static __forceinline__ float __sinf(float x) { return sinf(x); }
static __forceinline__ float __cosf(float x) { return cosf(x); }
static __forceinline__ float __tanf(float x) { return tanf(x); }
static __forceinline__ void __sincosf(float x, float* s, float* c) { sincosf(x, s, c); }
static __forceinline__ float __powf(float x, float y) { return powf(x, y); }
static __forceinline__ float __fdividef(float x, float y) { return x / y; }
static __forceinline__ float __saturatef(float x) { return x >= 1.0f ? 1.0f : x > 0.0f ? x : 0.0f; }

// ---- IEEE operations with an explicit rounding: _rn is the default mode; the others switch MXCSR around
// one operation (volatile so that the compiler neither folds nor moves it). ----------------------------
#define __EMU_FE_RN 0x000
#define __EMU_FE_RD 0x400
#define __EMU_FE_RU 0x800
#define __EMU_FE_RZ 0xc00
// Operands are read from volatile copies after the mode switch and the result stored before it is
// switched back, so the compiler cannot move the operation out of the window.
#define __EMU_MODES(T, NAME, PARAMS, ...)                                                                 \
    static __forceinline__ T NAME##_rz PARAMS { return NAME##_mode_(__EMU_FE_RZ, __VA_ARGS__); }                  \
    static __forceinline__ T NAME##_ru PARAMS { return NAME##_mode_(__EMU_FE_RU, __VA_ARGS__); }                  \
    static __forceinline__ T NAME##_rd PARAMS { return NAME##_mode_(__EMU_FE_RD, __VA_ARGS__); }
#define __EMU_BINARY(T, NAME, OP)                                                                          \
    static __forceinline__ T NAME##_rn(T a, T b) { return a OP b; }                                        \
    static __noinline__ T NAME##_mode_(int mode, T a, T b)                                                 \
    { volatile T va = a, vb = b; int old = fegetround(); fesetround(mode); volatile T r = va OP vb; fesetround(old); return r; } \
    __EMU_MODES(T, NAME, (T a, T b), a, b)
#define __EMU_UNARY(T, NAME, EXPR)                                                                         \
    static __forceinline__ T NAME##_rn(T a) { return EXPR; }                                               \
    static __noinline__ T NAME##_mode_(int mode, T x)                                                      \
    { volatile T va = x; int old = fegetround(); fesetround(mode); T a = va; volatile T r = EXPR; fesetround(old); return r; } \
    __EMU_MODES(T, NAME, (T a), a)
#define __EMU_TERNARY(T, NAME, FN)                                                                         \
    static __forceinline__ T NAME##_rn(T a, T b, T c) { return FN(a, b, c); }                              \
    static __noinline__ T NAME##_mode_(int mode, T a, T b, T c)                                            \
    { volatile T va = a, vb = b, vc = c; int old = fegetround(); fesetround(mode); volatile T r = FN(va, vb, vc); fesetround(old); return r; } \
    __EMU_MODES(T, NAME, (T a, T b, T c), a, b, c)
__EMU_BINARY(float, __fadd, +) __EMU_BINARY(float, __fsub, -) __EMU_BINARY(float, __fmul, *) __EMU_BINARY(float, __fdiv, /)
__EMU_BINARY(double, __dadd, +) __EMU_BINARY(double, __dsub, -) __EMU_BINARY(double, __dmul, *) __EMU_BINARY(double, __ddiv, /)
__EMU_UNARY(float, __frcp, 1.0f / a) __EMU_UNARY(float, __fsqrt, sqrtf(a))
__EMU_UNARY(double, __drcp, 1.0 / a) __EMU_UNARY(double, __dsqrt, sqrt(a))
__EMU_TERNARY(float, __fmaf, fmaf) __EMU_TERNARY(double, __fma, fma)
#undef __EMU_BINARY
#undef __EMU_UNARY
#undef __EMU_TERNARY
#undef __EMU_MODES

// ---- bit casts -------------------------------------------------------------------------------------------
template <class To, class From> static __forceinline__ To __emu_bit_cast(From v) { To r; __builtin_memcpy(&r, &v, sizeof(To)); return r; }
static __forceinline__ int __float_as_int(float x) { return __emu_bit_cast<int>(x); }
static __forceinline__ unsigned __float_as_uint(float x) { return __emu_bit_cast<unsigned>(x); }
static __forceinline__ float __int_as_float(int x) { return __emu_bit_cast<float>(x); }
static __forceinline__ float __uint_as_float(unsigned x) { return __emu_bit_cast<float>(x); }
static __forceinline__ long long __double_as_longlong(double x) { return __emu_bit_cast<long long>(x); }
static __forceinline__ double __longlong_as_double(long long x) { return __emu_bit_cast<double>(x); }
static __forceinline__ int __double2hiint(double x) { return (int)(__double_as_longlong(x) >> 32); }
static __forceinline__ int __double2loint(double x) { return (int)__double_as_longlong(x); }
static __forceinline__ double __hiloint2double(int hi, int lo)
{
    return __longlong_as_double((long long)(((unsigned long long)(unsigned)hi << 32) | (unsigned)lo));
}

// ---- conversions: as the device, out-of-range values saturate and NaN gives 0 ---------------------------
#define __EMU_TO_INT(NAME, F, I, LO, HI)                                                                   \
    static __forceinline__ I __emu_sat_##NAME(F x)                                                         \
    { return x != x ? (I)0 : x <= (F)(LO) ? (I)(LO) : x >= (F)(HI) ? (I)(HI) : (I)x; }                     \
    static __forceinline__ I NAME##_rn(F x) { return __emu_sat_##NAME(__builtin_rint(x)); }                \
    static __forceinline__ I NAME##_rz(F x) { return __emu_sat_##NAME(__builtin_trunc(x)); }               \
    static __forceinline__ I NAME##_ru(F x) { return __emu_sat_##NAME(__builtin_ceil(x)); }                \
    static __forceinline__ I NAME##_rd(F x) { return __emu_sat_##NAME(__builtin_floor(x)); }
__EMU_TO_INT(__float2int, float, int, -2147483648.0, 2147483647.0)
__EMU_TO_INT(__float2uint, float, unsigned, 0.0, 4294967295.0)
__EMU_TO_INT(__float2ll, float, long long, -9223372036854775808.0, 9223372036854775807.0)
__EMU_TO_INT(__float2ull, float, unsigned long long, 0.0, 18446744073709551615.0)
__EMU_TO_INT(__double2int, double, int, -2147483648.0, 2147483647.0)
__EMU_TO_INT(__double2uint, double, unsigned, 0.0, 4294967295.0)
__EMU_TO_INT(__double2ll, double, long long, -9223372036854775808.0, 9223372036854775807.0)
__EMU_TO_INT(__double2ull, double, unsigned long long, 0.0, 18446744073709551615.0)
#undef __EMU_TO_INT
static __forceinline__ float __int2float_rn(int x) { return (float)x; }
static __forceinline__ float __uint2float_rn(unsigned x) { return (float)x; }
static __forceinline__ float __ll2float_rn(long long x) { return (float)x; }
static __forceinline__ float __ull2float_rn(unsigned long long x) { return (float)x; }
static __forceinline__ double __int2double_rn(int x) { return (double)x; }
static __forceinline__ double __uint2double_rn(unsigned x) { return (double)x; }
static __forceinline__ double __ll2double_rn(long long x) { return (double)x; }
static __forceinline__ double __ull2double_rn(unsigned long long x) { return (double)x; }
static __forceinline__ float __double2float_rn(double x) { return (float)x; }
static __noinline__ float __emu_d2f_mode(double x, int mode)
{ int old = fegetround(); fesetround(mode); volatile double v = x; volatile float r = (float)v; fesetround(old); return r; }
static __forceinline__ float __double2float_rz(double x) { return __emu_d2f_mode(x, __EMU_FE_RZ); }
static __forceinline__ float __double2float_ru(double x) { return __emu_d2f_mode(x, __EMU_FE_RU); }
static __forceinline__ float __double2float_rd(double x) { return __emu_d2f_mode(x, __EMU_FE_RD); }

// ---- integer intrinsics -----------------------------------------------------------------------------
static __forceinline__ int __popc(unsigned x) { return __builtin_popcount(x); }
static __forceinline__ int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static __forceinline__ int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
static __forceinline__ int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
static __forceinline__ int __ffs(int x) { return __builtin_ffs(x); }
static __forceinline__ int __ffsll(long long x) { return __builtin_ffsll(x); }
static __forceinline__ unsigned __brev(unsigned x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1); x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4); return __builtin_bswap32(x);
}
static __forceinline__ unsigned long long __brevll(unsigned long long x)
{
    return ((unsigned long long)__brev((unsigned)x) << 32) | __brev((unsigned)(x >> 32));
}
static __forceinline__ int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
static __forceinline__ unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
static __forceinline__ long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
static __forceinline__ unsigned long long __umul64hi(unsigned long long a, unsigned long long b)
{
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
static __forceinline__ int __mul24(int a, int b) { return (int)((unsigned)((a << 8) >> 8) * (unsigned)((b << 8) >> 8)); }
static __forceinline__ unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
static __forceinline__ unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s)
{
    return (unsigned)(((((unsigned long long)hi << 32) | lo) << (s & 31u)) >> 32);
}
static __forceinline__ unsigned __funnelshift_lc(unsigned lo, unsigned hi, unsigned s)
{
    return (unsigned)(((((unsigned long long)hi << 32) | lo) << (s < 32u ? s : 32u)) >> 32);
}
static __forceinline__ unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned s)
{
    return (unsigned)((((unsigned long long)hi << 32) | lo) >> (s & 31u));
}
static __forceinline__ unsigned __funnelshift_rc(unsigned lo, unsigned hi, unsigned s)
{
    return (unsigned)((((unsigned long long)hi << 32) | lo) >> (s < 32u ? s : 32u));
}
static __forceinline__ unsigned __byte_perm(unsigned x, unsigned y, unsigned s)
{
    unsigned long long v = ((unsigned long long)y << 32) | x;
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) r |= (unsigned)((v >> (8 * ((s >> (4 * i)) & 7u))) & 0xffu) << (8 * i);
    return r;
}
static __forceinline__ int __hadd(int a, int b) { return (int)(((long long)a + b) >> 1); }
static __forceinline__ int __rhadd(int a, int b) { return (int)(((long long)a + b + 1) >> 1); }
static __forceinline__ unsigned __uhadd(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a + b) >> 1); }
static __forceinline__ unsigned __urhadd(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a + b + 1) >> 1); }
static __forceinline__ unsigned __sad(int a, int b, unsigned c) { return c + (unsigned)(a > b ? a - b : b - a); }
static __forceinline__ unsigned __usad(unsigned a, unsigned b, unsigned c) { return c + (a > b ? a - b : b - a); }

#endif
