// Native tests of the cuFFT emulation: every transform type against a direct multi-dimensional DFT written
// here in long double (not separable, so it checks the axis-by-axis scheme too), the layouts, in-place
// rules, C2R's poisoned input, the work-area rules, and every argument check with its code and message.
#include "check.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

struct Cd
{
    long double re, im;
};

unsigned g_seed = 777;
double next_value()
{
    g_seed = g_seed * 1103515245u + 12345u;
    return ((g_seed >> 8) & 0xFFFF) / 32768.0 - 1.0;
}

// X[k] = Σ_x x[x]·exp(sign·2πi·Σ_d k_d·x_d / n_d) over a dense row-major array of shape dims.
std::vector<Cd> reference_dft(const std::vector<Cd>& x, const std::vector<long long>& dims, int sign)
{
    long long total = 1;
    for (long long d : dims) total *= d;
    std::vector<Cd> out(total);
    const long double pi = 3.141592653589793238462643383279502884L;
    for (long long kf = 0; kf < total; kf++)
    {
        long double re = 0, im = 0;
        for (long long xf = 0; xf < total; xf++)
        {
            long double turns = 0;
            long long kr = kf, xr = xf;
            for (int d = (int)dims.size() - 1; d >= 0; d--)
            {
                turns += (long double)((kr % dims[d]) * (xr % dims[d]) % dims[d]) / dims[d];
                kr /= dims[d];
                xr /= dims[d];
            }
            long double a = sign * 2 * pi * turns, c = cosl(a), s = sinl(a);
            re += x[xf].re * c - x[xf].im * s;
            im += x[xf].re * s + x[xf].im * c;
        }
        out[kf] = {re, im};
    }
    return out;
}

std::vector<Cd> random_complex(long long n, bool real)
{
    std::vector<Cd> v(n);
    for (auto& c : v) c = {next_value(), real ? 0.0 : next_value()};
    return v;
}

template <class T>
T* device(std::size_t count) { return static_cast<T*>(stub::device_alloc(count * sizeof(T))); }

long long product(const std::vector<long long>& dims)
{
    long long p = 1;
    for (long long d : dims) p *= d;
    return p;
}

// The half-spectrum indices: for each flat index of (dims..., last/2+1), the flat index in the full array.
std::vector<long long> half_to_full(const std::vector<long long>& dims)
{
    long long last = dims.back(), h = last / 2 + 1, lines = product(dims) / last;
    std::vector<long long> map;
    for (long long l = 0; l < lines; l++)
        for (long long k = 0; k < h; k++) map.push_back(l * last + k);
    return map;
}

template <class T>
long double worst_complex(const T* got, const std::vector<Cd>& want, const std::vector<long long>& index)
{
    long double worst = 0;
    for (std::size_t i = 0; i < index.size(); i++)
        worst = std::fmax(worst, std::fmax(fabsl(got[2 * i] - want[index[i]].re), fabsl(got[2 * i + 1] - want[index[i]].im)));
    return worst;
}

std::vector<long long> iota(long long n)
{
    std::vector<long long> v(n);
    for (long long i = 0; i < n; i++) v[i] = i;
    return v;
}

int make(int rank, std::vector<int> n, int type, int batch, std::size_t* work = nullptr)
{
    int plan;
    cufftCreate(&plan);
    std::size_t w;
    CHECK_STATUS(cufftMakePlanMany(plan, rank, n.data(), nullptr, 1, 0, nullptr, 1, 0, type, batch, work ? work : &w), 0, "");
    return plan;
}

