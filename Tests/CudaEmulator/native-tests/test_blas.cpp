// Native tests of the cuBLAS emulation: the GEMM arithmetic against a naive loop written here (bit for
// bit: same order, same roundings), the NaN rules, strided batches, the Ex type combinations, TF32, and
// every argument check with its status code and message.
#include "../native/emu_numeric.h"
#include "check.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using emu::num::no_contract;

unsigned g_seed = 12345;
double next_value()  // in [-1, 1), deterministic
{
    g_seed = g_seed * 1103515245u + 12345u;
    return ((g_seed >> 8) & 0xFFFF) / 32768.0 - 1.0;
}

template <class T>
std::vector<T> random_vector(std::size_t n)
{
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(next_value());
    return v;
}

template <class T>
T* upload(const std::vector<T>& host)
{
    auto* p = static_cast<T*>(stub::device_alloc(host.size() * sizeof(T)));
    std::memcpy(p, host.data(), host.size() * sizeof(T));
    return p;
}

template <class T>
std::vector<T> download(const T* p, std::size_t n) { return std::vector<T>(p, p + n); }

// The reference: column-major, op T = C, k ascending, separate roundings, as the library promises.
template <class T, class Round>
void reference(int ta, int tb, int m, int n, int k, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C, int ldc, Round round)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
        {
            T acc = 0;
            for (int l = 0; l < k; l++)
            {
                T a = round(ta ? A[l + i * lda] : A[i + l * lda]);
                T b = round(tb ? B[j + l * ldb] : B[l + j * ldb]);
                acc = acc + no_contract(a * b);
            }
            T t = no_contract(alpha * acc);
            if (beta != 0) t = t + no_contract(beta * C[i + j * ldc]);
            C[i + j * ldc] = t;
        }
}

auto identity = [](auto x) { return x; };

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) { return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0; }
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) { return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 8) == 0; }

void test_handles()
{
    void* h = nullptr;
    stub::set_context(nullptr);
    CHECK_STATUS(cublasCreate_v2(&h), 1, "no CUDA context");
    stub::set_context(reinterpret_cast<void*>(0xC0));
    stub::set_initialized(false);
    CHECK_STATUS(cublasCreate_v2(&h), 1, "cuInit");
    stub::set_initialized(true);
    CHECK_STATUS(cublasCreate_v2(nullptr), 7, "null");
    CHECK_STATUS(cublasCreate_v2(&h), 0, "");

    CHECK_STATUS(cublasSetMathMode(h, 3), 0, "");
    CHECK_STATUS(cublasSetMathMode(h, 2 | 16), 0, "");
    CHECK_STATUS(cublasSetMathMode(h, 1), 7, "mode 1");
    CHECK_STATUS(cublasSetMathMode(h, 99), 7, "mode 99");
    CHECK_STATUS(cublasSetMathMode(h, -1), 7, "mode -1");
    CHECK_STATUS(cublasSetPointerMode_v2(h, 1), 0, "");
    CHECK_STATUS(cublasSetPointerMode_v2(h, 2), 7, "mode 2");
    void* stream = stub::make_stream();
    CHECK_STATUS(cublasSetStream_v2(h, stream), 0, "");
    CHECK_STATUS(cublasSetStream_v2(h, nullptr), 0, "");
    CHECK_STATUS(cublasSetStream_v2(h, reinterpret_cast<void*>(0x1234)), 7, "not a live stream");

    char* ws = static_cast<char*>(stub::device_alloc(4096));
    CHECK_STATUS(cublasSetWorkspace_v2(h, ws, 4096), 0, "");
    CHECK_STATUS(cublasSetWorkspace_v2(h, nullptr, 0), 0, "");
    CHECK_STATUS(cublasSetWorkspace_v2(h, ws + 8, 1024), 7, "aligned");
    CHECK_STATUS(cublasSetWorkspace_v2(h, ws + 256, 4096), 7, "past the end");
    alignas(256) static float host[64];
    CHECK_STATUS(cublasSetWorkspace_v2(h, host, 64), 7, "no device allocation");

    CHECK_STATUS(cublasDestroy_v2(h), 0, "");
    CHECK_STATUS(cublasDestroy_v2(h), 1, "destroyed");
    CHECK_STATUS(cublasSetMathMode(h, 0), 1, "destroyed");
    CHECK_STATUS(cublasSetStream_v2(nullptr, nullptr), 1, "null");
    int not_a_handle;
    CHECK_STATUS(cublasSetPointerMode_v2(&not_a_handle, 0), 1, "not made by cublasCreate_v2");
}

