using System.Threading;
using Engine.Backends;

namespace Engine.Cuda.Runtime;

/// <summary>
/// The running counts of one <see cref="CudaDevice"/>, bumped where the work is queued or waited for
/// (<see cref="CudaKernel.Launch"/>, the cuBLAS and cuFFT calls, the copies, every synchronisation). Interlocked:
/// tensors may be used from any thread. Read through <see cref="Devices.Counters"/>.
/// </summary>
internal sealed class CudaCounters
{
    private long _launches, _library, _memory, _syncs, _reads, _uploads;

    public void Launch() => Interlocked.Increment(ref _launches);

    public void LibraryCall() => Interlocked.Increment(ref _library);

    public void MemoryOperation() => Interlocked.Increment(ref _memory);

    public void HostSync() => Interlocked.Increment(ref _syncs);

    public void Read() => Interlocked.Increment(ref _reads);

    public void Upload() => Interlocked.Increment(ref _uploads);

    /// <summary>A snapshot, with the allocator's request counts beside the stream's.</summary>
    public DeviceCounters Snapshot(Device device, Memory.AllocatorStats allocator) => new(device,
        Interlocked.Read(ref _launches), Interlocked.Read(ref _library), Interlocked.Read(ref _memory), Interlocked.Read(ref _syncs),
        Interlocked.Read(ref _reads), Interlocked.Read(ref _uploads),
        allocator.CacheHits + allocator.DeviceAllocations, allocator.CacheHits, allocator.DeviceAllocations);
}
