// Device and pinned host memory: each allocation is its own mapping,
//
//   [ PROT_NONE guard ][ front red zone ][ user bytes, 256-aligned ][ slack < 256 B ][ PROT_NONE guard ]
//
// with guards as large as the data (64 KiB to 256 MiB), so that an overrun faults in the buffer's own guard
// and not in a neighbour that mmap placed right after it. Red zones and slack hold the 16-bit pattern 0xFFFB
// (a NaN in f32 and f64, distinct from the 0xFF poison of fresh memory); a write into them is found after
// the launch. Freed allocations stay mapped PROT_NONE in a quarantine, so that a kernel touching one
// faults and is told which allocation it was.
#include "emu_internal.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <map>
#include <mutex>

namespace emu {
namespace mem {

struct Block
{
    int id;
    bool host;
    bool live;
    std::uintptr_t map_begin, map_end;    // the whole mapping, guards included
    std::uintptr_t data_begin, data_end;  // the read-write pages
    std::uintptr_t base;                  // the first user byte
    std::size_t bytes;
    Context* context;
};

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kMinGuard = 64 << 10, kMaxGuard = 256u << 20;
constexpr std::size_t kMinFrontRedZone = 256;

struct Registry
{
    std::mutex mutex;
    std::map<std::uintptr_t, Block*> blocks;   // by map_begin
    std::deque<Block*> quarantine;
    std::uint64_t device_bytes = 0;
    int next_id = 1;
};

Registry& registry()
{
    static Registry* r = new Registry();   // never destroyed: kernels may run during static destruction
    return *r;
}

std::size_t round_up(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

inline unsigned char pattern_at(std::uintptr_t address) { return (address & 1) ? 0xFF : 0xFB; }

void fill_pattern(std::uintptr_t begin, std::uintptr_t end)
{
    for (std::uintptr_t a = begin; a < end; ++a) *(unsigned char*)a = pattern_at(a);
}

// The first address in [begin, end) that lost the pattern, or 0.
std::uintptr_t first_damaged(std::uintptr_t begin, std::uintptr_t end)
{
    std::uintptr_t a = begin;
    // Word-wise over the aligned middle: the pattern is 0xFFFB repeated from an even address.
    while (a < end && (a & 7)) { if (*(unsigned char*)a != pattern_at(a)) return a; ++a; }
    const std::uint64_t word = 0xFFFBFFFBFFFBFFFBull;
    for (; a + 8 <= end; a += 8)
        if (*(const std::uint64_t*)a != word) break;
    for (; a < end; ++a)
        if (*(unsigned char*)a != pattern_at(a)) return a;
    return 0;
}

// The block whose mapping (guards included) contains address, or null. Caller holds the mutex.
Block* find_block(std::uintptr_t address)
{
    auto& blocks = registry().blocks;
    auto it = blocks.upper_bound(address);
    if (it == blocks.begin()) return nullptr;
    --it;
    return address < it->second->map_end ? it->second : nullptr;
}

Allocation to_allocation(const Block* b) { return Allocation{b->base, b->bytes, b->id, b->host}; }

std::string name_block(const Block* b)
{
    return format("%sallocation #%d (%zu bytes at 0x%lx)", b->host ? "pinned host " : "", b->id, b->bytes, (unsigned long)b->base);
}

void unmap(Block* b)
{
    munmap((void*)b->map_begin, b->map_end - b->map_begin);
    registry().blocks.erase(b->map_begin);
    delete b;
}

// A red-zone message for block b, "" when its zones are intact; re-arms what was damaged.
std::string check_block(Block* b)
{
    std::uintptr_t front = first_damaged(b->data_begin, b->base);
    std::uintptr_t tail = first_damaged(b->base + b->bytes, b->data_end);
    if (!front && !tail) return "";
    std::string m;
    if (tail)
        m = format("write at offset +%lu past the end of %s", (unsigned long)(tail - b->base), name_block(b).c_str());
    else
        m = format("write at offset -%lu before the start of %s", (unsigned long)(b->base - front), name_block(b).c_str());
    fill_pattern(b->data_begin, b->base);
    fill_pattern(b->base + b->bytes, b->data_end);
    return m;
}

} // namespace

std::mutex& mutex() { return registry().mutex; }

// ---- allocation ---------------------------------------------------------------------------------------
int allocate(std::size_t bytes, bool host, Context* context, std::uintptr_t* out, const char* function)
{
    if (bytes == 0) return driver_fail(kInvalidValue, function, "cannot allocate 0 bytes");
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    std::uint64_t capacity = memory_capacity();
    if (!host && (bytes > capacity || r.device_bytes + bytes > capacity))
        return driver_fail(kOutOfMemory, function,
                           format("cannot allocate %s: %s of the device's %s are in use (CUDA_EMU_MEMORY)",
                                  format_bytes(bytes).c_str(), format_bytes(r.device_bytes).c_str(), format_bytes(capacity).c_str()));
    std::size_t user = round_up(bytes, 256);
    std::size_t data = round_up(user + kMinFrontRedZone, kPage);
    std::size_t guard = data < kMinGuard ? kMinGuard : data > kMaxGuard ? kMaxGuard : data;
    std::size_t total = guard + data + guard;
    void* map = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return driver_fail(host ? kOutOfMemory : kOutOfMemory, function, format("mmap of %s failed", format_bytes(total).c_str()));
    std::uintptr_t m = (std::uintptr_t)map;
    if (mprotect((void*)(m + guard), data, PROT_READ | PROT_WRITE) != 0)
    {
        munmap(map, total);
        return driver_fail(kOutOfMemory, function, format("cannot commit %s", format_bytes(data).c_str()));
    }
    Block* b = new Block{r.next_id++, host, true, m, m + total, m + guard, m + guard + data, m + guard + data - user, bytes, context};
    fill_pattern(b->data_begin, b->base);
    std::memset((void*)b->base, 0xFF, bytes);
    fill_pattern(b->base + bytes, b->data_end);
    r.blocks[m] = b;
    if (!host) r.device_bytes += bytes;
    *out = b->base;
    return kSuccess;
}

int release(std::uintptr_t p, bool host, const char* function)
{
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    Block* b = find_block(p);
    const char* kind = host ? "pinned host" : "device";
    if (b == nullptr) return driver_fail(kInvalidValue, function, format("0x%lx is not %s memory allocated by the emulator", (unsigned long)p, kind));
    if (!b->live) return driver_fail(kInvalidValue, function, format("0x%lx: %s was already freed (double free)", (unsigned long)p, name_block(b).c_str()));
    if (b->base != p)
        return driver_fail(kInvalidValue, function, format("0x%lx is not the start of %s (offset %ld)", (unsigned long)p,
                                                           name_block(b).c_str(), (long)(p - b->base)));
    if (b->host != host)
        return driver_fail(kInvalidValue, function, format("0x%lx is %s, not %s memory", (unsigned long)p, name_block(b).c_str(), kind));
    std::string damage = check_block(b);
    b->live = false;
    if (!host) r.device_bytes -= b->bytes;
    madvise((void*)b->data_begin, b->data_end - b->data_begin, MADV_DONTNEED);
    mprotect((void*)b->data_begin, b->data_end - b->data_begin, PROT_NONE);
    r.quarantine.push_back(b);
    while ((int)r.quarantine.size() > quarantine_limit())
    {
        unmap(r.quarantine.front());
        r.quarantine.pop_front();
    }
    if (!damage.empty())
        return driver_fail(kIllegalAddress, function, damage + " (found when it was freed; the write came from outside a kernel launch)");
    return kSuccess;
}

void free_context_allocations(Context* context)
{
    std::vector<std::uintptr_t> bases;
    {
        std::lock_guard<std::mutex> lock(registry().mutex);
        for (auto& [begin, b] : registry().blocks)
            if (b->live && b->context == context) bases.push_back(b->base);
    }
    for (auto base : bases)
    {
        Block* b;
        {
            std::lock_guard<std::mutex> lock(registry().mutex);
            b = find_block(base);
        }
        if (b && b->live) release(base, b->host, "cuCtxDestroy_v2");
    }
}

std::uint64_t device_bytes_in_use()
{
    std::lock_guard<std::mutex> lock(registry().mutex);
    return registry().device_bytes;
}

// ---- queries -------------------------------------------------------------------------------------------
PointerCheck check_pointer(std::uintptr_t p)
{
    std::lock_guard<std::mutex> lock(registry().mutex);
    Block* b = find_block(p);
    if (b == nullptr) return PointerCheck{Range::Unknown, Allocation{}, nullptr};
    Range range = !b->live ? Range::Freed : (p >= b->base && p <= b->base + b->bytes) ? Range::Inside : Range::Outside;
    return PointerCheck{range, to_allocation(b), (range == Range::Inside && !b->host) ? b : nullptr};
}

std::string check_red_zones(Block* const* blocks, std::size_t count)
{
    std::lock_guard<std::mutex> lock(registry().mutex);
    std::string first;
    for (std::size_t i = 0; i < count; ++i)
    {
        std::string m = check_block(blocks[i]);
        if (first.empty()) first = m;
    }
    return first;
}

std::string check_context_red_zones(Context* context)
{
    std::lock_guard<std::mutex> lock(registry().mutex);
    std::string first;
    for (auto& [begin, b] : registry().blocks)
        if (b->live && b->context == context)
        {
            std::string m = check_block(b);
            if (first.empty()) first = m;
        }
    return first;
}

// Whether [p, p + bytes) lies in one live pinned host allocation.
bool is_pinned_range(std::uintptr_t p, std::size_t bytes)
{
    std::lock_guard<std::mutex> lock(registry().mutex);
    Block* b = find_block(p);
    return b && b->live && b->host && p >= b->base && p + bytes <= b->base + b->bytes;
}

std::string describe_fault_address(std::uintptr_t a)
{
    std::lock_guard<std::mutex> lock(registry().mutex);
    Block* b = find_block(a);
    if (b == nullptr)
    {
        if (a < 65536) return format("0x%lx, near the null pointer", (unsigned long)a);
        return format("0x%lx, in no allocation of the emulator", (unsigned long)a);
    }
    if (!b->live) return format("0x%lx, in freed %s, offset %ld (use after free)", (unsigned long)a, name_block(b).c_str(), (long)(a - b->base));
    if (a >= b->base + b->bytes)
        return format("0x%lx, past the end of %s, offset %lu", (unsigned long)a, name_block(b).c_str(), (unsigned long)(a - b->base));
    if (a < b->base)
        return format("0x%lx, %lu bytes before the start of %s", (unsigned long)a, (unsigned long)(b->base - a), name_block(b).c_str());
    return format("0x%lx, inside %s", (unsigned long)a, name_block(b).c_str());
}

} // namespace mem

// ---- the contract with the library emulations (emu_runtime.h) ----------------------------------------------
Range find_device_range(std::uintptr_t p, std::size_t bytes, Allocation* found)
{
    std::lock_guard<std::mutex> lock(mem::registry().mutex);
    mem::Block* b = mem::find_block(p);
    if (b == nullptr) return Range::Unknown;
    if (found) *found = mem::to_allocation(b);
    if (b->host) return Range::Unknown;
    if (!b->live) return Range::Freed;
    if (p < b->base || p > b->base + b->bytes || bytes > b->base + b->bytes - p) return Range::Outside;
    return Range::Inside;
}

std::string describe_range(std::uintptr_t p, std::size_t bytes)
{
    std::lock_guard<std::mutex> lock(mem::registry().mutex);
    mem::Block* b = mem::find_block(p);
    if (p == 0) return "a null pointer";
    if (b == nullptr) return format("0x%lx is in no allocation of the emulator (a host pointer, or a wild value)", (unsigned long)p);
    std::string name = mem::name_block(b);
    if (b->host) return format("0x%lx is in %s, not device memory", (unsigned long)p, name.c_str());
    if (!b->live) return format("0x%lx is in freed %s", (unsigned long)p, name.c_str());
    if (p < b->base) return format("0x%lx starts %lu bytes before %s", (unsigned long)p, (unsigned long)(b->base - p), name.c_str());
    std::uintptr_t end = b->base + b->bytes;
    if (p > end || bytes > end - p)
        return format("0x%lx + %zu bytes runs %lu bytes past the end of %s", (unsigned long)p, bytes,
                      (unsigned long)(p + bytes - end), name.c_str());
    return format("0x%lx + %zu bytes lies inside %s", (unsigned long)p, bytes, name.c_str());
}

void poison(void* p, std::size_t bytes) { std::memset(p, 0xFF, bytes); }

} // namespace emu
