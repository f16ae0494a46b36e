// cuBLAS emulation: handles and the GEMM family (Sgemm, Dgemm, their strided-batched forms, GemmEx and
// GemmStridedBatchedEx), as plain reference loops on the CPU. Semantics: notes/cuda-emulator.md §10 and
// native/LIBRARIES.md. The arithmetic is in emu_gemm.h; this file checks arguments and memory.
#include "emu_gemm.h"
#include "emu_lib_error.h"
#include "emu_runtime.h"

#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#define EMU_BLAS_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using emu::gemm::Elem;
using emu::gemm::Compute;
using emu::gemm::InputRounding;

enum Status
{
    kSuccess = 0,
    kNotInitialized = 1,
    kInvalidValue = 7,
    kExecutionFailed = 13,
    kNotSupported = 15,
};

struct Handle
{
    bool alive = true;
    void* context = nullptr;
    void* stream = nullptr;
    int math_mode = 0;
    int pointer_mode = 0;
    std::uintptr_t workspace = 0;
    std::size_t workspace_bytes = 0;
};

// Handles are never freed: a destroyed handle keeps its address, so it is told apart from a live one
// forever (a freed address could be handed out again by the next Create).
std::mutex g_mutex;
std::unordered_map<const void*, Handle*> g_handles;

int fail(int code, const char* function, const std::string& message)
{
    return emu::lib::fail(code, "cublas", function, message);
}

std::string hex(std::uintptr_t p)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%" PRIxPTR, p);
    return buffer;
}

// Copies the handle's state under the lock, so a concurrent SetStream cannot tear it.
int lookup(const void* handle, const char* function, Handle* out)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_handles.find(handle);
    if (handle == nullptr) return fail(kNotInitialized, function, "the handle is null");
    if (it == g_handles.end()) return fail(kNotInitialized, function, "handle " + hex(reinterpret_cast<std::uintptr_t>(handle)) + " was not made by cublasCreate_v2");
    if (!it->second->alive) return fail(kNotInitialized, function, "handle " + hex(reinterpret_cast<std::uintptr_t>(handle)) + " was destroyed");
    if (out) *out = *it->second;
    return kSuccess;
}

template <class Update>
int update(const void* handle, const char* function, Update change)
{
    int status = lookup(handle, function, nullptr);
    if (status != kSuccess) return status;
    std::lock_guard<std::mutex> lock(g_mutex);
    change(*g_handles[handle]);
    return kSuccess;
}

std::string describe_op(int op) { return op < 0 ? "" : op == 0 ? " (op N)" : op == 1 ? " (op T)" : " (op C)"; }

// One operand of a GEMM as the checks and the loops see it.
struct Operand
{
    const char* name;     // "A", "B", "C"
    const char* lower;    // "a", "b", "c", as in lda
    std::uintptr_t base;
    Elem type;
    long long rows;       // stored rows (before op)
    long long cols;
    long long ld;
    long long stride;     // elements between batch members
};

// Every element the operand touches over the whole batch must lie in one live device allocation. The
// touched offsets span [lo, hi]; since an allocation is contiguous, checking the span is the same as
// checking each element.
int check_operand(const char* function, const Operand& x, long long batch)
{
    __int128 last_in_matrix = (__int128)(x.rows - 1) + (__int128)(x.cols - 1) * x.ld;
    __int128 batch_reach = (__int128)(batch - 1) * x.stride;
    __int128 lo = batch_reach < 0 ? batch_reach : 0;
    __int128 hi = (batch_reach > 0 ? batch_reach : 0) + last_in_matrix;
    std::size_t size = emu::gemm::elem_size(x.type);
    __int128 first_byte = (__int128)x.base + lo * (__int128)size;
    __int128 bytes = (hi - lo + 1) * (__int128)size;
    std::string where = std::string("operand ") + x.name + " (" + std::to_string(x.rows) + "x" + std::to_string(x.cols) +
        ", ld " + std::to_string(x.ld) + (batch > 1 ? ", stride " + std::to_string(x.stride) + ", batch " + std::to_string(batch) : "") + "): ";
    if (first_byte < 0 || first_byte > (__int128)UINTPTR_MAX || bytes > (__int128)SIZE_MAX / 2)
        return fail(kExecutionFailed, function, where + "its elements span an impossible address range from " + hex(x.base));
    auto p = static_cast<std::uintptr_t>(first_byte);
    auto n = static_cast<std::size_t>(bytes);
    if (emu::find_device_range(p, n, nullptr) != emu::Range::Inside)
        return fail(kExecutionFailed, function, where + emu::describe_range(p, n));
    return kSuccess;
}

