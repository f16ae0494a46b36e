// Declarations shared by the files of the driver core (not by the cuBLAS/cuFFT emulations, which see only
// emu_runtime.h). Exported C functions are defined with EMU_EXPORT; everything else is hidden.
#pragma once

#include "cuda_emu_abi.h"
#include "emu_runtime.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

namespace emu {

// CUresult values the emulator returns.
enum : int
{
    kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kNotInitialized = 3, kNoDevice = 100, kInvalidDevice = 101,
    kInvalidImage = 200, kInvalidContext = 201, kInvalidPtx = 218, kInvalidHandle = 400, kNotFound = 500,
    kNotReady = 600, kIllegalAddress = 700, kLaunchOutOfResources = 701, kLaunchFailed = 719, kNotSupported = 801,
};

// ---- errors (emu_errors.cpp) ------------------------------------------------------------------------------
// fail() for the driver: sets the thread's detail message and returns code.
int driver_fail(int code, const char* function, const std::string& message);
// printf-style formatting into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "4.00 KiB (4096 bytes)"
std::string format_bytes(std::uint64_t bytes);

// ---- options (emu_options.cpp): CUDA_EMU_* variables, or cuEmuSetOption ------------------------------------
enum class Schedule { Forward, Reverse, Random };
std::uint64_t memory_capacity();
int compute_capability();        // 90 for 9.0
int device_count();
std::size_t fiber_stack_bytes();
std::string cxx_optimization();  // "-O1"
std::string cxx_program();       // "g++"
std::string module_cache_dir();  // "" when the cache is off
Schedule schedule(std::uint64_t* seed);
bool sticky_errors();
double launch_timeout_seconds(); // 0: no watchdog
int driver_version();
int quarantine_limit();
bool debug_info();

// ---- counters (cuEmuGetStats) ------------------------------------------------------------------------
struct Counters
{
    std::atomic<std::uint64_t> launches{0}, blocks{0}, threads{0}, switches{0}, fibers{0}, barriers{0}, warp_rounds{0};
    std::atomic<std::uint64_t> compiles{0}, compile_cache_hits{0}, modules_loaded{0}, library_calls{0}, errors{0};
};
Counters& counters();

// ---- contexts (cuda_emu.cpp) -----------------------------------------------------------------------------
struct Context;
// The calling thread's current context after the common checks (cuInit, a live current context, a sticky
// error); on failure returns the code with the detail set and *out is null.
int require_context(const char* function, Context** out);
void set_sticky(Context* context, int code, const std::string& message);
bool is_live_context(Context* context);

// ---- memory (emu_memory.cpp) -----------------------------------------------------------------------------
namespace mem {
struct Block;   // one guarded mapping
int allocate(std::size_t bytes, bool host, Context* context, std::uintptr_t* out, const char* function);
// Frees the allocation starting at p (the caller holds exec_mutex, so no kernel is using it).
int release(std::uintptr_t p, bool host, const char* function);
bool is_pinned_range(std::uintptr_t p, std::size_t bytes);
std::uint64_t device_bytes_in_use();
std::string check_context_red_zones(Context* context);
// What a kernel's pointer parameter refers to.
struct PointerCheck
{
    Range range;
    Allocation allocation;
    Block* block;  // for the red-zone check after the launch (live device blocks only)
};
PointerCheck check_pointer(std::uintptr_t p);
// After a launch: the red zones of the blocks the launch received; "" when intact (re-arms them).
std::string check_red_zones(Block* const* blocks, std::size_t count);
// What an address a kernel faulted on was: "past the end of allocation #3 (...), offset 278528".
std::string describe_fault_address(std::uintptr_t address);
void free_context_allocations(Context* context);
std::mutex& mutex();
} // namespace mem

// ---- modules and launches (emu_module.cpp, emu_scheduler.cpp) ---------------------------------------------
struct Module;
void unload_context_modules(Context* context);

struct LaunchSpec
{
    const char* kernel_name;
    const cuda_emu_kernel* kernel;
    const cuda_emu_module_info* module;
    std::uintptr_t module_text_begin, module_text_end;
    cuda_emu_dim3 grid, block;
    unsigned dynamic_shared_bytes;
    const void* params;             // packed as the kernel's layout says
};
// Runs every block; returns 0 or the launch's error code, with *message saying what happened.
int run_launch(const LaunchSpec& spec, std::string* message);
// The table handed to every module.
const cuda_emu_runtime* runtime_table();

// ---- faults (emu_faults.cpp) ----------------------------------------------------------------------------
void install_fault_handlers();
// Gives the calling thread an alternate signal stack when it has none (a fiber's stack overflow needs one).
void ensure_signal_stack();
void watchdog_arm(double seconds);
void watchdog_disarm();

// ---- the scheduler's hooks for the fault handler -------------------------------------------------------
struct FaultReport
{
    int signal;
    int code;
    std::uintptr_t address;
    std::uintptr_t pc;
    bool write;
};
// Called from a signal handler: whether the fault belongs to the running launch (this thread, in a fiber).
bool fault_is_ours(std::uintptr_t pc, bool watchdog);
// Records the fault and switches to the launcher. Never returns.
[[noreturn]] void abandon_fiber_after_fault(const FaultReport& report);
// Fiber stacks, for describing a fault: "fiber stack overflow" when the address is in a stack's guard.
bool is_fiber_guard(std::uintptr_t address);
bool is_dynamic_shared_guard(std::uintptr_t address, unsigned* launch_bytes);

// ---- NVRTC (emu_nvrtc.cpp) and its helpers (emu_util.cpp) -----------------------------------------------
std::string sha256_hex(const std::string& data);
std::string base64_encode(const std::string& bytes);
bool base64_decode(const char* text, std::size_t length, std::string* bytes);
extern const char kImageMagic[];   // "//CUDA-EMU-IMAGE v1\n"

// The embedded files (emu_embedded.S): NUL-terminated text.
extern "C" const char cuda_emu_embedded_shim[], cuda_emu_embedded_math[], cuda_emu_embedded_abi[], cuda_emu_embedded_ld[];

} // namespace emu