// C2C and Z2Z, rank 1 to 3, both directions, batched; sizes include powers of two above 16 (radix-2 path).
template <class T>
void check_c2c(std::vector<long long> dims, int batch, int direction)
{
    bool dbl = sizeof(T) == 8;
    long long count = product(dims);
    std::vector<int> n(dims.begin(), dims.end());
    int plan = make((int)dims.size(), n, dbl ? 0x69 : 0x29, batch);
    T *in = device<T>(2 * count * batch), *out = device<T>(2 * count * batch);
    std::vector<std::vector<Cd>> x(batch);
    for (int b = 0; b < batch; b++)
    {
        x[b] = random_complex(count, false);
        for (long long i = 0; i < count; i++) { in[2 * (b * count + i)] = (T)x[b][i].re; in[2 * (b * count + i) + 1] = (T)x[b][i].im; x[b][i] = {in[2 * (b * count + i)], in[2 * (b * count + i) + 1]}; }
    }
    CHECK_STATUS(dbl ? cufftExecZ2Z(plan, in, out, direction) : cufftExecC2C(plan, in, out, direction), 0, "");
    long double worst = 0;
    for (int b = 0; b < batch; b++) worst = std::fmax(worst, worst_complex(out + 2 * b * count, reference_dft(x[b], dims, direction), iota(count)));
    long double tolerance = (dbl ? 1e-13 : 3e-6) * count;
    CHECK(worst < tolerance, std::string(dbl ? "Z2Z" : "C2C") + " rank " + std::to_string(dims.size()) + " n0 " + std::to_string(dims[0]) +
        " error " + std::to_string((double)worst));
    cufftDestroy(plan);
}

template <class T>
void check_r2c_c2r(std::vector<long long> dims, int batch)
{
    bool dbl = sizeof(T) == 8;
    long long count = product(dims), last = dims.back(), h = last / 2 + 1, hcount = count / last * h;
    std::vector<int> n(dims.begin(), dims.end());
    int r2c = make((int)dims.size(), n, dbl ? 0x6a : 0x2a, batch), c2r = make((int)dims.size(), n, dbl ? 0x6c : 0x2c, batch);
    T *real = device<T>(count * batch), *spectrum = device<T>(2 * hcount * batch), *back = device<T>(count * batch);
    std::vector<std::vector<Cd>> x(batch);
    for (int b = 0; b < batch; b++)
    {
        x[b] = random_complex(count, true);
        for (long long i = 0; i < count; i++) { real[b * count + i] = (T)x[b][i].re; x[b][i].re = real[b * count + i]; }
    }
    CHECK_STATUS(dbl ? cufftExecD2Z(r2c, real, spectrum) : cufftExecR2C(r2c, real, spectrum), 0, "");
    long double worst = 0;
    for (int b = 0; b < batch; b++) worst = std::fmax(worst, worst_complex(spectrum + 2 * b * hcount, reference_dft(x[b], dims, -1), half_to_full(dims)));
    long double tolerance = (dbl ? 1e-13 : 3e-6) * count;
    std::string what = std::string(dbl ? "D2Z/Z2D" : "R2C/C2R") + " rank " + std::to_string(dims.size()) + " last " + std::to_string(last);
    CHECK(worst < tolerance, what + " forward error " + std::to_string((double)worst));

    // The imaginary parts of DC and Nyquist are ignored: garbage there changes nothing.
    for (int b = 0; b < batch; b++)
        for (long long l = 0; l < count / last; l++)
        {
            spectrum[2 * (b * hcount + l * h) + 1] = (T)123.0;
            if (last % 2 == 0) spectrum[2 * (b * hcount + l * h + h - 1) + 1] = (T)-45.0;
        }
    // For rank > 1, only the first row's DC is Hermitian-constrained; the others are not, so restrict the
    // garbage test to rank 1 and keep the data Hermitian otherwise.
    if (dims.size() > 1) CHECK_STATUS(dbl ? cufftExecD2Z(r2c, real, spectrum) : cufftExecR2C(r2c, real, spectrum), 0, "");
    CHECK_STATUS(dbl ? cufftExecZ2D(c2r, spectrum, back) : cufftExecC2R(c2r, spectrum, back), 0, "");
    worst = 0;
    for (long long i = 0; i < count * batch; i++) worst = std::fmax(worst, fabsl(back[i] - (long double)count * real[i]));
    CHECK(worst < tolerance, what + " round trip error " + std::to_string((double)worst));
    // cuFFT may overwrite a C2R input: the emulator poisons it, out of place too.
    bool poisoned = true;
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(spectrum);
    for (long long i = 0; i < 2 * hcount * batch * (long long)sizeof(T); i++) poisoned = poisoned && bytes[i] == 0xFF;
    CHECK(poisoned, what + ": C2R input poisoned afterwards");
    cufftDestroy(r2c);
    cufftDestroy(c2r);
}

