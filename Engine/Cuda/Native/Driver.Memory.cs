using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

public static unsafe partial class Driver
{
    /// <summary>The current device's free and total memory, in bytes.</summary>
    public static (ulong Free, ulong Total) MemoryInfo()
    {
        nuint free, total;
        Check(cuMemGetInfo_v2(&free, &total), "cuMemGetInfo_v2");
        return (free, total);
    }

    /// <summary>Allocates device memory; throws with CUDA_ERROR_OUT_OF_MEMORY when there is not enough.</summary>
    public static CUdeviceptr MemAlloc(ulong bytes) { CUdeviceptr p; Check(cuMemAlloc_v2(&p, (nuint)bytes), "cuMemAlloc_v2"); return p; }

    /// <summary>The raw result of cuMemAlloc_v2, for callers that handle out-of-memory themselves.</summary>
    public static int TryMemAlloc(ulong bytes, out CUdeviceptr pointer)
    {
        CUdeviceptr p;
        int result = cuMemAlloc_v2(&p, (nuint)bytes);
        pointer = p;
        return result;
    }

    /// <summary>Frees device memory.</summary>
    public static void MemFree(CUdeviceptr pointer) => Check(cuMemFree_v2(pointer), "cuMemFree_v2");

    /// <summary>Allocates on a stream from the device's memory pool.</summary>
    public static CUdeviceptr MemAllocAsync(ulong bytes, nint stream) { CUdeviceptr p; Check(cuMemAllocAsync(&p, (nuint)bytes, stream), "cuMemAllocAsync"); return p; }

    /// <summary>Frees on a stream into the device's memory pool.</summary>
    public static void MemFreeAsync(CUdeviceptr pointer, nint stream) => Check(cuMemFreeAsync(pointer, stream), "cuMemFreeAsync");

    /// <summary>Allocates page-locked host memory (cuMemHostAlloc); <paramref name="flags"/> 0 is portable to this context only.</summary>
    public static nint HostAlloc(ulong bytes, uint flags = 0) { nint p; Check(cuMemHostAlloc(&p, (nuint)bytes, flags), "cuMemHostAlloc"); return p; }

    /// <summary>Allocates page-locked host memory (cuMemAllocHost_v2).</summary>
    public static nint AllocHost(ulong bytes) { nint p; Check(cuMemAllocHost_v2(&p, (nuint)bytes), "cuMemAllocHost_v2"); return p; }

    /// <summary>Frees page-locked host memory.</summary>
    public static void FreeHost(nint pointer) => Check(cuMemFreeHost(pointer), "cuMemFreeHost");

    /// <summary>Copies host to device, synchronously.</summary>
    public static void CopyHtoD(CUdeviceptr dst, void* src, ulong bytes) => Check(cuMemcpyHtoD_v2(dst, src, (nuint)bytes), "cuMemcpyHtoD_v2");

    /// <summary>Copies device to host, synchronously.</summary>
    public static void CopyDtoH(void* dst, CUdeviceptr src, ulong bytes) => Check(cuMemcpyDtoH_v2(dst, src, (nuint)bytes), "cuMemcpyDtoH_v2");

    /// <summary>Copies device to device.</summary>
    public static void CopyDtoD(CUdeviceptr dst, CUdeviceptr src, ulong bytes) => Check(cuMemcpyDtoD_v2(dst, src, (nuint)bytes), "cuMemcpyDtoD_v2");

    /// <summary>Copies host to device on a stream; the host side must be pinned.</summary>
    public static void CopyHtoDAsync(CUdeviceptr dst, void* src, ulong bytes, nint stream) =>
        Check(cuMemcpyHtoDAsync_v2(dst, src, (nuint)bytes, stream), "cuMemcpyHtoDAsync_v2");

    /// <summary>Copies device to host on a stream; the host side must be pinned.</summary>
    public static void CopyDtoHAsync(void* dst, CUdeviceptr src, ulong bytes, nint stream) =>
        Check(cuMemcpyDtoHAsync_v2(dst, src, (nuint)bytes, stream), "cuMemcpyDtoHAsync_v2");