// All four op combinations, ld larger than needed, α and β, against the reference bit for bit.
void test_sgemm_conventions(void* h)
{
    const int m = 5, n = 7, k = 6;
    for (int ta = 0; ta <= 2; ta++)
        for (int tb = 0; tb <= 2; tb++)
        {
            int lda = (ta ? k : m) + 3, ldb = (tb ? n : k) + 2, ldc = m + 4;
            auto A = random_vector<float>(lda * (ta ? m : k)), B = random_vector<float>(ldb * (tb ? k : n)), C = random_vector<float>(ldc * n);
            float alpha = 1.5f, beta = -0.75f;
            float *dA = upload(A), *dB = upload(B), *dC = upload(C);
            CHECK_STATUS(cublasSgemm_v2(h, ta, tb, m, n, k, &alpha, dA, lda, dB, ldb, &beta, dC, ldc), 0, "");
            reference(ta, tb, m, n, k, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc, identity);
            CHECK(same_bits(download(dC, C.size()), C), "Sgemm ops " + std::to_string(ta) + std::to_string(tb));
        }
    // Dgemm, odd sizes that exercise the 4-column blocks' remainder.
    const int M = 9, N = 6, K = 11;
    auto A = random_vector<double>(M * K), B = random_vector<double>(N * K), C = random_vector<double>(M * N);
    double alpha = 0.5, beta = 2;
    double *dA = upload(A), *dB = upload(B), *dC = upload(C);
    CHECK_STATUS(cublasDgemm_v2(h, 0, 1, M, N, K, &alpha, dA, M, dB, N, &beta, dC, M), 0, "");
    reference(0, 1, M, N, K, alpha, A.data(), M, B.data(), N, beta, C.data(), M, identity);
    CHECK(same_bits(download(dC, C.size()), C), "Dgemm N,T");
}

// The identity documented in CuBlas.cs: row-major C[M,N] = A[M,K]·B[K,N] is gemm(N, N, N, M, K, B, N, A, K, C, N).
void test_row_major_identity(void* h)
{
    const int M = 3, N = 4, K = 5;
    auto A = random_vector<double>(M * K), B = random_vector<double>(K * N);
    double *dA = upload(A), *dB = upload(B), *dC = static_cast<double*>(stub::device_alloc(M * N * 8));
    double one = 1, zero = 0;
    CHECK_STATUS(cublasDgemm_v2(h, 0, 0, N, M, K, &one, dB, N, dA, K, &zero, dC, N), 0, "");
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
        {
            double s = 0;
            for (int l = 0; l < K; l++) s += A[i * K + l] * B[l * N + j];
            worst = std::fmax(worst, std::fabs(dC[i * N + j] - s));
        }
    CHECK(worst < 1e-14, "row-major product through the operand swap, error " + std::to_string(worst));
}