void test_layouts()
{
    // Advanced C2C, rank 2: input rows padded to 5 with stride 2, batches 40 apart; dense output.
    int n[2] = {3, 4}, inembed[2] = {3, 5}, onembed[2] = {3, 4};
    int plan;
    cufftCreate(&plan);
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n, inembed, 2, 40, onembed, 1, 12, 0x29, 2, nullptr), 0, "");
    float *in = device<float>(2 * 80), *out = device<float>(2 * 24);
    std::vector<std::vector<Cd>> x(2, std::vector<Cd>(12));
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
            {
                long long at = b * 40 + (i * 5 + j) * 2;
                in[2 * at] = (float)next_value();
                in[2 * at + 1] = (float)next_value();
                x[b][i * 4 + j] = {in[2 * at], in[2 * at + 1]};
            }
    CHECK_STATUS(cufftExecC2C(plan, in, out, -1), 0, "");
    long double worst = 0;
    for (int b = 0; b < 2; b++) worst = std::fmax(worst, worst_complex(out + 24 * b, reference_dft(x[b], {3, 4}, -1), iota(12)));
    CHECK(worst < 1e-5, "advanced layout C2C error " + std::to_string((double)worst));
    cufftDestroy(plan);

    // Advanced D2Z rank 1: real input stride 3, dist 20; complex output stride 2, dist 9.
    int n1 = 6, e1 = 6;
    cufftCreate(&plan);
    CHECK_STATUS(cufftMakePlanMany(plan, 1, &n1, &e1, 3, 20, &e1, 2, 9, 0x6a, 2, nullptr), 0, "");
    double *rin = device<double>(40), *cout = device<double>(2 * 18);
    for (int b = 0; b < 2; b++)
    {
        std::vector<Cd> xr(6);
        for (int t = 0; t < 6; t++) { rin[b * 20 + 3 * t] = next_value(); xr[t] = {rin[b * 20 + 3 * t], 0}; }
        if (b == 1)
        {
            CHECK_STATUS(cufftExecD2Z(plan, rin, cout), 0, "");
            for (int bb = 0; bb < 2; bb++)
            {
                std::vector<Cd> xb(6);
                for (int t = 0; t < 6; t++) xb[t] = {rin[bb * 20 + 3 * t], 0};
                auto want = reference_dft(xb, {6}, -1);
                long double w = 0;
                for (int k = 0; k < 4; k++)
                    w = std::fmax(w, std::fmax(fabsl(cout[2 * (bb * 9 + 2 * k)] - want[k].re), fabsl(cout[2 * (bb * 9 + 2 * k) + 1] - want[k].im)));
                CHECK(w < 1e-13, "advanced layout D2Z batch " + std::to_string(bb));
            }
        }
    }
    cufftDestroy(plan);

    // Exact in place: C2C over the same buffer equals the out-of-place result.
    plan = make(2, {4, 6}, 0x29, 2);
    float *a = device<float>(96), *b = device<float>(96);
    for (int i = 0; i < 96; i++) a[i] = (float)next_value();
    CHECK_STATUS(cufftExecC2C(plan, a, b, 1), 0, "");
    CHECK_STATUS(cufftExecC2C(plan, a, a, 1), 0, "");
    CHECK(std::memcmp(a, b, 96 * 4) == 0, "in-place C2C equals out of place");
    float* wide = device<float>(200);
    CHECK_STATUS(cufftExecC2C(plan, wide, wide + 2, 1), 4, "overlap");
    cufftDestroy(plan);

    // In-place R2C in the basic layout uses padded real rows of 2·(n/2+1), as cuFFT and FFTW do.
    int r2c = make(2, {4, 6}, 0x2a, 1), c2r = make(2, {4, 6}, 0x2c, 1);
    float *padded = device<float>(4 * 8), *dense = device<float>(24), *ref = device<float>(2 * 16);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) padded[i * 8 + j] = dense[i * 6 + j] = (float)next_value();
    CHECK_STATUS(cufftExecR2C(r2c, dense, ref), 0, "");
    CHECK_STATUS(cufftExecR2C(r2c, padded, padded), 0, "");
    CHECK(std::memcmp(padded, ref, 32 * 4) == 0, "in-place R2C with padded rows equals out of place");
    CHECK_STATUS(cufftExecC2R(c2r, padded, padded), 0, "");
    long double worst_back = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) worst_back = std::fmax(worst_back, fabsl(padded[i * 8 + j] - 24.0L * dense[i * 6 + j]));
    CHECK(worst_back < 1e-4, "in-place C2R round trip in padded rows");
    CHECK(std::isnan(padded[6]) && std::isnan(padded[31]), "in-place C2R: padding left poisoned");
    cufftDestroy(r2c);
    cufftDestroy(c2r);
}

