namespace Engine.Backends;

/// <summary>
/// Running totals of the work the host has asked of one device since the process started, read with
/// <see cref="Devices.Counters"/>: what a profiler would show per training step, without one. Take a snapshot
/// before and after a piece of work and subtract (<see cref="op_Subtraction"/>) to count that work alone. The
/// counts are the same on a GPU and on the CUDA emulator, unlike times. On the CPU every count is zero.
/// </summary>
/// <param name="Device">The device counted.</param>
/// <param name="KernelLaunches">The engine's own kernels queued (one per <c>cuLaunchKernel</c>).</param>
/// <param name="LibraryCalls">Calls into cuBLAS (one per GEMM) and cuFFT (one per transform); each may launch kernels of its own, not counted in <paramref name="KernelLaunches"/>.</param>
/// <param name="MemoryOperations">Asynchronous memsets and device-to-device copies queued on the stream (no kernel of ours).</param>
/// <param name="HostSyncs">Times the host waited for the device: stream, event and device synchronisations, including the one behind every read to the host.</param>
/// <param name="DeviceToHostCopies">Reads of device memory by the host (each waits: a <paramref name="HostSyncs"/> too).</param>
/// <param name="HostToDeviceCopies">Copies of host memory to the device.</param>
/// <param name="AllocatorRequests">Blocks asked of the engine's caching allocator.</param>
/// <param name="CacheHits">Requests served from the allocator's cache.</param>
/// <param name="DeviceAllocations">Requests that went to the driver (<c>cuMemAlloc</c>): cache misses, which synchronise the device.</param>
public readonly record struct DeviceCounters(Device Device, long KernelLaunches, long LibraryCalls, long MemoryOperations, long HostSyncs,
    long DeviceToHostCopies, long HostToDeviceCopies, long AllocatorRequests, long CacheHits, long DeviceAllocations)
{
    /// <summary>Everything queued on the device's stream: kernels, library calls and memory operations.</summary>
    public long StreamOperations => KernelLaunches + LibraryCalls + MemoryOperations;

    /// <summary>The counts between two snapshots of the same device: <c>after - before</c>.</summary>
    /// <exception cref="ArgumentException">The snapshots are of different devices.</exception>
    public static DeviceCounters operator -(DeviceCounters after, DeviceCounters before)
    {
        if (after.Device != before.Device)
            throw new ArgumentException($"DeviceCounters: cannot subtract counts of {before.Device} from counts of {after.Device}.");
        return new DeviceCounters(after.Device, after.KernelLaunches - before.KernelLaunches, after.LibraryCalls - before.LibraryCalls,
            after.MemoryOperations - before.MemoryOperations, after.HostSyncs - before.HostSyncs,
            after.DeviceToHostCopies - before.DeviceToHostCopies, after.HostToDeviceCopies - before.HostToDeviceCopies,
            after.AllocatorRequests - before.AllocatorRequests, after.CacheHits - before.CacheHits, after.DeviceAllocations - before.DeviceAllocations);
    }

    /// <summary>The counts since <paramref name="before"/> (a snapshot of the same device).</summary>
    public DeviceCounters Since(DeviceCounters before) => this - before;

    /// <summary>One line for logs: "launches 12, library 2, memory ops 1, host syncs 0, ...".</summary>
    public override string ToString() =>
        $"{Device}: launches {KernelLaunches}, library calls {LibraryCalls}, memory ops {MemoryOperations}, host syncs {HostSyncs} " +
        $"(reads {DeviceToHostCopies}), uploads {HostToDeviceCopies}, allocator requests {AllocatorRequests} (cache hits {CacheHits}, device allocations {DeviceAllocations})";
}
