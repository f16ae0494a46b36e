// Failure reporting shared by the cuBLAS and cuFFT emulations. Real cuBLAS/cuFFT return a bare status
// code, and the engine's bindings have nowhere to ask for more; so besides emu::fail (the core's detail
// and CUDA_EMU_VERBOSE) the calling thread's last library failure is kept here, and tests read it through
// the emulator-only export cuEmuGetLastLibraryError (cuda_emu_lib_error.cpp).
#pragma once

#include <string>

namespace emu::lib {

// emu::fail, plus the thread's "library: function: message" for cuEmuGetLastLibraryError. Returns code.
int fail(int code, const char* library, const char* function, const std::string& message);

} // namespace emu::lib
