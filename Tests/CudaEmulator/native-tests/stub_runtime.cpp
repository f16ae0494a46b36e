// A stand-in for the driver core, for testing the cuBLAS/cuFFT emulations on their own: emu_runtime.h
// implemented over plain aligned host buffers. "Device" allocations are never returned to the system,
// so a freed one is still recognised (as the core's quarantine does). Test-only; not part of the library.
#include "stub_runtime.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

namespace {

struct Block
{
    emu::Allocation info;
    bool freed;
};

std::mutex g_alloc_mutex;
std::vector<Block> g_blocks;
std::set<void*> g_streams;
bool g_initialized = true;
void* g_context = reinterpret_cast<void*>(0xC0);
bool g_strict = true;
long g_library_calls = 0;
thread_local std::string t_detail;

std::string hex(std::uintptr_t p)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%" PRIxPTR, p);
    return buffer;
}

const Block* find_block(std::uintptr_t p)
{
    for (const Block& b : g_blocks)
        if (p >= b.info.base && p < b.info.base + b.info.bytes) return &b;
    return nullptr;
}

} // namespace

namespace emu {

void set_detail(const char* library, const char* function, const std::string& message)
{
    t_detail = std::string(library) + ": " + function + ": " + message;
}

int fail(int code, const char* library, const char* function, const std::string& message)
{
    set_detail(library, function, message);
    return code;
}

bool strict() { return g_strict; }
bool verbose() { return false; }
bool initialized() { return g_initialized; }
void* current_context() { return g_initialized ? g_context : nullptr; }

bool is_live_stream(void* stream)
{
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    return stream == nullptr || g_streams.count(stream) != 0;
}

Range find_device_range(std::uintptr_t p, std::size_t bytes, Allocation* found)
{
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    const Block* b = find_block(p);
    if (b == nullptr) return Range::Unknown;
    if (found) *found = b->info;
    if (b->freed) return Range::Freed;
    return p + bytes <= b->info.base + b->info.bytes ? Range::Inside : Range::Outside;
}

std::string describe_range(std::uintptr_t p, std::size_t bytes)
{
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    const Block* b = find_block(p);
    if (b == nullptr) return hex(p) + " + " + std::to_string(bytes) + " bytes is in no device allocation";
    std::string what = "allocation #" + std::to_string(b->info.id) + " (" + std::to_string(b->info.bytes) + " bytes at " + hex(b->info.base) + ")";
    if (b->freed) return hex(p) + " is in freed " + what;
    std::size_t end = p + bytes - (b->info.base + b->info.bytes);
    return hex(p) + " + " + std::to_string(bytes) + " bytes runs " + std::to_string(end) + " bytes past the end of " + what;
}

void poison(void* p, std::size_t bytes) { std::memset(p, 0xFF, bytes); }

std::mutex& exec_mutex()
{
    static std::mutex m;
    return m;
}

void count_library_call()
{
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_library_calls++;
}

} // namespace emu

namespace stub {

void* device_alloc(std::size_t bytes)
{
    std::size_t rounded = (bytes + 255) / 256 * 256;
    void* p = std::aligned_alloc(256, rounded);
    std::memset(p, 0xFF, rounded);
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_blocks.push_back({{reinterpret_cast<std::uintptr_t>(p), bytes, static_cast<int>(g_blocks.size()) + 1, false}, false});
    return p;
}

void device_free(void* p)
{
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    for (Block& b : g_blocks)
        if (b.info.base == reinterpret_cast<std::uintptr_t>(p)) b.freed = true;
}

void* make_stream()
{
    static char storage[64];
    static int next = 0;
    void* s = &storage[next++ % 64];
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_streams.insert(s);
    return s;
}

void destroy_stream(void* s)
{
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_streams.erase(s);
}

void set_initialized(bool value) { g_initialized = value; }
void set_context(void* context) { g_context = context; }
void set_strict(bool value) { g_strict = value; }
const std::string& last_detail() { return t_detail; }
long library_calls() { return g_library_calls; }

} // namespace stub
