// The driver's initialisation, devices, contexts, streams and events.
//
// Contexts are per thread, as in the driver: each thread has its own stack of current contexts, and a call
// that needs one on a thread that has none fails with 201 INVALID_CONTEXT, which is how the emulator catches
// "set the current context at each entry point" mistakes. Work is synchronous, so streams and events are
// validated handles; an event records a host timestamp.
#include "emu_internal.h"

#include <chrono>
#include <cstring>
#include <mutex>
#include <set>

namespace emu {

struct Context
{
    int device;
    bool primary;
    int retains;       // primary contexts only
    bool active;       // a primary context exists between its first retain and its last release
    unsigned flags;
    int sticky;        // CUDA_EMU_STICKY: the launch error every later call returns
    std::string sticky_message;
};

namespace {

struct Stream { Context* context; unsigned flags; };
struct Event { Context* context; unsigned flags; bool recorded; double milliseconds; };

constexpr int kMaxDevices = 16;

std::atomic<bool> g_initialized{false};
std::mutex g_handles;                 // guards the sets and every Context field
std::set<Context*> g_contexts;
std::set<Stream*> g_streams;
std::set<Event*> g_events;
Context* g_primary[kMaxDevices];
thread_local std::vector<Context*> t_stack;

double now_ms()
{
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

int check_init(const char* fn)
{
    return g_initialized ? kSuccess : driver_fail(kNotInitialized, fn, "cuInit has not been called");
}

int check_device(const char* fn, CUdevice device)
{
    if (device >= 0 && device < device_count() && device < kMaxDevices) return kSuccess;
    return driver_fail(kInvalidDevice, fn, format("device %d does not exist: the emulator has %d (CUDA_EMU_DEVICES)", device, device_count()));
}

bool live(Context* c) { return c && g_contexts.count(c) && (!c->primary || c->active); }

// Frees everything a context owns. The caller has removed it from use; takes the execution lock.
void destroy_resources(Context* c)
{
    {
        std::lock_guard<std::mutex> lock(g_handles);
        for (auto it = g_streams.begin(); it != g_streams.end();)
            if ((*it)->context == c) { delete *it; it = g_streams.erase(it); } else ++it;
        for (auto it = g_events.begin(); it != g_events.end();)
            if ((*it)->context == c) { delete *it; it = g_events.erase(it); } else ++it;
    }
    std::lock_guard<std::mutex> lock(exec_mutex());
    unload_context_modules(c);
    mem::free_context_allocations(c);
}

} // namespace

bool initialized() { return g_initialized; }

void* current_context()
{
    if (t_stack.empty()) return nullptr;
    std::lock_guard<std::mutex> lock(g_handles);
    return live(t_stack.back()) ? t_stack.back() : nullptr;
}

bool is_live_context(Context* context)
{
    std::lock_guard<std::mutex> lock(g_handles);
    return live(context);
}

int require_context(const char* fn, Context** out)
{
    *out = nullptr;
    if (int e = check_init(fn)) return e;
    if (t_stack.empty())
        return driver_fail(kInvalidContext, fn,
                           "no context is current on this thread (the current context is per thread: make the primary context "
                           "current with cuCtxSetCurrent at every entry point)");
    Context* c = t_stack.back();
    std::lock_guard<std::mutex> lock(g_handles);
    if (!g_contexts.count(c)) return driver_fail(kInvalidContext, fn, "the thread's current context was destroyed");
    if (c->primary && !c->active)
        return driver_fail(kInvalidContext, fn, format("the thread's current context is the primary context of device %d, which was "
                                                       "released by its last cuDevicePrimaryCtxRelease and destroyed", c->device));
    if (c->sticky)
        return driver_fail(c->sticky, fn, "the context is broken by an earlier error (CUDA_EMU_STICKY=1): " + c->sticky_message);
    *out = c;
    return kSuccess;
}

void set_sticky(Context* c, int code, const std::string& message)
{
    if (!sticky_errors() || c == nullptr) return;
    std::lock_guard<std::mutex> lock(g_handles);
    if (g_contexts.count(c) && c->sticky == 0) { c->sticky = code; c->sticky_message = message; }
}

bool is_live_stream(void* stream)
{
    if (stream == nullptr || stream == (void*)1 || stream == (void*)2) return true;   // legacy and per-thread streams
    std::lock_guard<std::mutex> lock(g_handles);
    return g_streams.count((Stream*)stream) != 0;
}

} // namespace emu

using namespace emu;

// ---- initialisation and devices -------------------------------------------------------------------------
EMU_EXPORT CUresult cuInit(unsigned flags)
{
    if (flags != 0) return driver_fail(kInvalidValue, "cuInit", format("flags must be 0, not %u", flags));
    if (device_count() == 0) return driver_fail(kNoDevice, "cuInit", "CUDA_EMU_DEVICES=0");
    install_fault_handlers();
    g_initialized = true;
    return kSuccess;
}

EMU_EXPORT CUresult cuDriverGetVersion(int* version)
{
    if (version == nullptr) return driver_fail(kInvalidValue, "cuDriverGetVersion", "version is null");
    *version = driver_version();
    return kSuccess;
}

EMU_EXPORT CUresult cuDeviceGetCount(int* count)
{
    if (int e = check_init("cuDeviceGetCount")) return e;
    if (count == nullptr) return driver_fail(kInvalidValue, "cuDeviceGetCount", "count is null");
    *count = device_count() < kMaxDevices ? device_count() : kMaxDevices;
    return kSuccess;
}

EMU_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal)
{
    if (int e = check_init("cuDeviceGet")) return e;
    if (device == nullptr) return driver_fail(kInvalidValue, "cuDeviceGet", "device is null");
    if (int e = check_device("cuDeviceGet", ordinal)) return e;
    *device = ordinal;
    return kSuccess;
}