    /// <summary>Copies device to device on a stream.</summary>
    public static void CopyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, ulong bytes, nint stream) =>
        Check(cuMemcpyDtoDAsync_v2(dst, src, (nuint)bytes, stream), "cuMemcpyDtoDAsync_v2");

    /// <summary>Sets <paramref name="count"/> bytes.</summary>
    public static void MemsetD8(CUdeviceptr dst, byte value, ulong count) => Check(cuMemsetD8_v2(dst, value, (nuint)count), "cuMemsetD8_v2");

    /// <summary>Sets <paramref name="count"/> 32-bit words.</summary>
    public static void MemsetD32(CUdeviceptr dst, uint value, ulong count) => Check(cuMemsetD32_v2(dst, value, (nuint)count), "cuMemsetD32_v2");

    /// <summary>Sets <paramref name="count"/> 32-bit words on a stream.</summary>
    public static void MemsetD32Async(CUdeviceptr dst, uint value, ulong count, nint stream) =>
        Check(cuMemsetD32Async(dst, value, (nuint)count, stream), "cuMemsetD32Async");

    /// <summary>The device's default memory pool.</summary>
    public static nint DefaultMemPool(int device) { nint pool; Check(cuDeviceGetDefaultMemPool(&pool, device), "cuDeviceGetDefaultMemPool"); return pool; }

    /// <summary>How much freed memory the pool keeps instead of returning it (attribute 4, RELEASE_THRESHOLD).</summary>
    public static void SetMemPoolReleaseThreshold(nint pool, ulong bytes) =>
        Check(cuMemPoolSetAttribute(pool, 4, &bytes), "cuMemPoolSetAttribute");

    /// <summary>Returns the pool's unused memory down to <paramref name="keepBytes"/>.</summary>
    public static void MemPoolTrimTo(nint pool, ulong keepBytes) => Check(cuMemPoolTrimTo(pool, (nuint)keepBytes), "cuMemPoolTrimTo");

    [LibraryImport(Lib)] private static partial int cuMemGetInfo_v2(nuint* free, nuint* total);
    [LibraryImport(Lib)] private static partial int cuMemAlloc_v2(CUdeviceptr* pointer, nuint bytes);
    [LibraryImport(Lib)] private static partial int cuMemFree_v2(CUdeviceptr pointer);
    [LibraryImport(Lib)] private static partial int cuMemAllocAsync(CUdeviceptr* pointer, nuint bytes, nint stream);
    [LibraryImport(Lib)] private static partial int cuMemFreeAsync(CUdeviceptr pointer, nint stream);
    [LibraryImport(Lib)] private static partial int cuMemAllocHost_v2(nint* pointer, nuint bytes);
    [LibraryImport(Lib)] private static partial int cuMemHostAlloc(nint* pointer, nuint bytes, uint flags);
    [LibraryImport(Lib)] private static partial int cuMemFreeHost(nint pointer);
    [LibraryImport(Lib)] private static partial int cuMemcpyHtoD_v2(CUdeviceptr dst, void* src, nuint bytes);
    [LibraryImport(Lib)] private static partial int cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, nuint bytes);
    [LibraryImport(Lib)] private static partial int cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, nuint bytes);
    [LibraryImport(Lib)] private static partial int cuMemcpyHtoDAsync_v2(CUdeviceptr dst, void* src, nuint bytes, nint stream);
    [LibraryImport(Lib)] private static partial int cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, nuint bytes, nint stream);
    [LibraryImport(Lib)] private static partial int cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, nuint bytes, nint stream);
    [LibraryImport(Lib)] private static partial int cuMemsetD8_v2(CUdeviceptr dst, byte value, nuint count);
    [LibraryImport(Lib)] private static partial int cuMemsetD32_v2(CUdeviceptr dst, uint value, nuint count);
    [LibraryImport(Lib)] private static partial int cuMemsetD32Async(CUdeviceptr dst, uint value, nuint count, nint stream);
    [LibraryImport(Lib)] private static partial int cuDeviceGetDefaultMemPool(nint* pool, int device);
    [LibraryImport(Lib)] private static partial int cuMemPoolSetAttribute(nint pool, int attribute, void* value);
    [LibraryImport(Lib)] private static partial int cuMemPoolTrimTo(nint pool, nuint keepBytes);
}
