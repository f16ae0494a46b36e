// The arithmetic of the cuFFT emulation: unnormalised discrete Fourier transforms in double precision over
// dense row-major arrays, one axis at a time (the multi-dimensional DFT is separable). Layouts, checks and
// the conversion to and from float live in cuda_emu_fft.cpp.
//
// Lengths up to 16 and those that are not powers of two use the direct sum X[k] = Σ_t x[t]·w^(t·k) (O(n²),
// fine for test sizes); powers of two above that use an iterative radix-2 transform. Products are written
// so that no FMA forms, whatever the build flags: results do not depend on -march.
#pragma once

#include "emu_numeric.h"

#include <cmath>
#include <vector>

namespace emu::dft {

struct Complex
{
    double re, im;
};

inline Complex add(Complex a, Complex b) { return {a.re + b.re, a.im + b.im}; }
inline Complex sub(Complex a, Complex b) { return {a.re - b.re, a.im - b.im}; }
inline Complex mul(Complex a, Complex b)
{
    using num::no_contract;
    return {no_contract(a.re * b.re) - no_contract(a.im * b.im), no_contract(a.re * b.im) + no_contract(a.im * b.re)};
}

// w^t for w = e^(sign·2πi/n), t < n. The angle is reduced to the first half turn by symmetry, so
// w^(n-t) is exactly the conjugate of w^t.
inline std::vector<Complex> twiddles(long long n, int sign)
{
    std::vector<Complex> w(n);
    const double pi = 3.14159265358979323846;
    for (long long t = 0; t < n; t++)
    {
        long long u = 2 * t <= n ? t : n - t;
        double angle = 2 * pi * static_cast<double>(u) / static_cast<double>(n);
        double s = std::sin(angle);
        if (2 * t > n) s = -s;
        w[t] = {std::cos(angle), sign * s};
    }
    return w;
}

inline bool is_power_of_two(long long n) { return n > 0 && (n & (n - 1)) == 0; }

// out = DFT(in) with the twiddles w of length n; in and out do not overlap.
inline void transform(const Complex* in, Complex* out, long long n, const Complex* w)
{
    if (n > 16 && is_power_of_two(n))
    {
        int bits = 0;
        while ((1LL << bits) < n) bits++;
        for (long long t = 0; t < n; t++)
        {
            long long r = 0;
            for (int b = 0; b < bits; b++) r |= ((t >> b) & 1) << (bits - 1 - b);
            out[r] = in[t];
        }
        for (long long len = 2; len <= n; len *= 2)
        {
            long long half = len / 2, step = n / len;
            for (long long start = 0; start < n; start += len)
                for (long long j = 0; j < half; j++)
                {
                    Complex u = out[start + j], v = mul(out[start + j + half], w[j * step]);
                    out[start + j] = add(u, v);
                    out[start + j + half] = sub(u, v);
                }
        }
        return;
    }
    for (long long k = 0; k < n; k++)
    {
        Complex sum{0, 0};
        long long index = 0;  // t·k mod n, kept small
        for (long long t = 0; t < n; t++)
        {
            sum = add(sum, mul(in[t], w[index]));
            index += k;
            if (index >= n) index -= n;
        }
        out[k] = sum;
    }
}

// Transforms every line along `axis` of the dense row-major array `data` of shape dims[0..rank).
inline void transform_axis(Complex* data, const long long* dims, int rank, int axis, int sign)
{
    long long outer = 1, inner = 1, n = dims[axis];
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int d = axis + 1; d < rank; d++) inner *= dims[d];
    std::vector<Complex> w = twiddles(n, sign), line(n), result(n);
    for (long long o = 0; o < outer; o++)
        for (long long q = 0; q < inner; q++)
        {
            Complex* first = data + o * n * inner + q;
            for (long long t = 0; t < n; t++) line[t] = first[t * inner];
            transform(line.data(), result.data(), n, w.data());
            for (long long t = 0; t < n; t++) first[t * inner] = result[t];
        }
}

// Complex-to-real along the last axis: each line of h = n/2 + 1 complex values is a Hermitian half
// spectrum. The imaginary parts of the DC term and (n even) of the Nyquist term are ignored, as cuFFT
// and FFTW do; the full spectrum is rebuilt by conjugate symmetry and transformed with sign +1.
// `half` has `lines` rows of h; `real` receives `lines` rows of n.
inline void c2r_last_axis(const Complex* half, double* real, long long lines, long long n)
{
    long long h = n / 2 + 1;
    std::vector<Complex> w = twiddles(n, +1), full(n), result(n);
    for (long long l = 0; l < lines; l++)
    {
        const Complex* x = half + l * h;
        full[0] = {x[0].re, 0};
        for (long long k = 1; k < h; k++)
        {
            full[k] = x[k];
            full[n - k] = {x[k].re, -x[k].im};
        }
        if (n % 2 == 0) full[n / 2] = {x[n / 2].re, 0};
        transform(full.data(), result.data(), n, w.data());
        for (long long t = 0; t < n; t++) real[l * n + t] = result[t].re;
    }
}

} // namespace emu::dft
