// Error reporting: the driver's names and texts for CUresult codes, and the calling thread's detail message,
// which cuGetErrorString appends to the standard text when asked about the thread's last error. The engine's
// CudaException quotes cuGetErrorString, so an emulator explanation reaches the test's failure message.
#include "emu_internal.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace emu {
namespace {

struct ErrorText { int code; const char* name; const char* text; };

const ErrorText kErrors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {4, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {34, "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"},
    {35, "CUDA_ERROR_INSUFFICIENT_DRIVER", "CUDA driver version is insufficient for CUDA runtime version"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {202, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT", "context already current"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain."},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {702, "CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated"},
    {709, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {710, "CUDA_ERROR_ASSERT", "device-side assert triggered"},
    {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"},
    {716, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const ErrorText* find_error(int code)
{
    for (const auto& e : kErrors)
        if (e.code == code) return &e;
    return nullptr;
}

// The thread's last failure. code is -1 while only set_detail has run (the code comes with the return).
struct LastError
{
    int code = 0;
    std::string library, function, message;
    std::string rendered;   // the buffer cuGetErrorString hands out
};
thread_local LastError t_last;

bool is_driver(const std::string& library) { return library == "driver" || library == "cuda"; }

} // namespace

void set_detail(const char* library, const char* function, const std::string& message)
{
    t_last.code = -1;
    t_last.library = library ? library : "";
    t_last.function = function ? function : "";
    t_last.message = message;
}

int fail(int code, const char* library, const char* function, const std::string& message)
{
    set_detail(library, function, message);
    t_last.code = code;
    counters().errors++;
    if (verbose()) std::fprintf(stderr, "[cuda-emu] %s: %s returned %d: %s\n", library, function, code, message.c_str());
    return code;
}

int driver_fail(int code, const char* function, const std::string& message) { return fail(code, "driver", function, message); }

std::string format(const char* fmt, ...)
{
    char small[512];
    va_list args;
    va_start(args, fmt);
    int n = std::vsnprintf(small, sizeof small, fmt, args);
    va_end(args);
    if (n < 0) return "";
    if ((std::size_t)n < sizeof small) return std::string(small, (std::size_t)n);
    std::string big((std::size_t)n + 1, '\0');
    va_start(args, fmt);
    std::vsnprintf(&big[0], big.size(), fmt, args);
    va_end(args);
    big.resize((std::size_t)n);
    return big;
}

std::string format_bytes(std::uint64_t bytes)
{
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double value = (double)bytes;
    int unit = 0;
    while (value >= 1024 && unit < 4) { value /= 1024; ++unit; }
    if (unit == 0) return format("%llu bytes", (unsigned long long)bytes);
    return format("%.2f %s (%llu bytes)", value, units[unit], (unsigned long long)bytes);
}

} // namespace emu

using namespace emu;

EMU_EXPORT CUresult cuGetErrorName(CUresult error, const char** name)
{
    if (name == nullptr) return kInvalidValue;
    const ErrorText* e = find_error(error);
    *name = e ? e->name : nullptr;
    return e ? kSuccess : kInvalidValue;
}

EMU_EXPORT CUresult cuGetErrorString(CUresult error, const char** text)
{
    if (text == nullptr) return kInvalidValue;
    const ErrorText* e = find_error(error);
    if (e == nullptr) { *text = nullptr; return kInvalidValue; }
    bool ours = error != 0 && is_driver(t_last.library) && (t_last.code == error || t_last.code == -1) && !t_last.message.empty();
    if (!ours) { *text = e->text; return kSuccess; }
    t_last.rendered = std::string(e->text) + ": " + t_last.message;
    *text = t_last.rendered.c_str();
    return kSuccess;
}
