// The driver's memory functions: allocation, copies, memsets, pinned host memory and the default pool.
// Every device range must lie in one live allocation (else 1 INVALID_VALUE with the reason); copies and
// frees take the execution lock, so they never race a running kernel, as the device orders them.
#include "emu_internal.h"

#include <cstring>
#include <mutex>

using namespace emu;

namespace {

// 0 when [p, p + bytes) is in one live device allocation; else the error, naming `what`.
int check_device(const char* function, const char* what, CUdeviceptr p, std::size_t bytes)
{
    if (find_device_range((std::uintptr_t)p, bytes, nullptr) == Range::Inside) return kSuccess;
    return driver_fail(kInvalidValue, function, format("the %s %s", what, describe_range((std::uintptr_t)p, bytes).c_str()));
}

// 0 when the host side of a copy is not device memory (a device pointer passed as a host pointer).
int check_host(const char* function, const char* what, const void* p, std::size_t bytes, bool async)
{
    if (p == nullptr) return driver_fail(kInvalidValue, function, format("the %s is a null pointer", what));
    Allocation a{};
    Range r = find_device_range((std::uintptr_t)p, 0, &a);
    if (r != Range::Unknown)
        return driver_fail(kInvalidValue, function, format("the %s 0x%lx is device memory (allocation #%d), not host memory",
                                                           what, (unsigned long)p, a.id));
    if (async && strict() && !mem::is_pinned_range((std::uintptr_t)p, bytes))
        return driver_fail(kInvalidValue, function,
                           format("the %s 0x%lx + %zu bytes is not in pinned host memory (cuMemHostAlloc): an asynchronous copy "
                                  "needs it (CUDA_EMU_STRICT=0 allows pageable memory)", what, (unsigned long)p, bytes));
    return kSuccess;
}

int check_stream(const char* function, void* stream)
{
    if (is_live_stream(stream)) return kSuccess;
    return driver_fail(kInvalidHandle, function, format("stream %p is not a live stream (destroyed, or never created)", stream));
}

#define REQUIRE_CONTEXT(fn) Context* ctx_ = nullptr; if (int e_ = require_context(fn, &ctx_)) return e_

CUresult copy(const char* fn, void* stream, bool async, CUdeviceptr dst_dev, void* dst_host, CUdeviceptr src_dev, const void* src_host,
              std::size_t bytes)
{
    REQUIRE_CONTEXT(fn);
    if (async) if (int e = check_stream(fn, stream)) return e;
    if (bytes == 0) return kSuccess;
    if (dst_host) { if (int e = check_host(fn, "destination", dst_host, bytes, async)) return e; }
    else if (int e = check_device(fn, "destination", dst_dev, bytes)) return e;
    if (src_host) { if (int e = check_host(fn, "source", src_host, bytes, async)) return e; }
    else if (int e = check_device(fn, "source", src_dev, bytes)) return e;
    void* d = dst_host ? dst_host : (void*)dst_dev;
    const void* s = src_host ? src_host : (const void*)src_dev;
    if (!dst_host && !src_host && strict())
    {
        auto a = (std::uintptr_t)d, b = (std::uintptr_t)s;
        if (a < b + bytes && b < a + bytes && a != b)
            return driver_fail(kInvalidValue, fn, format("the source 0x%lx and destination 0x%lx ranges of %zu bytes overlap",
                                                         (unsigned long)b, (unsigned long)a, bytes));
    }
    std::lock_guard<std::mutex> lock(exec_mutex());
    std::memmove(d, s, bytes);
    return kSuccess;
}

CUresult memset_words(const char* fn, void* stream, bool async, CUdeviceptr dst, unsigned value, unsigned width, std::size_t count)
{
    REQUIRE_CONTEXT(fn);
    if (async) if (int e = check_stream(fn, stream)) return e;
    if (count == 0) return kSuccess;
    if (dst % width != 0) return driver_fail(kInvalidValue, fn, format("0x%llx is not aligned to %u bytes", dst, width));
    if (int e = check_device(fn, "destination", dst, count * width)) return e;
    std::lock_guard<std::mutex> lock(exec_mutex());
    if (width == 1) std::memset((void*)dst, (int)(value & 0xFF), count);
    else for (std::size_t i = 0; i < count; ++i) ((unsigned*)dst)[i] = value;
    return kSuccess;
}

struct MemPool { int device; std::uint64_t release_threshold; };
MemPool g_pools[16];

MemPool* find_pool(void* pool)
{
    for (auto& p : g_pools)
        if (&p == pool) return (p.device < device_count()) ? &p : nullptr;
    return nullptr;
}

} // namespace

EMU_EXPORT CUresult cuMemGetInfo_v2(std::size_t* free_bytes, std::size_t* total_bytes)
{
    REQUIRE_CONTEXT("cuMemGetInfo_v2");
    if (!free_bytes || !total_bytes) return driver_fail(kInvalidValue, "cuMemGetInfo_v2", "a result pointer is null");
    std::uint64_t total = memory_capacity(), used = mem::device_bytes_in_use();
    *total_bytes = total;
    *free_bytes = used >= total ? 0 : total - used;
    return kSuccess;
}

EMU_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* p, std::size_t bytes)
{
    REQUIRE_CONTEXT("cuMemAlloc_v2");
    if (p == nullptr) return driver_fail(kInvalidValue, "cuMemAlloc_v2", "dptr is null");
    std::uintptr_t a = 0;
    int e = mem::allocate(bytes, false, ctx_, &a, "cuMemAlloc_v2");
    *p = e ? 0 : a;
    return e;
}

