using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Diagnostics;

/// <summary>What a profiler event marks.</summary>
public enum ProfilePhase
{
    /// <summary>The start of profiling.</summary>
    Start,

    /// <summary>A tape node was recorded: its forward just ran.</summary>
    Forward,

    /// <summary>A node's backward just ran.</summary>
    Backward,

    /// <summary>A point named by the caller (<see cref="Profiler.Mark"/>), e.g. after the optimizer step.</summary>
    Mark,
}

/// <summary>
/// One point of a profile. Times are from the profiler's start; <paramref name="GapMs"/> is the wall time since
/// the previous event (the op's own time plus whatever ran unrecorded in between), <paramref name="KernelMs"/>
/// what the op measured itself (0 when it does not). Memory is the CPU allocator's at that moment.
/// </summary>
public sealed record ProfileEvent(
    ProfilePhase Phase, string Label, long NodeSequence, double AtMs, double GapMs, double KernelMs,
    long AllocatedBytes, long CachedBytes, long PeakBytes, long AllocatedDelta, long SavedBytes, long OutputBytes);

/// <summary>The totals of one op kind over a profile.</summary>
public sealed record OpProfile(string Op, int Calls, int BackwardCalls, double ForwardMs, double BackwardMs,
    double ForwardKernelMs, double BackwardKernelMs, long OutputBytes, long SavedBytes, long ForwardAllocatedDelta);

/// <summary>
/// Time and memory per operator on the CPU: listens to the tape on the calling thread and samples the
/// allocator (bytes in use, bytes cached, peak since the start) at every recorded node, every backward and
/// every <see cref="Mark"/>. Only differentiable work shows up as nodes; run the step with inputs or
/// parameters that require gradients.
/// </summary>
public sealed class Profiler : ITapeListener, IDisposable
{
    private readonly List<ProfileEvent> _events = [];
    private readonly IDisposable _listening;
    private readonly long _start;
    private long _last;
    private long _lastAllocated;
    private bool _stopped;

    private Profiler()
    {
        CpuStorage.ResetPeakBytes();
        _start = _last = Stopwatch.GetTimestamp();
        _lastAllocated = CpuStorage.LiveBytes;
        Add(ProfilePhase.Start, "start", 0, 0, 0, 0);
        _listening = TapeListeners.Listen(this);
    }

    /// <summary>Starts profiling this thread's tape (and resets the peak-memory counter).</summary>
    public static Profiler Start() => new();

    /// <summary>The events so far, in order.</summary>
    public IReadOnlyList<ProfileEvent> Events => _events;

    /// <summary>Adds a named point (for work the tape does not see, such as the optimizer step).</summary>
    public void Mark(string label) => Add(ProfilePhase.Mark, label, 0, 0, 0, 0);

    /// <summary>Stops listening; the events stay.</summary>
    public void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        _listening.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose() => Stop();

    void ITapeListener.NodeRecorded(Node node)
    {
        if (_stopped) return;
        long outputBytes = node.OutputShapes.Sum(s => s.Aggregate(1L, (a, d) => a * d)) * node.DType.SizeOf();
        Add(ProfilePhase.Forward, node.Op, node.Sequence, node.ForwardMilliseconds, node.SavedBytes, outputBytes);
    }

    void ITapeListener.BackwardRan(Node node)
    {
        if (_stopped) return;
        Add(ProfilePhase.Backward, node.Op, node.Sequence, node.BackwardMilliseconds, 0, 0);
    }

    /// <summary>Totals per op kind, the most time-consuming (forward + backward) first.</summary>
    public IReadOnlyList<OpProfile> ByOp() =>
        _events.Where(e => e.Phase is ProfilePhase.Forward or ProfilePhase.Backward)
            .GroupBy(e => e.Label)
            .Select(g =>
            {
                var f = g.Where(e => e.Phase == ProfilePhase.Forward).ToList();
                var b = g.Where(e => e.Phase == ProfilePhase.Backward).ToList();
                return new OpProfile(g.Key, f.Count, b.Count, f.Sum(e => e.GapMs), b.Sum(e => e.GapMs), f.Sum(e => e.KernelMs),
                    b.Sum(e => e.KernelMs), f.Sum(e => e.OutputBytes), f.Sum(e => e.SavedBytes), f.Sum(e => e.AllocatedDelta));
            })
            .OrderByDescending(p => p.ForwardMs + p.BackwardMs).ToList();

    /// <summary>Largest bytes in use seen at any event.</summary>
    public long PeakBytes => _events.Count == 0 ? 0 : _events.Max(e => e.PeakBytes);

    /// <summary><see cref="ByOp"/> as a text table.</summary>
    public string FormatByOp()
    {
        var ops = ByOp();
        int width = Math.Max(22, ops.Select(p => p.Op.Length + 2).DefaultIfEmpty(0).Max());
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"op".PadRight(width)}{"calls",6}{"fwd ms",10}{"bwd ms",10}{"kernel f/b ms",16}{"outputs",12}{"saved",12}{"alloc +",12}");
        foreach (var p in ops)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{p.Op.PadRight(width)}{p.Calls,6}{p.ForwardMs,10:0.000}{p.BackwardMs,10:0.000}{$"{p.ForwardKernelMs:0.00}/{p.BackwardKernelMs:0.00}",16}{Bytes(p.OutputBytes),12}{Bytes(p.SavedBytes),12}{Bytes(p.ForwardAllocatedDelta),12}");
        var last = _events[^1];
        sb.AppendLine(CultureInfo.InvariantCulture, $"total {last.AtMs:0.000} ms; peak {Bytes(PeakBytes)} in use, {Bytes(last.CachedBytes)} cached at the end");
        return sb.ToString();
    }

    /// <summary>Bytes as B, KiB or MiB.</summary>
    public static string Bytes(long b) => Math.Abs(b) switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{b} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{b / (1024.0 * 1024):0.0} MiB"),
    };

    private void Add(ProfilePhase phase, string label, long sequence, double kernelMs, long saved, long output)
    {
        long now = Stopwatch.GetTimestamp();
        long allocated = CpuStorage.LiveBytes;
        _events.Add(new ProfileEvent(phase, label, sequence, Stopwatch.GetElapsedTime(_start, now).TotalMilliseconds,
            Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds, kernelMs, allocated, CpuAllocator.CachedBytes,
            CpuStorage.PeakBytes, allocated - _lastAllocated, saved, output));
        _last = now;
        _lastAllocated = allocated;
    }
}
