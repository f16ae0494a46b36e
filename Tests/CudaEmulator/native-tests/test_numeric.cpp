// Known answers for the narrow-format roundings (emu_numeric.h): IEEE half and bfloat16 round to nearest
// even, TF32 rounds to nearest with ties away, subnormals and overflow as the hardware conversions.
#include "../native/emu_numeric.h"
#include "check.h"

#include <cmath>

using namespace emu::num;

void test_numeric()
{
    auto h = [](double x) { return (int)to_half(x); };
    CHECK(h(1.0) == 0x3C00, "1 in half");
    CHECK(h(-2.0) == 0xC000, "-2 in half");
    CHECK(h(65504.0) == 0x7BFF, "largest half");
    CHECK(h(65519.0) == 0x7BFF, "just below the overflow threshold rounds down");
    CHECK(h(65520.0) == 0x7C00, "the tie above the largest half overflows to infinity (even)");
    CHECK(h(std::ldexp(1.0, -24)) == 0x0001, "smallest subnormal");
    CHECK(h(std::ldexp(1.0, -25)) == 0x0000, "half the smallest subnormal ties to even zero");
    CHECK(h(3 * std::ldexp(1.0, -25)) == 0x0002, "1.5 subnormal quanta tie to 2");
    CHECK(h(1 + std::ldexp(1.0, -11)) == 0x3C00, "tie between 1 and its successor goes to even");
    CHECK(h(1 + 3 * std::ldexp(1.0, -11)) == 0x3C02, "tie between odd and even mantissa goes up to even");
    CHECK(h(std::ldexp(1.0, -14)) == 0x0400, "smallest normal half");
    CHECK(std::isnan(from_half(h(NAN))), "NaN stays NaN");
    CHECK(from_half(0x3555) == (1 + 0x155 / 1024.0) * 0.25, "0x3555 decodes (exponent -2, fraction 0x155)");
    CHECK(from_half(0x0001) == std::ldexp(1.0, -24), "subnormal decodes");
    CHECK(std::isinf(from_half(0xFC00)) && from_half(0xFC00) < 0, "-inf decodes");
    for (int bits = 0; bits < 0x7C00; bits += 7)  // every 7th finite positive half survives a round trip
        if (h(from_half((std::uint16_t)bits)) != bits) { CHECK(false, "half round trip of " + std::to_string(bits)); break; }

    auto b = [](double x) { return (int)to_bf16(x); };
    CHECK(b(1.0) == 0x3F80, "1 in bfloat16");
    CHECK(b(1 + std::ldexp(1.0, -8)) == 0x3F80, "bf16 tie to even (down)");
    CHECK(b(1 + 3 * std::ldexp(1.0, -8)) == 0x3F82, "bf16 tie to even (up)");
    CHECK(from_bf16(0xC040) == -3.0, "bf16 decodes");

    CHECK(to_tf32(1.0f + std::ldexp(1.0f, -11)) == 1.0f + std::ldexp(1.0f, -10), "TF32 ties away from zero");
    CHECK(to_tf32(-(1.0f + std::ldexp(1.0f, -11))) == -(1.0f + std::ldexp(1.0f, -10)), "TF32 ties away from zero, negative");
    CHECK(to_tf32(1.0f + std::ldexp(1.0f, -12)) == 1.0f, "TF32 rounds below the tie down");
    CHECK(to_tf32(1.0f + 3 * std::ldexp(1.0f, -12)) == 1.0f + std::ldexp(1.0f, -10), "TF32 rounds above the tie up");
    CHECK(std::isinf(to_tf32(3.4028235e38f)), "the largest float rounds past TF32's largest");

    // The contraction barrier: with FMA, (a*b) - 1 would keep the 2^-24 that the rounded product drops.
    volatile float va = 1.0f + std::ldexp(1.0f, -12);
    float a = va;
    float r = no_contract(a * a) - 1.0f;
    CHECK(r == std::ldexp(1.0f, -11), "no_contract keeps the product rounded");
}
