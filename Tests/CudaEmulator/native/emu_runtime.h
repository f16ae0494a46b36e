// The emulator's internal contract between its parts: the driver core (cuda_emu.cpp and the files beside
// it: memory, contexts, streams, modules, launches) provides these functions; the library emulations
// (cuda_emu_blas.cpp, cuda_emu_fft.cpp) use them. Nothing here is exported from libcudaemu.so: the real
// CUDA names are the only exports (plus cuEmu*). Every function is safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

namespace emu {

// ---- errors -------------------------------------------------------------------------------------------
// The calling thread's detail message for the error a call is about to return. cuGetErrorString (and the
// library emulations' own error reporting, through CUDA_EMU_VERBOSE) append it to the code's standard text.
void set_detail(const char* library, const char* function, const std::string& message);
// Returns `code` after set_detail: `return emu::fail(13, "cublas", "cublasSgemm_v2", "operand A ...");`
int fail(int code, const char* library, const char* function, const std::string& message);
// The options (CUDA_EMU_* variables, or cuEmuSetOption): strict misuse checks, verbose error printing.
bool strict();
bool verbose();

// ---- driver state -------------------------------------------------------------------------------------
bool initialized();                 // cuInit(0) has succeeded in this process
void* current_context();            // the calling thread's current context, or nullptr
bool is_live_stream(void* stream);  // nullptr (the legacy stream) or a stream created and not destroyed

// ---- device memory ------------------------------------------------------------------------------------
struct Allocation
{
    std::uintptr_t base;   // first user byte (256-aligned)
    std::size_t bytes;     // user bytes as requested
    int id;                // #N in messages, counted from 1 in allocation order
    bool host;             // a pinned host allocation (cuMemHostAlloc / cuMemAllocHost), not device memory
};

enum class Range
{
    Inside,      // [p, p + bytes) lies in one live allocation of the kind asked for
    Freed,       // p is in an allocation that was freed (quarantined)
    Outside,     // p is in a live allocation but the range runs past its end
    Unknown,     // p is in no allocation the emulator made (a host pointer, a wild value, null)
};

// Looks up [p, p + bytes) among device allocations (host == false). `found` receives the allocation that
// contains p when there is one (Inside, Freed or Outside). bytes == 0 checks p alone.
Range find_device_range(std::uintptr_t p, std::size_t bytes, Allocation* found);

// A one-line description of why a range failed, naming the allocation, for messages:
// "0x7f.. + 4096 bytes runs 96 bytes past the end of allocation #3 (4000 bytes at 0x7f..)".
std::string describe_range(std::uintptr_t p, std::size_t bytes);

// Fills [p, p + bytes) with the poison byte 0xFF (a quiet NaN in f32 and f64): "nobody wrote this".
void poison(void* p, std::size_t bytes);

// ---- execution ----------------------------------------------------------------------------------------
// Held by every kernel launch and by every cuBLAS / cuFFT execution: one thing runs at a time, so device
// memory has one writer.
std::mutex& exec_mutex();

// Counters for cuEmuGetStats: the library emulations add their executions.
void count_library_call();

} // namespace emu
