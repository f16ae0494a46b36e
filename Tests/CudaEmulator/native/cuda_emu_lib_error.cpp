// The calling thread's last cuBLAS/cuFFT failure, for tests (see emu_lib_error.h).
#include "emu_lib_error.h"
#include "emu_runtime.h"

namespace {
thread_local std::string t_last;
}

int emu::lib::fail(int code, const char* library, const char* function, const std::string& message)
{
    t_last = std::string(library) + ": " + function + " returned " + std::to_string(code) + ": " + message;
    return emu::fail(code, library, function, message);
}

// Points *text at the calling thread's last cuBLAS/cuFFT failure ("cublas: cublasSgemm_v2 returned 13:
// operand B ..."), or at "" when there was none; valid until the thread's next library failure. Returns 0,
// or 1 (CUDA_ERROR_INVALID_VALUE) when text is null.
extern "C" __attribute__((visibility("default"))) int cuEmuGetLastLibraryError(const char** text)
{
    if (text == nullptr) return 1;
    *text = t_last.c_str();
    return 0;
}
