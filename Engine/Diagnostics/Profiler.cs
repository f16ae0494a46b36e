using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engine.Autograd;
using Engine.Backends;
using Engine.Cpu;

namespace Engine.Diagnostics;

/// <summary>
/// Time and memory per operator: listens to the tape on the calling thread and, at every recorded node, every
/// backward and every <see cref="Mark"/>, notes the time and samples the profiled device's allocator (bytes in
/// use, bytes cached, peak since the start). Only differentiable work shows up as nodes; run the step with
/// inputs or parameters that require gradients.
/// <para>
/// On a CUDA device the work is asynchronous: a node is recorded when its kernels are queued, not when they
/// have run. So each event also records a CUDA event (from a pool) on the compute stream, and an event's time
/// is the device's time between consecutive events, read after one wait for the last event when the events are
/// first asked for (<see cref="Events"/>, <see cref="ByOp"/>, <see cref="Stop"/>). There is no host wait per op:
/// that would serialise host and device and change what is measured. Without a profiler, nothing is recorded
/// (one thread-static read per node).
/// </para>
/// </summary>
public sealed class Profiler : ITapeListener, IDisposable
{
    private readonly List<ProfileEvent> _events = [];
    private readonly IDisposable _listening;
    private readonly DeviceTimeline? _timeline; // null on the CPU, where host time is the device's
    private readonly long _start;
    private long _last;
    private long _lastAllocated;
    private int _resolved;
    private bool _stopped;

    private Profiler(Device device)
    {
        Device = device;
        Devices.ResetPeakMemory(device);
        if (device.Type != DeviceType.Cpu) _timeline = Devices.StartTimeline(device);
        _start = _last = Stopwatch.GetTimestamp();
        _lastAllocated = MemoryNow().Allocated;
        Add(ProfilePhase.Start, "start", 0, 0, 0, 0);
        _listening = TapeListeners.Listen(this);
    }

    /// <summary>Starts profiling this thread's tape on the CPU (and resets the peak-memory counter).</summary>
    public static Profiler Start() => new(Device.Cpu);

    /// <summary>
    /// Starts profiling this thread's tape with times on <paramref name="device"/>'s clock and its memory (and
    /// resets its peak-memory counter). The ops must run on that device for the memory figures to mean anything.
    /// </summary>
    public static Profiler Start(Device device)
    {
        Devices.Check(device, "Profiler.Start");
        return new Profiler(device);
    }

    /// <summary>The device whose clock and memory the events carry.</summary>
    public Device Device { get; }

    /// <summary>The events so far, in order. On a GPU the first call after new events waits for the device, once.</summary>
    public IReadOnlyList<ProfileEvent> Events
    {
        get
        {
            Resolve();
            return _events;
        }
    }

    /// <summary>Adds a named point (for work the tape does not see, such as the optimizer step).</summary>
    public void Mark(string label)
    {
        if (!_stopped) Add(ProfilePhase.Mark, label, 0, 0, 0, 0);
    }

    /// <summary>Stops listening; the events stay. On a GPU, waits once for the last event and gives the events back to their pool.</summary>
    public void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        _listening.Dispose();
        if (_timeline is null) return;
        try { Resolve(); }
        finally { _timeline.Dispose(); }
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
        Events.Where(e => e.Phase is ProfilePhase.Forward or ProfilePhase.Backward)
            .GroupBy(e => e.Label)
            .Select(g =>
            {
                var f = g.Where(e => e.Phase == ProfilePhase.Forward).ToList();
                var b = g.Where(e => e.Phase == ProfilePhase.Backward).ToList();
                return new OpProfile(g.Key, f.Count, b.Count, f.Sum(e => e.GapMs), b.Sum(e => e.GapMs), f.Sum(e => e.KernelMs),
                    b.Sum(e => e.KernelMs), f.Sum(e => e.OutputBytes), f.Sum(e => e.SavedBytes), f.Sum(e => e.AllocatedDelta),
                    f.Sum(e => e.HostGapMs), b.Sum(e => e.HostGapMs), g.Max(e => e.AllocatedBytes));
            })
            .OrderByDescending(p => p.ForwardMs + p.BackwardMs).ToList();