EMU_EXPORT CUresult cuMemFree_v2(CUdeviceptr p)
{
    REQUIRE_CONTEXT("cuMemFree_v2");
    if (p == 0) return kSuccess;
    std::lock_guard<std::mutex> lock(exec_mutex());
    return mem::release((std::uintptr_t)p, false, "cuMemFree_v2");
}

EMU_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* p, std::size_t bytes, void* stream)
{
    REQUIRE_CONTEXT("cuMemAllocAsync");
    if (int e = check_stream("cuMemAllocAsync", stream)) return e;
    if (p == nullptr) return driver_fail(kInvalidValue, "cuMemAllocAsync", "dptr is null");
    std::uintptr_t a = 0;
    int e = mem::allocate(bytes, false, ctx_, &a, "cuMemAllocAsync");
    *p = e ? 0 : a;
    return e;
}

EMU_EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, void* stream)
{
    REQUIRE_CONTEXT("cuMemFreeAsync");
    if (int e = check_stream("cuMemFreeAsync", stream)) return e;
    std::lock_guard<std::mutex> lock(exec_mutex());
    return mem::release((std::uintptr_t)p, false, "cuMemFreeAsync");
}

EMU_EXPORT CUresult cuMemHostAlloc(void** p, std::size_t bytes, unsigned flags)
{
    REQUIRE_CONTEXT("cuMemHostAlloc");
    if (p == nullptr) return driver_fail(kInvalidValue, "cuMemHostAlloc", "pp is null");
    if (flags & ~0xFu) return driver_fail(kInvalidValue, "cuMemHostAlloc", format("unknown flags 0x%x", flags));
    std::uintptr_t a = 0;
    int e = mem::allocate(bytes, true, ctx_, &a, "cuMemHostAlloc");
    *p = e ? nullptr : (void*)a;
    return e;
}

EMU_EXPORT CUresult cuMemAllocHost_v2(void** p, std::size_t bytes)
{
    REQUIRE_CONTEXT("cuMemAllocHost_v2");
    if (p == nullptr) return driver_fail(kInvalidValue, "cuMemAllocHost_v2", "pp is null");
    std::uintptr_t a = 0;
    int e = mem::allocate(bytes, true, ctx_, &a, "cuMemAllocHost_v2");
    *p = e ? nullptr : (void*)a;
    return e;
}

EMU_EXPORT CUresult cuMemFreeHost(void* p)
{
    REQUIRE_CONTEXT("cuMemFreeHost");
    std::lock_guard<std::mutex> lock(exec_mutex());
    return mem::release((std::uintptr_t)p, true, "cuMemFreeHost");
}

EMU_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, std::size_t bytes)
{ return copy("cuMemcpyHtoD_v2", nullptr, false, dst, nullptr, 0, src, bytes); }
EMU_EXPORT CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, std::size_t bytes)
{ return copy("cuMemcpyDtoH_v2", nullptr, false, 0, dst, src, nullptr, bytes); }
EMU_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes)
{ return copy("cuMemcpyDtoD_v2", nullptr, false, dst, nullptr, src, nullptr, bytes); }
EMU_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, std::size_t bytes, void* stream)
{ return copy("cuMemcpyHtoDAsync_v2", stream, true, dst, nullptr, 0, src, bytes); }
EMU_EXPORT CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, std::size_t bytes, void* stream)
{ return copy("cuMemcpyDtoHAsync_v2", stream, true, 0, dst, src, nullptr, bytes); }
EMU_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes, void* stream)
{ return copy("cuMemcpyDtoDAsync_v2", stream, true, dst, nullptr, src, nullptr, bytes); }

EMU_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, std::size_t count)
{ return memset_words("cuMemsetD8_v2", nullptr, false, dst, value, 1, count); }
EMU_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned value, std::size_t count)
{ return memset_words("cuMemsetD32_v2", nullptr, false, dst, value, 4, count); }
EMU_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, std::size_t count, void* stream)
{ return memset_words("cuMemsetD32Async", stream, true, dst, value, 4, count); }

EMU_EXPORT CUresult cuDeviceGetDefaultMemPool(void** pool, CUdevice device)
{
    if (!initialized()) return driver_fail(kNotInitialized, "cuDeviceGetDefaultMemPool", "cuInit has not been called");
    if (pool == nullptr) return driver_fail(kInvalidValue, "cuDeviceGetDefaultMemPool", "pool is null");
    if (device < 0 || device >= device_count() || device >= 16)
        return driver_fail(kInvalidDevice, "cuDeviceGetDefaultMemPool", format("device %d does not exist", device));
    g_pools[device].device = device;
    *pool = &g_pools[device];
    return kSuccess;
}

EMU_EXPORT CUresult cuMemPoolSetAttribute(void* pool, int attribute, void* value)
{
    if (!initialized()) return driver_fail(kNotInitialized, "cuMemPoolSetAttribute", "cuInit has not been called");
    MemPool* p = find_pool(pool);
    if (p == nullptr) return driver_fail(kInvalidHandle, "cuMemPoolSetAttribute", format("%p is not a memory pool", pool));
    if (value == nullptr) return driver_fail(kInvalidValue, "cuMemPoolSetAttribute", "value is null");
    if (attribute != 4)
        return driver_fail(kInvalidValue, "cuMemPoolSetAttribute",
                           format("attribute %d: the emulator sets only 4 (CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)", attribute));
    p->release_threshold = *(const std::uint64_t*)value;
    return kSuccess;
}

EMU_EXPORT CUresult cuMemPoolTrimTo(void* pool, std::size_t)
{
    if (!initialized()) return driver_fail(kNotInitialized, "cuMemPoolTrimTo", "cuInit has not been called");
    if (find_pool(pool) == nullptr) return driver_fail(kInvalidHandle, "cuMemPoolTrimTo", format("%p is not a memory pool", pool));
    return kSuccess;
}