// Two members of a strided batch write the same element of C when some difference of their offsets,
// t*stride for 0 < t < batch, equals di + dj*ldc with |di| < m, |dj| < n. Since ldc >= m, only the two
// column differences nearest D/ldc can match.
bool outputs_overlap(long long m, long long n, long long ldc, long long stride, long long batch)
{
    for (long long t = 1; t < batch; t++)
    {
        __int128 d = (__int128)t * stride;
        if (d < 0) d = -d;
        __int128 dj0 = d / ldc;
        for (__int128 dj = dj0; dj <= dj0 + 1; dj++)
        {
            __int128 di = d - dj * ldc;
            if (dj < n && di > -m && di < m) return true;
        }
    }
    return false;
}

// Reads α or β from where the pointer mode says it lives, as a double (exact for every compute type).
int read_scalar(const Handle& h, const char* function, const char* name, const void* p, Compute compute, double* out)
{
    auto address = reinterpret_cast<std::uintptr_t>(p);
    std::size_t size = emu::gemm::scalar_size(compute);
    if (p == nullptr) return fail(kInvalidValue, function, std::string(name) + " is a null pointer");
    emu::Range range = emu::find_device_range(address, size, nullptr);
    if (h.pointer_mode == 0 && range != emu::Range::Unknown)
        return fail(kExecutionFailed, function, std::string(name) + " = " + hex(address) +
            " points into device memory, but the pointer mode is host (0): " + emu::describe_range(address, size));
    if (h.pointer_mode == 1 && range != emu::Range::Inside)
        return fail(kExecutionFailed, function, std::string(name) + " = " + hex(address) +
            " must point into device memory, as the pointer mode is device (1): " + emu::describe_range(address, size));
    *out = emu::gemm::load_scalar(p, compute);
    return kSuccess;
}

struct Call
{
    const char* function;
    const void* handle;
    int transa, transb;
    long long m, n, k;
    const void* alpha;
    const void* beta;
    Operand a, b, c;
    long long batch;
    bool batched;          // a strided-batched entry point (batch and strides were given)
    Compute compute;
    InputRounding rounding;
    bool math_mode_applies;  // compute 32F: the handle's TF32 math mode (3) rounds A and B
};

int run_gemm(Call& call)
{
    const char* fn = call.function;
    Handle h;
    if (int status = lookup(call.handle, fn, &h)) return status;
    if (call.math_mode_applies && h.math_mode == 3) call.rounding = InputRounding::Tf32;
    for (int op : {call.transa, call.transb})
        if (op < 0 || op > 2) return fail(kInvalidValue, fn, "transa/transb = " + std::to_string(op) + " is not a cublasOperation_t (0 N, 1 T, 2 C)");
    if (call.m < 0 || call.n < 0 || call.k < 0)
        return fail(kInvalidValue, fn, "m, n, k = " + std::to_string(call.m) + ", " + std::to_string(call.n) + ", " + std::to_string(call.k) + ": none may be negative");
    // op(A) is m x k, so A is stored m x k (N) or k x m (T, C); likewise B.
    call.a.rows = call.transa ? call.k : call.m;
    call.a.cols = call.transa ? call.m : call.k;
    call.b.rows = call.transb ? call.n : call.k;
    call.b.cols = call.transb ? call.k : call.n;
    call.c.rows = call.m;
    call.c.cols = call.n;
    for (const Operand* x : {&call.a, &call.b, &call.c})
    {
        long long need = x->rows > 1 ? x->rows : 1;
        if (x->ld < need)
            return fail(kInvalidValue, fn, std::string("ld") + x->lower + " = " + std::to_string(x->ld) + " is below max(1, " +
                std::to_string(x->rows) + "), the stored rows of " + x->name + describe_op(x == &call.a ? call.transa : x == &call.b ? call.transb : -1));
    }
    if (call.batch < 0) return fail(kInvalidValue, fn, "batchCount = " + std::to_string(call.batch) + " is negative");
    if (call.batched && emu::strict() && call.m > 0 && call.n > 0 && call.batch > 1 &&
        outputs_overlap(call.m, call.n, call.c.ld, call.c.stride, call.batch))
        return fail(kInvalidValue, fn, "strideC = " + std::to_string(call.c.stride) + " with ldc " + std::to_string(call.c.ld) +
            " makes the " + std::to_string(call.m) + "x" + std::to_string(call.n) + " outputs of two batch members overlap (strict mode)");
    if (!emu::is_live_stream(h.stream))
        return fail(kExecutionFailed, fn, "the handle's stream " + hex(reinterpret_cast<std::uintptr_t>(h.stream)) + " was destroyed");

    double alpha = 0, beta = 0;
    if (int status = read_scalar(h, fn, "alpha", call.alpha, call.compute, &alpha)) return status;
    if (int status = read_scalar(h, fn, "beta", call.beta, call.compute, &beta)) return status;

    // Quick returns, as the reference BLAS: nothing is read or written.
    if (call.m == 0 || call.n == 0 || call.batch == 0) return kSuccess;
    bool reads_ab = alpha != 0 && call.k > 0;
    if (!reads_ab && beta == 1) return kSuccess;

    if (reads_ab)
    {
        if (int status = check_operand(fn, call.a, call.batch)) return status;
        if (int status = check_operand(fn, call.b, call.batch)) return status;
    }
    if (int status = check_operand(fn, call.c, call.batch)) return status;

    emu::gemm::Problem p;
    p.transa = call.transa != 0;
    p.transb = call.transb != 0;
    p.m = call.m;
    p.n = call.n;
    p.k = call.k;
    p.alpha = alpha;
    p.beta = beta;
    p.a = {call.a.base, call.a.type, call.a.ld, call.a.stride};
    p.b = {call.b.base, call.b.type, call.b.ld, call.b.stride};
    p.c = {call.c.base, call.c.type, call.c.ld, call.c.stride};
    p.batch = call.batch;
    p.compute = call.compute;
    p.rounding = call.rounding;
    {
        std::lock_guard<std::mutex> lock(emu::exec_mutex());
        emu::gemm::execute(p);
    }
    emu::count_library_call();
    return kSuccess;
}

