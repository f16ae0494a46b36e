namespace Engine.Backends;

/// <summary>
/// Points on one device's clock, for profilers. <see cref="Mark"/> notes the point in the device's work order
/// reached by everything queued so far, without waiting for it: an event recorded on the compute stream on
/// CUDA, a stopwatch reading on the CPU (where work is done when the call returns). <see cref="Read"/> waits
/// once, for the last point, and gives every point's time. A profiler that synchronised at every point
/// instead would stall the host at each op and take away the overlap of queueing and running that it means
/// to measure.
/// </summary>
public abstract class DeviceTimeline : IDisposable
{
    /// <summary>A timeline on <paramref name="device"/>.</summary>
    protected DeviceTimeline(Device device) => Device = device;

    /// <summary>The device whose clock and memory this reads.</summary>
    public Device Device { get; }

    /// <summary>The points marked so far.</summary>
    public abstract int Count { get; }

    /// <summary>Notes the point reached by the work queued so far; returns its index. Never waits for the device.</summary>
    public abstract int Mark();

    /// <summary>
    /// Milliseconds from the first point to each point, in order (non-decreasing). Waits for the device
    /// once, until the last point is reached; asking again after more marks waits again.
    /// </summary>
    public abstract double[] Read();

    /// <summary>
    /// The device allocator's counters now, read on the host without a driver call or a wait: bytes held by
    /// live tensors, bytes cached for reuse, and the peak of the former. Allocation happens in queue order,
    /// so the figures at a mark are those the device has when it reaches that point.
    /// </summary>
    public abstract (long Allocated, long Cached, long Peak) Memory();

    /// <summary>Releases what the timeline holds (events go back to their pool).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>The CPU's timeline: stopwatch readings, and the CPU allocator's counters.</summary>
internal sealed class StopwatchTimeline(Device device) : DeviceTimeline(device)
{
    private readonly List<long> _stamps = [];

    public override int Count => _stamps.Count;

    public override int Mark()
    {
        _stamps.Add(System.Diagnostics.Stopwatch.GetTimestamp());
        return _stamps.Count - 1;
    }

    public override double[] Read() =>
        _stamps.Select(s => System.Diagnostics.Stopwatch.GetElapsedTime(_stamps[0], s).TotalMilliseconds).ToArray();

    public override (long Allocated, long Cached, long Peak) Memory() =>
        (CpuStorage.LiveBytes, Cpu.CpuAllocator.CachedBytes, CpuStorage.PeakBytes);
}