void test_plan_checks()
{
    int plan, n2[2] = {4, 4}, bad[2] = {4, 0}, e[2] = {4, 4}, small[2] = {4, 3};
    std::size_t work = 0, size = 0;
    CHECK_STATUS(cufftCreate(nullptr), 4, "null");
    CHECK_STATUS(cufftCreate(&plan), 0, "");
    CHECK(plan >= 1, "handles count from 1");
    CHECK_STATUS(cufftMakePlanMany(plan, 0, n2, nullptr, 1, 0, nullptr, 1, 0, 0x29, 1, &work), 8, "rank");
    CHECK_STATUS(cufftMakePlanMany(plan, 4, n2, nullptr, 1, 0, nullptr, 1, 0, 0x29, 1, &work), 8, "rank");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, bad, nullptr, 1, 0, nullptr, 1, 0, 0x29, 1, &work), 8, "at least 1");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, nullptr, 1, 0, nullptr, 1, 0, 0x29, 0, &work), 8, "batch");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, nullptr, nullptr, 1, 0, nullptr, 1, 0, 0x29, 1, &work), 4, "n is null");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, nullptr, 1, 0, nullptr, 1, 0, 0x99, 1, &work), 3, "cufftType");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, e, 1, 16, nullptr, 1, 16, 0x29, 1, &work), 4, "onembed is NULL");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, nullptr, 1, 16, e, 1, 16, 0x29, 1, &work), 4, "inembed is NULL");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, small, 1, 16, e, 1, 16, 0x29, 1, &work), 4, "iembed[1]");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, e, 0, 16, e, 1, 16, 0x29, 1, &work), 4, "istride");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, e, 1, 16, e, 1, 0, 0x29, 1, &work), 4, "odist");
    int r2c_embed[2] = {4, 3};  // the complex side of a 4x4 R2C is 4x3: this fits
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, e, 1, 16, r2c_embed, 1, 12, 0x2a, 1, &work), 0, "");
    CHECK(work > 0 && work % 256 == 0, "non-zero work size");
    CHECK_STATUS(cufftGetSize(plan, &size), 0, "");
    CHECK(size == work, "cufftGetSize agrees with make");
    CHECK_STATUS(cufftMakePlanMany(plan, 2, n2, nullptr, 1, 0, nullptr, 1, 0, 0x29, 1, &work), 1, "already made");
    CHECK_STATUS(cufftSetAutoAllocation(plan, 0), 1, "already made");
    CHECK_STATUS(cufftSetStream(plan, reinterpret_cast<void*>(0x99)), 4, "not a live stream");
    CHECK_STATUS(cufftSetStream(plan, stub::make_stream()), 0, "");
    CHECK_STATUS(cufftSetStream(plan, nullptr), 0, "");
    CHECK_STATUS(cufftDestroy(plan), 0, "");
    CHECK_STATUS(cufftDestroy(plan), 1, "destroyed");
    CHECK_STATUS(cufftExecC2C(plan, nullptr, nullptr, -1), 1, "destroyed");
    CHECK_STATUS(cufftGetSize(9999, &size), 1, "not made by cufftCreate");
    CHECK_STATUS(cufftSetWorkArea(9999, nullptr), 1, "not made");
    int unmade;
    cufftCreate(&unmade);
    CHECK_STATUS(cufftGetSize(unmade, &size), 1, "has not been made");
    CHECK_STATUS(cufftExecR2C(unmade, nullptr, nullptr), 1, "has not been made");
    stub::set_context(nullptr);
    CHECK_STATUS(cufftMakePlanMany(unmade, 2, n2, nullptr, 1, 0, nullptr, 1, 0, 0x29, 1, &work), 7, "no CUDA context");
    stub::set_context(reinterpret_cast<void*>(0xC0));

    // The 64-bit and one-call forms.
    long long n64[1] = {10};
    CHECK_STATUS(cufftMakePlanMany64(unmade, 1, n64, nullptr, 1, 0, nullptr, 1, 0, 0x69, 3, &work), 0, "");
    int made_at_once = 0;
    CHECK_STATUS(cufftPlanMany(&made_at_once, 2, n2, nullptr, 1, 0, nullptr, 1, 0, 0x2c, 2), 0, "");
    CHECK(made_at_once > unmade, "cufftPlanMany returns a new handle");
    CHECK_STATUS(cufftPlanMany(&made_at_once, 2, bad, nullptr, 1, 0, nullptr, 1, 0, 0x2c, 2), 8, "at least 1");
}