Call plain_call(const char* function, const void* handle, int ta, int tb, int m, int n, int k, const void* alpha,
    const void* A, Elem at, int lda, long long sa, const void* B, Elem bt, int ldb, long long sb,
    const void* beta, void* C, Elem ct, int ldc, long long sc, long long batch, bool batched, Compute compute, InputRounding rounding, bool math_mode_applies)
{
    Call call;
    call.function = function;
    call.handle = handle;
    call.transa = ta;
    call.transb = tb;
    call.m = m;
    call.n = n;
    call.k = k;
    call.alpha = alpha;
    call.beta = beta;
    call.a = {"A", "a", reinterpret_cast<std::uintptr_t>(A), at, 0, 0, lda, sa};
    call.b = {"B", "b", reinterpret_cast<std::uintptr_t>(B), bt, 0, 0, ldb, sb};
    call.c = {"C", "c", reinterpret_cast<std::uintptr_t>(C), ct, 0, 0, ldc, sc};
    call.batch = batch;
    call.batched = batched;
    call.compute = compute;
    call.rounding = rounding;
    call.math_mode_applies = math_mode_applies;
    return call;
}

// The (A, B, C, compute) combinations cublasGemmEx supports here, with the compute kind and input
// rounding they imply. Anything else: 15.
int resolve_ex(const char* fn, const void* handle, int at, int bt, int ct, int compute_type, int algo,
    Elem* ea, Elem* eb, Elem* ec, Compute* compute, InputRounding* rounding, bool* math_mode_applies)
{
    if (int status = lookup(handle, fn, nullptr)) return status;
    bool documented_algo = algo == -1 || (algo >= 0 && algo <= 23) || (algo >= 99 && algo <= 115);
    if (!documented_algo) return fail(kInvalidValue, fn, "algo = " + std::to_string(algo) + " is not a cublasGemmAlgo_t");
    auto unsupported = [&] {
        return fail(kNotSupported, fn, "Atype/Btype/Ctype = " + std::to_string(at) + "/" + std::to_string(bt) + "/" + std::to_string(ct) +
            " with computeType " + std::to_string(compute_type) + " is not a supported combination");
    };
    *rounding = InputRounding::None;
    *math_mode_applies = false;
    if (at == 0 && bt == 0 && ct == 0)  // R_32F
    {
        *ea = *eb = *ec = Elem::F32;
        *compute = Compute::F32;
        switch (compute_type)
        {
        case 68: *math_mode_applies = true; return kSuccess;
        case 69: return kSuccess;
        case 74: *rounding = InputRounding::Half; return kSuccess;
        case 75: *rounding = InputRounding::Bf16; return kSuccess;
        case 77: *rounding = InputRounding::Tf32; return kSuccess;
        default: return unsupported();
        }
    }
    if (at == 1 && bt == 1 && ct == 1 && (compute_type == 70 || compute_type == 71))  // R_64F
    {
        *ea = *eb = *ec = Elem::F64;
        *compute = Compute::F64;
        return kSuccess;
    }
    if (at == 2 && bt == 2)  // R_16F inputs
    {
        *ea = *eb = Elem::F16;
        if (ct == 2 && (compute_type == 64 || compute_type == 65)) { *ec = Elem::F16; *compute = Compute::F16; return kSuccess; }
        if ((ct == 2 || ct == 0) && (compute_type == 68 || compute_type == 69)) { *ec = ct == 2 ? Elem::F16 : Elem::F32; *compute = Compute::F32; return kSuccess; }
        return unsupported();
    }
    if (at == 14 && bt == 14 && (ct == 14 || ct == 0) && (compute_type == 68 || compute_type == 69))  // R_16BF inputs
    {
        *ea = *eb = Elem::BF16;
        *ec = ct == 14 ? Elem::BF16 : Elem::F32;
        *compute = Compute::F32;
        return kSuccess;
    }
    return unsupported();
}

} // namespace

