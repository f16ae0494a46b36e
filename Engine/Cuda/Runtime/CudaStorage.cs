using Engine.Cuda.Memory;

namespace Engine.Cuda.Runtime;

/// <summary>
/// Device memory for a tensor and its views: a block of the device's caching allocator. Disposing the last
/// tensor returns the block to the cache at once; stream order keeps that safe while queued kernels still
/// read it (<see cref="CudaDevice"/>). The finalizer, the safety net for tensors never disposed, never calls
/// the driver: it queues the block for the device to take back at its next allocation.
/// </summary>
public sealed class CudaStorage : Storage
{
    private readonly CudaDevice _device;
    private DeviceBlock _block;
    private int _freed;

    /// <summary>Allocates room for <paramref name="length"/> elements of <paramref name="dtype"/> on <paramref name="device"/>; uninitialised.</summary>
    public CudaStorage(CudaDevice device, long length, DType dtype) : base(length, dtype)
    {
        _device = device;
        _block = device.Allocate((ulong)checked(Math.Max(1, length) * dtype.SizeOf()));
    }

    /// <inheritdoc/>
    public override Device Device => _device.Device;

    /// <summary>The device this memory belongs to.</summary>
    public CudaDevice CudaDevice => _device;

    /// <summary>The block's device address; throws once the memory was released.</summary>
    public ulong BaseAddress => IsReleased
        ? throw new ObjectDisposedException(nameof(CudaStorage), "The tensor's device memory was already released (the tensor was disposed).")
        : _block.Pointer.Address;

    /// <summary>The device address of element <paramref name="elementOffset"/>.</summary>
    public ulong Address(long elementOffset) => BaseAddress + (ulong)(elementOffset * DType.SizeOf());

    /// <summary>The bytes the allocator reserved for this storage (its size class).</summary>
    public ulong ReservedBytes => _block.Size;

    /// <inheritdoc/>
    protected override void Free()
    {
        if (Interlocked.Exchange(ref _freed, 1) != 0) return;
        _device.Free(_block);
        GC.SuppressFinalize(this);
    }

    /// <summary>Hands the block back through the device's queue: no driver call from the finalizer thread.</summary>
    ~CudaStorage()
    {
        // A constructor that threw (out of memory) leaves no block to return.
        if (!_block.Pointer.IsNull && Interlocked.Exchange(ref _freed, 1) == 0) _device.FreeFromFinalizer(_block);
    }
}
