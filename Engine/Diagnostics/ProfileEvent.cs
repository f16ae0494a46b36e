namespace Engine.Diagnostics;

/// <summary>What a profiler event marks.</summary>
public enum ProfilePhase
{
    /// <summary>The start of profiling.</summary>
    Start,

    /// <summary>A tape node was recorded: its forward just ran (on a GPU: was queued).</summary>
    Forward,

    /// <summary>A node's backward just ran (on a GPU: was queued).</summary>
    Backward,

    /// <summary>A point named by the caller (<see cref="Profiler.Mark"/>), e.g. after the optimizer step.</summary>
    Mark,
}

/// <summary>
/// One point of a profile. Times are on the profiled device's clock, from the profiler's start:
/// <paramref name="GapMs"/> is the time since the previous event (the op's own time plus whatever ran
/// unrecorded in between). On the CPU that is wall time; on a CUDA device it is the time between the CUDA
/// events recorded on the compute stream at the two points, i.e. the device's time for the work queued in
/// between. <paramref name="KernelMs"/> is what the op measured itself with a host stopwatch (0 when it does
/// not; on a GPU, the time to queue its kernels, not to run them). Memory is the profiled device's allocator at
/// that point. <see cref="HostAtMs"/> and <see cref="HostGapMs"/> are the host's wall clock at the same points
/// (equal to the device times on the CPU).
/// </summary>
public sealed record ProfileEvent(
    ProfilePhase Phase, string Label, long NodeSequence, double AtMs, double GapMs, double KernelMs,
    long AllocatedBytes, long CachedBytes, long PeakBytes, long AllocatedDelta, long SavedBytes, long OutputBytes)
{
    /// <summary>Host wall time from the profiler's start to this event.</summary>
    public double HostAtMs { get; init; }

    /// <summary>Host wall time since the previous event: on a GPU, the time the host spent queueing (or waiting).</summary>
    public double HostGapMs { get; init; }
}

/// <summary>
/// The totals of one op kind over a profile: calls, device time forward and backward (see
/// <see cref="ProfileEvent.GapMs"/>), what the op measured itself, bytes, the host's time over the same spans
/// and the most bytes in use on the device right after one of its events.
/// </summary>
public sealed record OpProfile(string Op, int Calls, int BackwardCalls, double ForwardMs, double BackwardMs,
    double ForwardKernelMs, double BackwardKernelMs, long OutputBytes, long SavedBytes, long ForwardAllocatedDelta,
    double HostForwardMs, double HostBackwardMs, long MaxAllocatedBytes);