EMU_EXPORT CUresult cuDeviceGetName(char* name, int length, CUdevice device)
{
    if (int e = check_init("cuDeviceGetName")) return e;
    if (name == nullptr || length <= 0) return driver_fail(kInvalidValue, "cuDeviceGetName", "name is null or length is not positive");
    if (int e = check_device("cuDeviceGetName", device)) return e;
    const char* text = "CUDA emulator (CPU)";
    std::size_t n = std::strlen(text) < (std::size_t)length - 1 ? std::strlen(text) : (std::size_t)length - 1;
    std::memcpy(name, text, n);
    name[n] = '\0';
    return kSuccess;
}

EMU_EXPORT CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice device)
{
    if (int e = check_init("cuDeviceGetAttribute")) return e;
    if (value == nullptr) return driver_fail(kInvalidValue, "cuDeviceGetAttribute", "value is null");
    if (int e = check_device("cuDeviceGetAttribute", device)) return e;
    int cc = compute_capability();
    switch (attribute)   // an H100 SXM's figures, the compute capability from CUDA_EMU_CC
    {
        case 1: *value = 1024; break;                       // MAX_THREADS_PER_BLOCK
        case 2: case 3: *value = 1024; break;               // MAX_BLOCK_DIM_X, _Y
        case 4: *value = 64; break;                         // MAX_BLOCK_DIM_Z
        case 5: *value = 2147483647; break;                 // MAX_GRID_DIM_X
        case 6: case 7: *value = 65535; break;              // MAX_GRID_DIM_Y, _Z
        case 8: *value = 49152; break;                      // MAX_SHARED_MEMORY_PER_BLOCK
        case 9: *value = 65536; break;                      // TOTAL_CONSTANT_MEMORY
        case 10: *value = 32; break;                        // WARP_SIZE
        case 12: *value = 65536; break;                     // MAX_REGISTERS_PER_BLOCK
        case 13: *value = 1980000; break;                   // CLOCK_RATE (kHz)
        case 15: *value = 1; break;                         // GPU_OVERLAP
        case 16: *value = 132; break;                       // MULTIPROCESSOR_COUNT
        case 17: case 18: *value = 0; break;                // KERNEL_EXEC_TIMEOUT, INTEGRATED
        case 19: *value = 1; break;                         // CAN_MAP_HOST_MEMORY
        case 20: *value = 0; break;                         // COMPUTE_MODE
        case 31: *value = 1; break;                         // CONCURRENT_KERNELS
        case 38: *value = 52428800; break;                  // L2_CACHE_SIZE
        case 39: *value = 2048; break;                      // MAX_THREADS_PER_MULTIPROCESSOR
        case 41: *value = 1; break;                         // UNIFIED_ADDRESSING
        case 75: *value = cc / 10; break;                   // COMPUTE_CAPABILITY_MAJOR
        case 76: *value = cc % 10; break;                   // COMPUTE_CAPABILITY_MINOR
        case 81: *value = 233472; break;                    // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
        case 82: *value = 65536; break;                     // MAX_REGISTERS_PER_MULTIPROCESSOR
        case 97: *value = 232448; break;                    // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
        case 115: *value = 1; break;                        // MEMORY_POOLS_SUPPORTED
        default:
            return driver_fail(kInvalidValue, "cuDeviceGetAttribute", format("attribute %d is not emulated", attribute));
    }
    return kSuccess;
}