// ---- handles ------------------------------------------------------------------------------------------

EMU_BLAS_EXPORT int cublasCreate_v2(void** handle)
{
    const char* fn = "cublasCreate_v2";
    if (handle == nullptr) return fail(kInvalidValue, fn, "the handle pointer is null");
    if (!emu::initialized()) return fail(kNotInitialized, fn, "cuInit has not been called");
    void* context = emu::current_context();
    if (context == nullptr) return fail(kNotInitialized, fn, "no CUDA context is current on this thread");
    auto* h = new Handle;
    h->context = context;
    std::lock_guard<std::mutex> lock(g_mutex);
    g_handles[h] = h;
    *handle = h;
    return kSuccess;
}

EMU_BLAS_EXPORT int cublasDestroy_v2(void* handle)
{
    return update(handle, "cublasDestroy_v2", [](Handle& h) { h.alive = false; });
}

EMU_BLAS_EXPORT int cublasSetStream_v2(void* handle, void* stream)
{
    const char* fn = "cublasSetStream_v2";
    if (int status = lookup(handle, fn, nullptr)) return status;
    if (!emu::is_live_stream(stream))
        return fail(kInvalidValue, fn, "stream " + hex(reinterpret_cast<std::uintptr_t>(stream)) + " is not a live stream");
    return update(handle, fn, [stream](Handle& h) { h.stream = stream; });
}

// DISALLOW_REDUCED_PRECISION_REDUCTION (16) is a flag that real cuBLAS lets callers OR onto a mode; this
// emulation never reduces in reduced precision, so the flag is accepted and has no effect.
EMU_BLAS_EXPORT int cublasSetMathMode(void* handle, int mode)
{
    const char* fn = "cublasSetMathMode";
    if (int status = lookup(handle, fn, nullptr)) return status;
    int base = mode & ~16;
    if (mode < 0 || (base != 0 && base != 2 && base != 3))
        return fail(kInvalidValue, fn, "mode " + std::to_string(mode) + " is not 0 (default), 2 (pedantic) or 3 (TF32 tensor op)");
    return update(handle, fn, [base](Handle& h) { h.math_mode = base; });
}

EMU_BLAS_EXPORT int cublasSetPointerMode_v2(void* handle, int mode)
{
    const char* fn = "cublasSetPointerMode_v2";
    if (int status = lookup(handle, fn, nullptr)) return status;
    if (mode != 0 && mode != 1) return fail(kInvalidValue, fn, "mode " + std::to_string(mode) + " is not 0 (host) or 1 (device)");
    return update(handle, fn, [mode](Handle& h) { h.pointer_mode = mode; });
}

// The workspace is only remembered: the reference loops need none. (null, 0) restores the default.
EMU_BLAS_EXPORT int cublasSetWorkspace_v2(void* handle, void* workspace, std::size_t bytes)
{
    const char* fn = "cublasSetWorkspace_v2";
    if (int status = lookup(handle, fn, nullptr)) return status;
    auto p = reinterpret_cast<std::uintptr_t>(workspace);
    if (!(p == 0 && bytes == 0))
    {
        if (p % 256 != 0) return fail(kInvalidValue, fn, "workspace " + hex(p) + " is not aligned to 256 bytes");
        if (emu::find_device_range(p, bytes, nullptr) != emu::Range::Inside)
            return fail(kInvalidValue, fn, "workspace of " + std::to_string(bytes) + " bytes: " + emu::describe_range(p, bytes));
    }
    return update(handle, fn, [p, bytes](Handle& h) { h.workspace = p; h.workspace_bytes = bytes; });
}