    /// <summary>
    /// The time of each node's forward and backward events (see <see cref="ProfileEvent.GapMs"/>), by
    /// <see cref="Node.Sequence"/>: the device's times, for a tape table of a GPU run (whose nodes carry host times).
    /// </summary>
    public IReadOnlyDictionary<long, (double Forward, double Backward)> NodeTimes()
    {
        var times = new Dictionary<long, (double Forward, double Backward)>();
        foreach (var e in Events)
        {
            if (e.Phase is not (ProfilePhase.Forward or ProfilePhase.Backward)) continue;
            var (f, b) = times.GetValueOrDefault(e.NodeSequence);
            times[e.NodeSequence] = e.Phase == ProfilePhase.Forward ? (f + e.GapMs, b) : (f, b + e.GapMs);
        }
        return times;
    }

    /// <summary>Largest bytes in use seen at any event.</summary>
    public long PeakBytes => _events.Count == 0 ? 0 : _events.Max(e => e.PeakBytes);

    /// <summary>
    /// <see cref="ByOp"/> as a text table. On a GPU the times are the device's, and the CPU's "kernel" column
    /// (what ops time themselves on the host) becomes "host", the host's time over the same spans.
    /// </summary>
    public string FormatByOp()
    {
        var ops = ByOp();
        bool cpu = Device.Type == DeviceType.Cpu;
        int width = Math.Max(22, ops.Select(p => p.Op.Length + 2).DefaultIfEmpty(0).Max());
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"{"op".PadRight(width)}{"calls",6}{"fwd ms",10}{"bwd ms",10}{(cpu ? "kernel f/b ms" : "host f/b ms"),16}{"outputs",12}{"saved",12}{"alloc +",12}{"in use",12}");
        foreach (var p in ops)
        {
            var (f, b) = cpu ? (p.ForwardKernelMs, p.BackwardKernelMs) : (p.HostForwardMs, p.HostBackwardMs);
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{p.Op.PadRight(width)}{p.Calls,6}{p.ForwardMs,10:0.000}{p.BackwardMs,10:0.000}{$"{f:0.00}/{b:0.00}",16}{Bytes(p.OutputBytes),12}{Bytes(p.SavedBytes),12}{Bytes(p.ForwardAllocatedDelta),12}{Bytes(p.MaxAllocatedBytes),12}");
        }
        var last = Events[^1];
        sb.Append(CultureInfo.InvariantCulture, $"total {last.AtMs:0.000} ms");
        if (!cpu) sb.Append(CultureInfo.InvariantCulture, $" on {Device} (CUDA events; the host took {last.HostAtMs:0.000} ms)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"; peak {Bytes(PeakBytes)} in use, {Bytes(last.CachedBytes)} cached at the end");
        return sb.ToString();
    }

    /// <summary>Bytes as B, KiB or MiB.</summary>
    public static string Bytes(long b) => Math.Abs(b) switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{b} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{b / (1024.0 * 1024):0.0} MiB"),
    };

    private (long Allocated, long Cached, long Peak) MemoryNow() =>
        _timeline?.Memory() ?? (CpuStorage.LiveBytes, CpuAllocator.CachedBytes, CpuStorage.PeakBytes);

    private void Add(ProfilePhase phase, string label, long sequence, double kernelMs, long saved, long output)
    {
        long now = Stopwatch.GetTimestamp();
        var (allocated, cached, peak) = MemoryNow();
        _timeline?.Mark();
        double at = Stopwatch.GetElapsedTime(_start, now).TotalMilliseconds, gap = Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds;
        // On a GPU the device times replace these when the events are read (Resolve).
        _events.Add(new ProfileEvent(phase, label, sequence, at, gap, kernelMs, allocated, cached, peak,
            allocated - _lastAllocated, saved, output) { HostAtMs = at, HostGapMs = gap });
        _last = now;
        _lastAllocated = allocated;
    }

    private void Resolve()
    {
        if (_timeline is null || _resolved == _events.Count) return;
        var times = _timeline.Read();
        for (int i = _resolved; i < _events.Count; i++)
            _events[i] = _events[i] with { AtMs = times[i], GapMs = i == 0 ? 0 : times[i] - times[i - 1] };
        _resolved = _events.Count;
    }
}
