// Controls of the stand-in runtime (stub_runtime.cpp) and the C entry points under test, for the native
// tests of the cuBLAS/cuFFT emulations.
#pragma once

#include "../native/emu_runtime.h"

#include <cstddef>
#include <string>

namespace stub {

void* device_alloc(std::size_t bytes);  // poisoned with 0xFF, 256-aligned
void device_free(void* p);               // stays mapped, reported as freed
void* make_stream();
void destroy_stream(void* stream);
void set_initialized(bool value);
void set_context(void* context);         // nullptr: no current context
void set_strict(bool value);
const std::string& last_detail();
long library_calls();

} // namespace stub

extern "C" {
int cuEmuGetLastLibraryError(const char** text);
int cublasCreate_v2(void** handle);
int cublasDestroy_v2(void* handle);
int cublasSetStream_v2(void* handle, void* stream);
int cublasSetMathMode(void* handle, int mode);
int cublasSetPointerMode_v2(void* handle, int mode);
int cublasSetWorkspace_v2(void* handle, void* workspace, std::size_t bytes);
int cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
    const float* B, int ldb, const float* beta, float* C, int ldc);
int cublasDgemm_v2(void* h, int ta, int tb, int m, int n, int k, const double* alpha, const double* A, int lda,
    const double* B, int ldb, const double* beta, double* C, int ldc);
int cublasSgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
    long long sa, const float* B, int ldb, long long sb, const float* beta, float* C, int ldc, long long sc, int batch);
int cublasDgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k, const double* alpha, const double* A, int lda,
    long long sa, const double* B, int ldb, long long sb, const double* beta, double* C, int ldc, long long sc, int batch);
int cublasGemmStridedBatchedEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at, int lda,
    long long sa, const void* B, int bt, int ldb, long long sb, const void* beta, void* C, int ct, int ldc, long long sc,
    int batch, int compute, int algo);
int cublasGemmEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at, int lda,
    const void* B, int bt, int ldb, const void* beta, void* C, int ct, int ldc, int compute, int algo);

int cufftCreate(int* plan);
int cufftSetAutoAllocation(int plan, int automatic);
int cufftMakePlanMany(int plan, int rank, int* n, int* inembed, int istride, int idist, int* onembed, int ostride,
    int odist, int type, int batch, std::size_t* work);
int cufftMakePlanMany64(int plan, int rank, long long* n, long long* inembed, long long istride, long long idist,
    long long* onembed, long long ostride, long long odist, int type, long long batch, std::size_t* work);
int cufftPlanMany(int* plan, int rank, int* n, int* inembed, int istride, int idist, int* onembed, int ostride,
    int odist, int type, int batch);
int cufftGetSize(int plan, std::size_t* work);
int cufftSetWorkArea(int plan, void* work);
int cufftSetStream(int plan, void* stream);
int cufftDestroy(int plan);
int cufftExecC2C(int plan, void* in, void* out, int direction);
int cufftExecR2C(int plan, void* in, void* out);
int cufftExecC2R(int plan, void* in, void* out);
int cufftExecZ2Z(int plan, void* in, void* out, int direction);
int cufftExecD2Z(int plan, void* in, void* out);
int cufftExecZ2D(int plan, void* in, void* out);
}