void test_exec_checks()
{
    std::size_t work;
    int plan = make(1, {8}, 0x29, 2, &work);
    float *in = device<float>(32), *out = device<float>(32);
    for (int i = 0; i < 32; i++) in[i] = (float)i;
    CHECK_STATUS(cufftExecR2C(plan, in, out), 3, "C2C plan");
    CHECK_STATUS(cufftExecZ2Z(plan, in, out, -1), 3, "C2C plan");
    CHECK_STATUS(cufftExecC2C(plan, in, out, 0), 4, "direction");
    CHECK_STATUS(cufftExecC2C(plan, in, out, 2), 4, "direction");
    CHECK_STATUS(cufftExecC2C(plan, in + 2, out, -1), 6, "input");
    float host[32];
    CHECK_STATUS(cufftExecC2C(plan, in, host, -1), 6, "output");
    float* freed = device<float>(32);
    stub::device_free(freed);
    CHECK_STATUS(cufftExecC2C(plan, freed, out, -1), 6, "freed");
    void* s = stub::make_stream();
    CHECK_STATUS(cufftSetStream(plan, s), 0, "");
    stub::destroy_stream(s);
    CHECK_STATUS(cufftExecC2C(plan, in, out, -1), 6, "stream");
    cufftDestroy(plan);

    // Work area: with auto allocation off, exec needs a live device area of the work size.
    int manual;
    cufftCreate(&manual);
    CHECK_STATUS(cufftSetAutoAllocation(manual, 0), 0, "");
    CHECK_STATUS(cufftMakePlanMany(manual, 1, std::vector<int>{8}.data(), nullptr, 1, 0, nullptr, 1, 0, 0x29, 2, &work), 0, "");
    CHECK_STATUS(cufftExecC2C(manual, in, out, -1), 6, "no work area");
    char* small = static_cast<char*>(stub::device_alloc(work - 1));
    CHECK_STATUS(cufftSetWorkArea(manual, small), 0, "");
    CHECK_STATUS(cufftExecC2C(manual, in, out, -1), 6, "work area");
    char* area = static_cast<char*>(stub::device_alloc(work));
    std::memset(area, 0, work);
    CHECK_STATUS(cufftSetWorkArea(manual, area), 0, "");
    CHECK_STATUS(cufftExecC2C(manual, in, out, -1), 0, "");
    bool poisoned = true;
    for (std::size_t i = 0; i < work; i++) poisoned = poisoned && (unsigned char)area[i] == 0xFF;
    CHECK(poisoned, "the work area is poisoned after exec");
    CHECK(out[0] == 0 + 2 + 4 + 6 + 8 + 10 + 12 + 14, "the transform itself ran: DC of batch 0");
    stub::device_free(area);
    CHECK_STATUS(cufftExecC2C(manual, in, out, -1), 6, "freed");
    cufftDestroy(manual);
}

} // namespace

void test_fft()
{
    check_c2c<float>({7}, 3, -1);
    check_c2c<float>({4, 6}, 2, 1);
    check_c2c<float>({3, 4, 5}, 1, -1);
    check_c2c<float>({32}, 2, -1);
    check_c2c<double>({64}, 2, 1);
    check_c2c<double>({32, 8}, 1, -1);
    check_c2c<double>({2, 3, 2}, 2, 1);
    check_r2c_c2r<float>({8}, 3);
    check_r2c_c2r<float>({9}, 2);
    check_r2c_c2r<float>({5, 6}, 2);
    check_r2c_c2r<float>({4, 5}, 1);
    check_r2c_c2r<double>({6, 7}, 2);
    check_r2c_c2r<double>({32}, 1);
    check_r2c_c2r<double>({2, 3, 4}, 2);
    test_layouts();
    test_plan_checks();
    test_exec_checks();
}