void test_nan_rules(void* h)
{
    const int m = 4, n = 3, k = 2;
    auto A = random_vector<float>(m * k), B = random_vector<float>(k * n);
    float *dA = upload(A), *dB = upload(B);
    float* dC = static_cast<float*>(stub::device_alloc(m * n * 4));  // NaN poison
    float one = 1, zero = 0, two = 2;
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, dC, m), 0, "");
    bool finite = true;
    for (int i = 0; i < m * n; i++) finite = finite && std::isfinite(dC[i]);
    CHECK(finite, "beta = 0 overwrites a NaN-poisoned C without reading it");

    // α = 0 reads neither A nor B: poisoned operands cannot leak; C = β·C.
    float* nanA = static_cast<float*>(stub::device_alloc(m * k * 4));
    float* nanB = static_cast<float*>(stub::device_alloc(k * n * 4));
    auto before = download(dC, m * n);
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &zero, nanA, m, nanB, k, &two, dC, m), 0, "");
    bool doubled = true;
    for (int i = 0; i < m * n; i++) doubled = doubled && dC[i] == 2 * before[i];
    CHECK(doubled, "alpha = 0 gives beta*C and reads no NaN from A or B");
    // k = 0 likewise, even with null A and B.
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, 0, &one, nullptr, m, nullptr, 1, &two, dC, m), 0, "");
    CHECK(dC[0] == 4 * before[0], "k = 0 scales C by beta");
    // α = 0 and β = 0 write zeros over poison.
    float* dZ = static_cast<float*>(stub::device_alloc(m * n * 4));
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &zero, nanA, m, nanB, k, &zero, dZ, m), 0, "");
    CHECK(dZ[0] == 0 && dZ[m * n - 1] == 0, "alpha = beta = 0 zeroes C");
    // Quick returns touch nothing, so even null or wild pointers pass.
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, 0, n, k, &one, nullptr, 1, nullptr, k, &zero, nullptr, 1), 0, "");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &zero, nullptr, m, nullptr, k, &one, nullptr, m), 0, "");
}

void test_strided_batched(void* h)
{
    const int m = 3, n = 5, k = 4, batch = 3;
    auto A = random_vector<float>(m * k), B = random_vector<float>(k * n * batch), C = random_vector<float>(m * n * batch);
    float *dA = upload(A), *dB = upload(B), *dC = upload(C);
    float alpha = 2, beta = 0.5f;
    // Stride 0 on A broadcasts one A against each B.
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &beta, dC, m, m * n, batch), 0, "");
    for (int b = 0; b < batch; b++)
        reference(0, 0, m, n, k, alpha, A.data(), m, B.data() + b * k * n, k, beta, C.data() + b * m * n, m, identity);
    CHECK(same_bits(download(dC, C.size()), C), "strided batched with A broadcast");

    // Double, B broadcast, transposed A.
    auto dAh = random_vector<double>(k * m * batch), dBh = random_vector<double>(k * n), dCh = random_vector<double>(m * n * batch);
    double *ddA = upload(dAh), *ddB = upload(dBh), *ddC = upload(dCh);
    double dalpha = -1, dbeta = 0;
    CHECK_STATUS(cublasDgemmStridedBatched(h, 1, 0, m, n, k, &dalpha, ddA, k, k * m, ddB, k, 0, &dbeta, ddC, m, m * n, batch), 0, "");
    for (int b = 0; b < batch; b++)
        reference(1, 0, m, n, k, dalpha, dAh.data() + b * k * m, k, dBh.data(), k, dbeta, dCh.data() + b * m * n, m, identity);
    CHECK(same_bits(download(ddC, dCh.size()), dCh), "double strided batched with B broadcast");

    // Interleaved outputs that do not overlap (stride m, ldc = m·batch) are legal.
    float* dI = static_cast<float*>(stub::device_alloc(m * n * batch * 4));
    float zero = 0;
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &zero, dI, m * batch, m, batch), 0, "");
    CHECK(std::isfinite(dI[m * n * batch - 1]), "interleaved outputs all written");
    // Overlapping outputs: 7 in strict mode, accepted otherwise.
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &zero, dC, m, m * n - 1, batch), 7, "overlap");
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &zero, dC, m, 0, batch), 7, "overlap");
    stub::set_strict(false);
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &zero, dC, m, 0, batch), 0, "");
    stub::set_strict(true);
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &zero, dC, m, m * n, -1), 7, "batchCount");
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &zero, dC, m, m * n, 0), 0, "");
    // One member too many runs past B's allocation.
    CHECK_STATUS(cublasSgemmStridedBatched(h, 0, 0, m, n, k, &alpha, dA, m, 0, dB, k, k * n, &zero, dC, m, m * n, batch + 1), 13, "operand B");
}

