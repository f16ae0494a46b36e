using Engine.Cuda.Native;

namespace Engine.Cuda.Memory;

/// <summary>Raw device memory, under the caching allocator: the driver on a GPU, a fake in tests.</summary>
public interface IDeviceMemory
{
    /// <summary>A new allocation of <paramref name="bytes"/>, or <see cref="CUdeviceptr.Null"/> when the device is out of memory; other failures throw.</summary>
    CUdeviceptr Alloc(ulong bytes);

    /// <summary>Returns an allocation made by <see cref="Alloc"/>.</summary>
    void Free(CUdeviceptr pointer);

    /// <summary>The device's free and total memory, in bytes.</summary>
    (ulong Free, ulong Total) FreeInfo();
}

/// <summary>The driver's memory (cuMemAlloc_v2 / cuMemFree_v2) of the context current on the calling thread.</summary>
public sealed class DriverDeviceMemory : IDeviceMemory
{
    private const int OutOfMemory = 2;

    /// <inheritdoc/>
    public CUdeviceptr Alloc(ulong bytes)
    {
        int result = Driver.TryMemAlloc(bytes, out var pointer);
        if (result == OutOfMemory) return CUdeviceptr.Null;
        Driver.Check(result, "cuMemAlloc_v2");
        return pointer;
    }

    /// <inheritdoc/>
    public void Free(CUdeviceptr pointer) => Driver.MemFree(pointer);

    /// <inheritdoc/>
    public (ulong Free, ulong Total) FreeInfo() => Driver.MemoryInfo();
}