EMU_EXPORT CUresult cuDeviceTotalMem_v2(std::size_t* bytes, CUdevice device)
{
    if (int e = check_init("cuDeviceTotalMem_v2")) return e;
    if (bytes == nullptr) return driver_fail(kInvalidValue, "cuDeviceTotalMem_v2", "bytes is null");
    if (int e = check_device("cuDeviceTotalMem_v2", device)) return e;
    *bytes = memory_capacity();
    return kSuccess;
}

// ---- contexts --------------------------------------------------------------------------------------------
EMU_EXPORT CUresult cuDevicePrimaryCtxRetain(void** context, CUdevice device)
{
    if (int e = check_init("cuDevicePrimaryCtxRetain")) return e;
    if (context == nullptr) return driver_fail(kInvalidValue, "cuDevicePrimaryCtxRetain", "pctx is null");
    if (int e = check_device("cuDevicePrimaryCtxRetain", device)) return e;
    std::lock_guard<std::mutex> lock(g_handles);
    Context*& c = g_primary[device];
    if (c == nullptr) { c = new Context{device, true, 0, false, 0, 0, {}}; g_contexts.insert(c); }
    if (c->retains++ == 0) { c->active = true; c->sticky = 0; c->sticky_message.clear(); }
    *context = c;
    return kSuccess;
}

EMU_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device)
{
    if (int e = check_init("cuDevicePrimaryCtxRelease_v2")) return e;
    if (int e = check_device("cuDevicePrimaryCtxRelease_v2", device)) return e;
    Context* c;
    {
        std::lock_guard<std::mutex> lock(g_handles);
        c = g_primary[device];
        if (c == nullptr || c->retains == 0)
            return driver_fail(kInvalidContext, "cuDevicePrimaryCtxRelease_v2", format("the primary context of device %d is not retained", device));
        if (--c->retains > 0) return kSuccess;
        c->active = false;
    }
    destroy_resources(c);
    return kSuccess;
}

EMU_EXPORT CUresult cuCtxCreate_v2(void** context, unsigned flags, CUdevice device)
{
    if (int e = check_init("cuCtxCreate_v2")) return e;
    if (context == nullptr) return driver_fail(kInvalidValue, "cuCtxCreate_v2", "pctx is null");
    if (flags & ~0x3Fu) return driver_fail(kInvalidValue, "cuCtxCreate_v2", format("unknown flags 0x%x", flags));
    if (int e = check_device("cuCtxCreate_v2", device)) return e;
    Context* c = new Context{device, false, 0, true, flags, 0, {}};
    {
        std::lock_guard<std::mutex> lock(g_handles);
        g_contexts.insert(c);
    }
    t_stack.push_back(c);
    *context = c;
    return kSuccess;
}

EMU_EXPORT CUresult cuCtxDestroy_v2(void* context)
{
    if (int e = check_init("cuCtxDestroy_v2")) return e;
    Context* c = (Context*)context;
    {
        std::lock_guard<std::mutex> lock(g_handles);
        if (!g_contexts.count(c)) return driver_fail(kInvalidContext, "cuCtxDestroy_v2", format("%p is not a live context", context));
        if (c->primary)
            return driver_fail(kInvalidContext, "cuCtxDestroy_v2", "a primary context is released with cuDevicePrimaryCtxRelease, not destroyed");
        g_contexts.erase(c);
    }
    for (auto it = t_stack.begin(); it != t_stack.end();)
        it = (*it == c) ? t_stack.erase(it) : it + 1;
    destroy_resources(c);
    delete c;
    return kSuccess;
}