void test_argument_checks(void* h)
{
    const int m = 4, n = 4, k = 4;
    auto A = random_vector<float>(m * k);
    float *dA = upload(A), *dB = upload(A), *dC = upload(A);
    float one = 1, zero = 0;
    CHECK_STATUS(cublasSgemm_v2(h, 3, 0, m, n, k, &one, dA, m, dB, k, &zero, dC, m), 7, "cublasOperation_t");
    CHECK_STATUS(cublasSgemm_v2(h, 0, -1, m, n, k, &one, dA, m, dB, k, &zero, dC, m), 7, "cublasOperation_t");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, -1, n, k, &one, dA, m, dB, k, &zero, dC, m), 7, "negative");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, -2, &one, dA, m, dB, k, &zero, dC, m), 7, "negative");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m - 1, dB, k, &zero, dC, m), 7, "lda");
    CHECK_STATUS(cublasSgemm_v2(h, 1, 0, m, n, k - 1, &one, dA, k - 2, dB, k, &zero, dC, m), 7, "lda");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k - 1, &zero, dC, m), 7, "ldb");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 1, m, n - 1, k, &one, dA, m, dB, n - 2, &zero, dC, m), 7, "ldb");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, dC, m - 1), 7, "ldc");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, 0, n, k, &one, dA, m, dB, k, &zero, dC, 0), 7, "ldc");  // ld >= 1 even when m = 0
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, nullptr, dA, m, dB, k, &zero, dC, m), 7, "alpha");
    CHECK_STATUS(cublasSgemm_v2(nullptr, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, dC, m), 1, "null");

    // Operands outside their allocation, freed, or on the host: 13, naming the operand.
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m + 1, dB, k, &zero, dC, m), 13, "operand A");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA + 1, m, dB, k, &zero, dC, m), 13, "past the end");
    float host[16] = {};
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, host, k, &zero, dC, m), 13, "operand B");
    const char* last = nullptr;
    CHECK(cuEmuGetLastLibraryError(&last) == 0 && std::string(last).find("cublas: cublasSgemm_v2 returned 13: operand B") == 0,
        std::string("the last library error is kept for tests: ") + (last ? last : "null"));
    float* freed = upload(A);
    stub::device_free(freed);
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, freed, m), 13, "operand C");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, freed, m), 13, "freed");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, nullptr, m, dB, k, &zero, dC, m), 13, "operand A");

    // α and β follow the pointer mode.
    float* dOne = upload(std::vector<float>{1.0f});
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, dOne, dA, m, dB, k, &zero, dC, m), 13, "pointer mode is host");
    CHECK_STATUS(cublasSetPointerMode_v2(h, 1), 0, "");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, dOne, dC, m), 13, "pointer mode is device");
    float* dZero = upload(std::vector<float>{0.0f});
    float* dR = static_cast<float*>(stub::device_alloc(m * n * 4));
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, dOne, dA, m, dB, k, dZero, dR, m), 0, "");
    std::vector<float> expect(m * n, NAN);
    reference(0, 0, m, n, k, 1.0f, A.data(), m, A.data(), k, 0.0f, expect.data(), m, identity);
    CHECK(same_bits(download(dR, m * n), expect), "alpha and beta read from device memory");
    CHECK_STATUS(cublasSetPointerMode_v2(h, 0), 0, "");

    // A stream destroyed after it was bound.
    void* s = stub::make_stream();
    CHECK_STATUS(cublasSetStream_v2(h, s), 0, "");
    stub::destroy_stream(s);
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, dC, m), 13, "stream");
    CHECK_STATUS(cublasSetStream_v2(h, nullptr), 0, "");
}

