// Floating-point helpers shared by the cuBLAS and cuFFT emulations: rounding to the narrow formats the
// libraries use (half, bfloat16, TF32) and a barrier that keeps the compiler from fusing a multiply and an
// add into an FMA, whatever -ffp-contract or -march the build uses.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace emu::num {

// An empty asm that claims to modify `v`: the compiler can no longer see that the value is a product, so
// it cannot contract `acc + no_contract(a * b)` into an FMA. It costs nothing at run time. (GCC ignores
// `#pragma STDC FP_CONTRACT OFF`, and the library's build flags are not ours to rely on.)
template <class T>
inline T no_contract(T v)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    asm("" : "+x"(v));
#elif defined(__GNUC__)
    asm("" : "+w"(v));
#else
    volatile T keep = v;
    v = keep;
#endif
    return v;
}

// A binary floating-point format with `fraction` explicit mantissa bits, the smallest normal exponent
// `min_exp` and the largest finite exponent `max_exp`.
struct Format
{
    int fraction;
    int min_exp;
    int max_exp;
};

constexpr Format kHalf{10, -14, 15};
constexpr Format kBf16{7, -126, 127};
constexpr Format kTf32{10, -126, 127};

// Rounds x (any double) to the nearest value of format f: ties to even when ties_away is false (IEEE
// conversions), ties away from zero when true (cvt.rna.tf32.f32, which tensor cores use for TF32).
// Subnormals of the format are honoured; a value that rounds past the largest finite one becomes
// infinity, as a hardware conversion does. NaN and infinities pass through. One rounding, exact scaling:
// the quantum is a power of two, so x / quantum and the product back are exact.
inline double round_to(double x, Format f, bool ties_away = false)
{
    if (!std::isfinite(x) || x == 0) return x;
    int e;
    std::frexp(x, &e);            // |x| = m * 2^e with m in [0.5, 1): the leading bit has exponent e - 1
    int lead = e - 1;
    if (lead < f.min_exp) lead = f.min_exp;
    double quantum = std::ldexp(1.0, lead - f.fraction);
    double scaled = x / quantum;
    double q = ties_away ? std::round(scaled) : std::nearbyint(scaled);
    double r = q * quantum;
    if (std::fabs(r) >= std::ldexp(1.0, f.max_exp + 1)) return std::copysign(INFINITY, x);
    return r;
}

// IEEE binary16 bits of a value that is already exactly representable as a half (after round_to(kHalf)).
inline std::uint16_t half_bits_of_exact(double r)
{
    std::uint16_t sign = std::signbit(r) ? 0x8000 : 0;
    if (std::isnan(r)) return static_cast<std::uint16_t>(sign | 0x7E00);
    double a = std::fabs(r);
    if (std::isinf(a)) return static_cast<std::uint16_t>(sign | 0x7C00);
    if (a < std::ldexp(1.0, -14))  // subnormal (or zero): a multiple of 2^-24
        return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::ldexp(a, 24)));
    int e;
    double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
    int biased = e - 1 + 15;
    auto fraction = static_cast<std::uint16_t>(std::ldexp(m, 11) - 1024);
    return static_cast<std::uint16_t>(sign | (biased << 10) | fraction);
}

inline std::uint16_t to_half(double x) { return half_bits_of_exact(round_to(x, kHalf)); }

inline double from_half(std::uint16_t h)
{
    int biased = (h >> 10) & 0x1F;
    int fraction = h & 0x3FF;
    double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (biased == 0x1F) return fraction ? std::copysign(NAN, sign) : sign * INFINITY;
    if (biased == 0) return sign * std::ldexp(fraction, -24);
    return sign * std::ldexp(1024 + fraction, biased - 25);
}

inline std::uint16_t to_bf16(double x)
{
    double r = round_to(x, kBf16);
    if (std::isnan(r)) return static_cast<std::uint16_t>(std::signbit(r) ? 0xFFC0 : 0x7FC0);
    float f = static_cast<float>(r);  // exact: every bfloat16 value is a float
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    return static_cast<std::uint16_t>(bits >> 16);
}

inline double from_bf16(std::uint16_t b)
{
    std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// TF32 keeps float's exponent and 10 of its 23 fraction bits; the result is still stored in a float.
inline float to_tf32(float x) { return static_cast<float>(round_to(x, kTf32, true)); }

} // namespace emu::num
