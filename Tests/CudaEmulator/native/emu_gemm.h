// The arithmetic of the cuBLAS emulation: C = α·op(A)·op(B) + β·C, column-major, over a strided batch.
// Arguments are checked by the caller (cuda_emu_blas.cpp); this only computes.
//
// Each element of C is one dot product accumulated in the compute type, k ascending, every product and
// every sum rounded separately (no FMA), then t = α·acc (+ β·C when β ≠ 0). So results are deterministic
// and match a naive loop in the compute type bit for bit. β = 0 never reads C; α = 0 or k = 0 never reads
// A or B, so NaN poison in an unread operand cannot leak.
#pragma once

#include "emu_numeric.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace emu::gemm {

enum class Elem { F32, F64, F16, BF16 };           // cudaDataType R_32F, R_64F, R_16F, R_16BF
enum class Compute { F32, F64, F16 };              // what the sums are rounded to (and α, β's type)
enum class InputRounding { None, Tf32, Half, Bf16 }; // applied to A and B elements before multiplying

inline std::size_t elem_size(Elem e) { return e == Elem::F64 ? 8 : e == Elem::F32 ? 4 : 2; }
inline std::size_t scalar_size(Compute c) { return c == Compute::F64 ? 8 : c == Compute::F32 ? 4 : 2; }

inline double load(Elem e, const void* p)
{
    switch (e)
    {
    case Elem::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case Elem::F64: { double v; std::memcpy(&v, p, 8); return v; }
    case Elem::F16: { std::uint16_t v; std::memcpy(&v, p, 2); return num::from_half(v); }
    default: { std::uint16_t v; std::memcpy(&v, p, 2); return num::from_bf16(v); }
    }
}

// v is already a value of the compute type; storing rounds it once to the element type (to nearest even).
inline void store(Elem e, void* p, double v)
{
    switch (e)
    {
    case Elem::F32: { auto f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
    case Elem::F64: std::memcpy(p, &v, 8); break;
    case Elem::F16: { std::uint16_t h = num::to_half(v); std::memcpy(p, &h, 2); break; }
    default: { std::uint16_t b = num::to_bf16(v); std::memcpy(p, &b, 2); break; }
    }
}

inline double load_scalar(const void* p, Compute c)
{
    return load(c == Compute::F64 ? Elem::F64 : c == Compute::F32 ? Elem::F32 : Elem::F16, p);
}

struct Matrix
{
    std::uintptr_t base;
    Elem type;
    long long ld;
    long long stride;  // elements between batch members; 0 broadcasts
};

struct Problem
{
    bool transa, transb;  // op T and op C are the same for real types
    long long m, n, k;
    double alpha, beta;   // values of the compute type
    Matrix a, b, c;
    long long batch;
    Compute compute;
    InputRounding rounding;
};

// The compute types: T holds a value, mul and add round as the compute type does.
struct Arith32
{
    using T = float;
    static T mul(T x, T y) { return num::no_contract(x * y); }
    static T add(T x, T y) { return x + y; }
};

struct Arith64
{
    using T = double;
    static T mul(T x, T y) { return num::no_contract(x * y); }
    static T add(T x, T y) { return x + y; }
};

// Half accumulation: a product or sum of two halves is exact in double, so rounding it to half afterwards
// is the one correct rounding the hardware does.
struct Arith16
{
    using T = double;
    static T mul(T x, T y) { return num::round_to(x * y, num::kHalf); }
    static T add(T x, T y) { return num::round_to(x + y, num::kHalf); }
};

inline double round_input(double v, InputRounding r)
{
    switch (r)
    {
    case InputRounding::Tf32: return num::to_tf32(static_cast<float>(v));
    case InputRounding::Half: return num::round_to(v, num::kHalf);
    case InputRounding::Bf16: return num::round_to(v, num::kBf16);
    default: return v;
    }
}

inline const void* at(const Matrix& x, long long member, long long offset)
{
    return reinterpret_cast<const void*>(x.base + (member * x.stride + offset) * static_cast<long long>(elem_size(x.type)));
}

template <class A>
void run(const Problem& p)
{
    using T = typename A::T;
    const long long m = p.m, n = p.n, k = p.k;
    const bool reads_ab = p.alpha != 0 && k > 0;
    const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
    // op(A) packed row by row and op(B) column by column, in the compute type, so each dot product walks
    // two contiguous arrays.
    std::vector<T> pa(reads_ab ? m * k : 0), pb(reads_ab ? k * n : 0);

    for (long long b = 0; b < p.batch; b++)
    {
        if (reads_ab && (b == 0 || p.a.stride != 0))
            for (long long i = 0; i < m; i++)
                for (long long l = 0; l < k; l++)
                    pa[i * k + l] = static_cast<T>(round_input(load(p.a.type, at(p.a, b, p.transa ? l + i * p.a.ld : i + l * p.a.ld)), p.rounding));
        if (reads_ab && (b == 0 || p.b.stride != 0))
            for (long long j = 0; j < n; j++)
                for (long long l = 0; l < k; l++)
                    pb[j * k + l] = static_cast<T>(round_input(load(p.b.type, at(p.b, b, p.transb ? j + l * p.b.ld : l + j * p.b.ld)), p.rounding));

        for (long long j0 = 0; j0 < n; j0 += 4)
        {
            const int width = static_cast<int>(std::min<long long>(4, n - j0));
            for (long long i = 0; i < m; i++)
            {
                // Up to four columns at once: independent sums, each still in k order.
                T acc[4] = {0, 0, 0, 0};
                if (reads_ab)
                {
                    const T* ar = pa.data() + i * k;
                    if (width == 4)
                    {
                        const T *b0 = pb.data() + j0 * k, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
                        for (long long l = 0; l < k; l++)
                        {
                            T x = ar[l];
                            acc[0] = A::add(acc[0], A::mul(x, b0[l]));
                            acc[1] = A::add(acc[1], A::mul(x, b1[l]));
                            acc[2] = A::add(acc[2], A::mul(x, b2[l]));
                            acc[3] = A::add(acc[3], A::mul(x, b3[l]));
                        }
                    }
                    else
                        for (int w = 0; w < width; w++)
                        {
                            const T* bc = pb.data() + (j0 + w) * k;
                            for (long long l = 0; l < k; l++) acc[w] = A::add(acc[w], A::mul(ar[l], bc[l]));
                        }
                }
                for (int w = 0; w < width; w++)
                {
                    void* c = const_cast<void*>(at(p.c, b, i + (j0 + w) * p.c.ld));
                    T t = reads_ab ? A::mul(alpha, acc[w]) : T(0);
                    if (p.beta != 0)
                    {
                        T old = A::mul(beta, static_cast<T>(load(p.c.type, c)));
                        t = reads_ab ? A::add(t, old) : old;
                    }
                    store(p.c.type, c, t);
                }
            }
        }
    }
}

inline void execute(const Problem& p)
{
    switch (p.compute)
    {
    case Compute::F32: run<Arith32>(p); break;
    case Compute::F64: run<Arith64>(p); break;
    case Compute::F16: run<Arith16>(p); break;
    }
}

} // namespace emu::gemm