// TF32: math mode 3 or compute 77 round A and B to 10 mantissa bits (ties away) before multiplying.
void test_tf32(void* h)
{
    const int m = 8, n = 8, k = 32;
    auto A = random_vector<float>(m * k), B = random_vector<float>(k * n);
    float *dA = upload(A), *dB = upload(B);
    float *dC = static_cast<float*>(stub::device_alloc(m * n * 4)), *dT = static_cast<float*>(stub::device_alloc(m * n * 4));
    float one = 1, zero = 0;
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, dC, m), 0, "");
    CHECK_STATUS(cublasSetMathMode(h, 3), 0, "");
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, m, n, k, &one, dA, m, dB, k, &zero, dT, m), 0, "");
    std::vector<float> exact(m * n), tf32(m * n);
    reference(0, 0, m, n, k, one, A.data(), m, B.data(), k, zero, exact.data(), m, identity);
    reference(0, 0, m, n, k, one, A.data(), m, B.data(), k, zero, tf32.data(), m, [](float x) { return emu::num::to_tf32(x); });
    CHECK(same_bits(download(dC, m * n), exact), "default math mode is exact float");
    CHECK(same_bits(download(dT, m * n), tf32), "math mode 3 rounds inputs to TF32");
    double worst = 0;
    for (int i = 0; i < m * n; i++) worst = std::fmax(worst, std::fabs(dT[i] - exact[i]));
    CHECK(worst > 1e-5 && worst < 2e-2, "TF32 error is visible but small: " + std::to_string(worst));

    // Compute 69 (pedantic) ignores the math mode; 77 rounds under any mode.
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &one, dA, 0, m, 0, dB, 0, k, 0, &zero, dT, 0, m, 0, 1, 69, -1), 0, "");
    CHECK(same_bits(download(dT, m * n), exact), "compute 32F_PEDANTIC stays exact under math mode 3");
    CHECK_STATUS(cublasSetMathMode(h, 0), 0, "");
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &one, dA, 0, m, 0, dB, 0, k, 0, &zero, dT, 0, m, 0, 1, 77, -1), 0, "");
    CHECK(same_bits(download(dT, m * n), tf32), "compute 32F_FAST_TF32 rounds inputs");
    CHECK_STATUS(cublasGemmEx(h, 0, 0, m, n, k, &one, dA, 0, m, dB, 0, k, &zero, dT, 0, m, 68, 0), 0, "");
    CHECK(same_bits(download(dT, m * n), exact), "GemmEx compute 32F in default mode is exact");
}