// ---- GEMM ---------------------------------------------------------------------------------------------

EMU_BLAS_EXPORT int cublasSgemm_v2(void* handle, int ta, int tb, int m, int n, int k, const float* alpha,
    const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc)
{
    Call call = plain_call("cublasSgemm_v2", handle, ta, tb, m, n, k, alpha, A, Elem::F32, lda, 0, B, Elem::F32, ldb, 0,
        beta, C, Elem::F32, ldc, 0, 1, false, Compute::F32, InputRounding::None, true);
    return run_gemm(call);
}

EMU_BLAS_EXPORT int cublasDgemm_v2(void* handle, int ta, int tb, int m, int n, int k, const double* alpha,
    const double* A, int lda, const double* B, int ldb, const double* beta, double* C, int ldc)
{
    Call call = plain_call("cublasDgemm_v2", handle, ta, tb, m, n, k, alpha, A, Elem::F64, lda, 0, B, Elem::F64, ldb, 0,
        beta, C, Elem::F64, ldc, 0, 1, false, Compute::F64, InputRounding::None, false);
    return run_gemm(call);
}

EMU_BLAS_EXPORT int cublasSgemmStridedBatched(void* handle, int ta, int tb, int m, int n, int k, const float* alpha,
    const float* A, int lda, long long sa, const float* B, int ldb, long long sb, const float* beta,
    float* C, int ldc, long long sc, int batch)
{
    Call call = plain_call("cublasSgemmStridedBatched", handle, ta, tb, m, n, k, alpha, A, Elem::F32, lda, sa, B, Elem::F32, ldb, sb,
        beta, C, Elem::F32, ldc, sc, batch, true, Compute::F32, InputRounding::None, true);
    return run_gemm(call);
}

EMU_BLAS_EXPORT int cublasDgemmStridedBatched(void* handle, int ta, int tb, int m, int n, int k, const double* alpha,
    const double* A, int lda, long long sa, const double* B, int ldb, long long sb, const double* beta,
    double* C, int ldc, long long sc, int batch)
{
    Call call = plain_call("cublasDgemmStridedBatched", handle, ta, tb, m, n, k, alpha, A, Elem::F64, lda, sa, B, Elem::F64, ldb, sb,
        beta, C, Elem::F64, ldc, sc, batch, true, Compute::F64, InputRounding::None, false);
    return run_gemm(call);
}

EMU_BLAS_EXPORT int cublasGemmStridedBatchedEx(void* handle, int ta, int tb, int m, int n, int k, const void* alpha,
    const void* A, int at, int lda, long long sa, const void* B, int bt, int ldb, long long sb, const void* beta,
    void* C, int ct, int ldc, long long sc, int batch, int compute_type, int algo)
{
    const char* fn = "cublasGemmStridedBatchedEx";
    Elem ea, eb, ec;
    Compute compute;
    InputRounding rounding;
    bool math_mode_applies;
    if (int status = resolve_ex(fn, handle, at, bt, ct, compute_type, algo, &ea, &eb, &ec, &compute, &rounding, &math_mode_applies)) return status;
    Call call = plain_call(fn, handle, ta, tb, m, n, k, alpha, A, ea, lda, sa, B, eb, ldb, sb, beta, C, ec, ldc, sc, batch, true, compute, rounding, math_mode_applies);
    return run_gemm(call);
}

EMU_BLAS_EXPORT int cublasGemmEx(void* handle, int ta, int tb, int m, int n, int k, const void* alpha,
    const void* A, int at, int lda, const void* B, int bt, int ldb, const void* beta,
    void* C, int ct, int ldc, int compute_type, int algo)
{
    const char* fn = "cublasGemmEx";
    Elem ea, eb, ec;
    Compute compute;
    InputRounding rounding;
    bool math_mode_applies;
    if (int status = resolve_ex(fn, handle, at, bt, ct, compute_type, algo, &ea, &eb, &ec, &compute, &rounding, &math_mode_applies)) return status;
    Call call = plain_call(fn, handle, ta, tb, m, n, k, alpha, A, ea, lda, 0, B, eb, ldb, 0, beta, C, ec, ldc, 0, 1, false, compute, rounding, math_mode_applies);
    return run_gemm(call);
}