EMU_EXPORT CUresult cuCtxSetCurrent(void* context)
{
    if (int e = check_init("cuCtxSetCurrent")) return e;
    if (context == nullptr) { if (!t_stack.empty()) t_stack.pop_back(); return kSuccess; }
    if (!is_live_context((Context*)context))
        return driver_fail(kInvalidContext, "cuCtxSetCurrent", format("%p is not a live context (destroyed, or a primary context released)", context));
    if (t_stack.empty()) t_stack.push_back((Context*)context);
    else t_stack.back() = (Context*)context;
    return kSuccess;
}

EMU_EXPORT CUresult cuCtxGetCurrent(void** context)
{
    if (int e = check_init("cuCtxGetCurrent")) return e;
    if (context == nullptr) return driver_fail(kInvalidValue, "cuCtxGetCurrent", "pctx is null");
    *context = t_stack.empty() ? nullptr : t_stack.back();
    return kSuccess;
}

EMU_EXPORT CUresult cuCtxPushCurrent_v2(void* context)
{
    if (int e = check_init("cuCtxPushCurrent_v2")) return e;
    if (!is_live_context((Context*)context))
        return driver_fail(kInvalidContext, "cuCtxPushCurrent_v2", format("%p is not a live context", context));
    t_stack.push_back((Context*)context);
    return kSuccess;
}

EMU_EXPORT CUresult cuCtxPopCurrent_v2(void** context)
{
    if (int e = check_init("cuCtxPopCurrent_v2")) return e;
    if (t_stack.empty()) return driver_fail(kInvalidContext, "cuCtxPopCurrent_v2", "the thread's context stack is empty");
    if (context) *context = t_stack.back();
    t_stack.pop_back();
    return kSuccess;
}

EMU_EXPORT CUresult cuCtxSynchronize()
{
    Context* c;
    if (int e = require_context("cuCtxSynchronize", &c)) return e;
    std::lock_guard<std::mutex> lock(exec_mutex());
    std::string damage = mem::check_context_red_zones(c);
    if (!damage.empty()) return driver_fail(kIllegalAddress, "cuCtxSynchronize", damage + " (found at synchronisation, outside any launch)");
    return kSuccess;
}

// ---- streams ---------------------------------------------------------------------------------------------
EMU_EXPORT CUresult cuStreamCreate(void** stream, unsigned flags)
{
    Context* c;
    if (int e = require_context("cuStreamCreate", &c)) return e;
    if (stream == nullptr) return driver_fail(kInvalidValue, "cuStreamCreate", "phStream is null");
    if (flags > 1) return driver_fail(kInvalidValue, "cuStreamCreate", format("flags must be 0 or 1 (NON_BLOCKING), not %u", flags));
    Stream* s = new Stream{c, flags};
    std::lock_guard<std::mutex> lock(g_handles);
    g_streams.insert(s);
    *stream = s;
    return kSuccess;
}

EMU_EXPORT CUresult cuStreamDestroy_v2(void* stream)
{
    if (int e = check_init("cuStreamDestroy_v2")) return e;
    std::lock_guard<std::mutex> lock(g_handles);
    if (!g_streams.erase((Stream*)stream))
        return driver_fail(kInvalidHandle, "cuStreamDestroy_v2", format("%p is not a live stream (destroyed twice, or never created)", stream));
    delete (Stream*)stream;
    return kSuccess;
}

EMU_EXPORT CUresult cuStreamSynchronize(void* stream)
{
    Context* c;
    if (int e = require_context("cuStreamSynchronize", &c)) return e;
    if (!is_live_stream(stream)) return driver_fail(kInvalidHandle, "cuStreamSynchronize", format("%p is not a live stream", stream));
    return kSuccess;
}