void test_ex_types(void* h)
{
    const int m = 3, n = 4, k = 5;
    auto A = random_vector<double>(m * k), B = random_vector<double>(k * n);
    double *dA = upload(A), *dB = upload(B), *dC = static_cast<double*>(stub::device_alloc(m * n * 8));
    double one = 1, zero = 0;
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &one, dA, 1, m, 0, dB, 1, k, 0, &zero, dC, 1, m, 0, 1, 70, -1), 0, "");
    std::vector<double> ref(m * n);
    reference(0, 0, m, n, k, one, A.data(), m, B.data(), k, zero, ref.data(), m, identity);
    CHECK(same_bits(download(dC, m * n), ref), "R64F with compute 64F");

    // Half inputs: to_half values, accumulated in float (compute 68) into float C, or in half (64).
    std::vector<std::uint16_t> hA(m * k), hB(k * n);
    std::vector<float> fA(m * k), fB(k * n);
    for (int i = 0; i < m * k; i++) { hA[i] = emu::num::to_half(A[i]); fA[i] = (float)emu::num::from_half(hA[i]); }
    for (int i = 0; i < k * n; i++) { hB[i] = emu::num::to_half(B[i]); fB[i] = (float)emu::num::from_half(hB[i]); }
    std::uint16_t *dhA = upload(hA), *dhB = upload(hB);
    float* dfC = static_cast<float*>(stub::device_alloc(m * n * 4));
    float fone = 1, fzero = 0;
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &fone, dhA, 2, m, 0, dhB, 2, k, 0, &fzero, dfC, 0, m, 0, 1, 68, -1), 0, "");
    std::vector<float> fref(m * n);
    reference(0, 0, m, n, k, fone, fA.data(), m, fB.data(), k, fzero, fref.data(), m, identity);
    CHECK(same_bits(download(dfC, m * n), fref), "R16F inputs, compute 32F, R32F output");
    std::uint16_t* dhC = static_cast<std::uint16_t*>(stub::device_alloc(m * n * 2));
    std::uint16_t hone = emu::num::to_half(1), hzero = 0;
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &hone, dhA, 2, m, 0, dhB, 2, k, 0, &hzero, dhC, 2, m, 0, 1, 64, -1), 0, "");
    bool half_ok = true;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
        {
            double acc = 0;  // every product and sum rounded to half
            for (int l = 0; l < k; l++)
                acc = emu::num::round_to(acc + emu::num::round_to((double)fA[i + l * m] * fB[l + j * k], emu::num::kHalf), emu::num::kHalf);
            half_ok = half_ok && dhC[i + j * m] == emu::num::to_half(acc);
        }
    CHECK(half_ok, "R16F with compute 16F rounds every step to half");
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &fone, dhA, 2, m, 0, dhB, 2, k, 0, &fzero, dhC, 2, m, 0, 1, 68, -1), 0, "");
    bool narrowed = true;
    for (int i = 0; i < m * n; i++) narrowed = narrowed && dhC[i] == emu::num::to_half(fref[i]);
    CHECK(narrowed, "R16F output of a 32F accumulation is the float result rounded once");

    // bfloat16 inputs.
    std::vector<std::uint16_t> bA(m * k), bB(k * n);
    for (int i = 0; i < m * k; i++) { bA[i] = emu::num::to_bf16(A[i]); fA[i] = (float)emu::num::from_bf16(bA[i]); }
    for (int i = 0; i < k * n; i++) { bB[i] = emu::num::to_bf16(B[i]); fB[i] = (float)emu::num::from_bf16(bB[i]); }
    std::uint16_t *dbA = upload(bA), *dbB = upload(bB);
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &fone, dbA, 14, m, 0, dbB, 14, k, 0, &fzero, dfC, 0, m, 0, 1, 68, -1), 0, "");
    reference(0, 0, m, n, k, fone, fA.data(), m, fB.data(), k, fzero, fref.data(), m, identity);
    CHECK(same_bits(download(dfC, m * n), fref), "R16BF inputs, compute 32F");

    // Unsupported combinations and algorithms.
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &one, dA, 1, m, 0, dB, 1, k, 0, &zero, dC, 1, m, 0, 1, 68, -1), 15, "not a supported combination");
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &fone, dhA, 2, m, 0, dB, 0, k, 0, &fzero, dfC, 0, m, 0, 1, 68, -1), 15, "not a supported");
    CHECK_STATUS(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &fone, dhA, 2, m, 0, dhB, 2, k, 0, &fzero, dfC, 0, m, 0, 1, 64, -1), 15, "not a supported");
    CHECK_STATUS(cublasGemmEx(h, 0, 0, m, n, k, &fone, dA, 4, m, dB, 4, k, &fzero, dC, 4, m, 68, -1), 15, "not a supported");
    CHECK_STATUS(cublasGemmEx(h, 0, 0, m, n, k, &one, dA, 1, m, dB, 1, k, &zero, dC, 1, m, 70, 500), 7, "algo");
    CHECK_STATUS(cublasGemmEx(nullptr, 0, 0, m, n, k, &one, dA, 1, m, dB, 1, k, &zero, dC, 1, m, 70, -1), 1, "null");
}

// A product whose rounding an FMA would skip: (1 + 2^-12)^2 - 1 is 2^-11 unfused, 2^-11 + 2^-24 fused.
void test_no_fma(void* h)
{
    float a = 1.0f + std::ldexp(1.0f, -12);
    std::vector<float> A{1.0f, a}, B{-1.0f, a};
    float *dA = upload(A), *dB = upload(B), *dC = static_cast<float*>(stub::device_alloc(4));
    float one = 1, zero = 0;
    CHECK_STATUS(cublasSgemm_v2(h, 0, 0, 1, 1, 2, &one, dA, 1, dB, 2, &zero, dC, 1), 0, "");
    CHECK(dC[0] == std::ldexp(1.0f, -11), "no fused multiply-add in the dot product");
}

} // namespace

void test_blas()
{
    test_handles();
    void* h = nullptr;
    CHECK_STATUS(cublasCreate_v2(&h), 0, "");
    long calls = stub::library_calls();
    test_sgemm_conventions(h);
    CHECK(stub::library_calls() > calls, "executions are counted");
    test_row_major_identity(h);
    test_nan_rules(h);
    test_strided_batched(h);
    test_argument_checks(h);
    test_tf32(h);
    test_ex_types(h);
    test_no_fma(h);
    cublasDestroy_v2(h);
}