EMU_EXPORT CUresult cuStreamWaitEvent(void* stream, void* event, unsigned flags)
{
    Context* c;
    if (int e = require_context("cuStreamWaitEvent", &c)) return e;
    if (!is_live_stream(stream)) return driver_fail(kInvalidHandle, "cuStreamWaitEvent", format("%p is not a live stream", stream));
    if (flags > 1) return driver_fail(kInvalidValue, "cuStreamWaitEvent", format("flags must be 0, not %u", flags));
    std::lock_guard<std::mutex> lock(g_handles);
    if (!g_events.count((Event*)event)) return driver_fail(kInvalidHandle, "cuStreamWaitEvent", format("%p is not a live event", event));
    return kSuccess;
}

// ---- events ----------------------------------------------------------------------------------------------
EMU_EXPORT CUresult cuEventCreate(void** event, unsigned flags)
{
    Context* c;
    if (int e = require_context("cuEventCreate", &c)) return e;
    if (event == nullptr) return driver_fail(kInvalidValue, "cuEventCreate", "phEvent is null");
    if ((flags & ~7u) || ((flags & 4) && !(flags & 2)))
        return driver_fail(kInvalidValue, "cuEventCreate", format("flags 0x%x: allowed are 1 BLOCKING_SYNC, 2 DISABLE_TIMING, "
                                                                  "4 INTERPROCESS (with DISABLE_TIMING)", flags));
    Event* ev = new Event{c, flags, false, 0};
    std::lock_guard<std::mutex> lock(g_handles);
    g_events.insert(ev);
    *event = ev;
    return kSuccess;
}

EMU_EXPORT CUresult cuEventRecord(void* event, void* stream)
{
    Context* c;
    if (int e = require_context("cuEventRecord", &c)) return e;
    if (!is_live_stream(stream)) return driver_fail(kInvalidHandle, "cuEventRecord", format("%p is not a live stream", stream));
    std::lock_guard<std::mutex> lock(g_handles);
    if (!g_events.count((Event*)event)) return driver_fail(kInvalidHandle, "cuEventRecord", format("%p is not a live event", event));
    ((Event*)event)->recorded = true;
    ((Event*)event)->milliseconds = now_ms();
    return kSuccess;
}

EMU_EXPORT CUresult cuEventSynchronize(void* event)
{
    if (int e = check_init("cuEventSynchronize")) return e;
    std::lock_guard<std::mutex> lock(g_handles);
    if (!g_events.count((Event*)event)) return driver_fail(kInvalidHandle, "cuEventSynchronize", format("%p is not a live event", event));
    return kSuccess;
}

EMU_EXPORT CUresult cuEventDestroy_v2(void* event)
{
    if (int e = check_init("cuEventDestroy_v2")) return e;
    std::lock_guard<std::mutex> lock(g_handles);
    if (!g_events.erase((Event*)event))
        return driver_fail(kInvalidHandle, "cuEventDestroy_v2", format("%p is not a live event (destroyed twice, or never created)", event));
    delete (Event*)event;
    return kSuccess;
}

EMU_EXPORT CUresult cuEventElapsedTime(float* milliseconds, void* start, void* end)
{
    if (int e = check_init("cuEventElapsedTime")) return e;
    if (milliseconds == nullptr) return driver_fail(kInvalidValue, "cuEventElapsedTime", "pMilliseconds is null");
    std::lock_guard<std::mutex> lock(g_handles);
    Event* events[2] = {(Event*)start, (Event*)end};
    const char* names[2] = {"start", "end"};
    for (int i = 0; i < 2; ++i)
    {
        if (!g_events.count(events[i])) return driver_fail(kInvalidHandle, "cuEventElapsedTime", format("the %s event %p is not a live event", names[i], (void*)events[i]));
        if (events[i]->flags & 2)
            return driver_fail(kInvalidHandle, "cuEventElapsedTime", format("the %s event was created with CU_EVENT_DISABLE_TIMING", names[i]));
        if (!events[i]->recorded) return driver_fail(kInvalidHandle, "cuEventElapsedTime", format("the %s event has not been recorded", names[i]));
    }
    *milliseconds = (float)(events[1]->milliseconds - events[0]->milliseconds);
    return kSuccess;
}
