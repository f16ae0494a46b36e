using System.Collections.Concurrent;
using Engine.Backends;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// Timing events of one device, kept for reuse: a profile of a training step records thousands, and creating
/// and destroying an event per op would cost driver calls the run does not otherwise make. Events go back here
/// once read; beyond <see cref="Capacity"/> idle ones are destroyed.
/// </summary>
internal sealed class TimingEventPool
{
    /// <summary>The most idle events one device keeps.</summary>
    public const int Capacity = 1 << 14;

    private static readonly ConcurrentDictionary<int, TimingEventPool> Pools = new();
    private readonly CudaDevice _device;
    private readonly Stack<nint> _idle = new();
    private long _created;

    private TimingEventPool(CudaDevice device) => _device = device;

    /// <summary>The pool of <paramref name="device"/>.</summary>
    public static TimingEventPool For(CudaDevice device) => Pools.GetOrAdd(device.Ordinal, _ => new TimingEventPool(device));

    /// <summary>Events this pool has created so far (a second profile of the same size creates none).</summary>
    public long Created => Interlocked.Read(ref _created);

    /// <summary>Events waiting for reuse.</summary>
    public int Idle
    {
        get { lock (_idle) return _idle.Count; }
    }

    /// <summary>A timing event (not the cheaper no-timing kind: its time is what is wanted).</summary>
    public nint Rent()
    {
        lock (_idle)
            if (_idle.Count > 0) return _idle.Pop();
        _device.MakeCurrent();
        var e = Driver.EventCreate(0);
        Interlocked.Increment(ref _created);
        return e;
    }

    /// <summary>Takes an event back. It may still be pending: re-recording a pending event is allowed, and the next user's record replaces it.</summary>
    public void Return(nint cudaEvent)
    {
        lock (_idle)
        {
            if (_idle.Count < Capacity)
            {
                _idle.Push(cudaEvent);
                return;
            }
        }
        _device.MakeCurrent();
        Driver.EventDestroy(cudaEvent);
    }
}

/// <summary>
/// A <see cref="DeviceTimeline"/> on a CUDA device: each mark records a pooled timing event on the compute
/// stream. <see cref="Read"/> waits for the last event only (the stream runs in order, so every earlier event
/// is done too) and takes each event's time from the first.
/// </summary>
internal sealed class EventTimeline : DeviceTimeline
{
    private readonly CudaDevice _device;
    private readonly TimingEventPool _pool;
    private readonly List<nint> _events = [];
    private readonly List<double> _times = [];
    private bool _disposed;

    public EventTimeline(CudaDevice device) : base(device.Device)
    {
        _device = device;
        _pool = TimingEventPool.For(device);
    }

    public override int Count => _events.Count;

    public override int Mark()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var e = _pool.Rent();
        try
        {
            _device.MakeCurrent();
            Driver.EventRecord(e, _device.Stream);
        }
        catch
        {
            _pool.Return(e);
            throw;
        }
        _events.Add(e);
        return _events.Count - 1;
    }

    public override double[] Read()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_times.Count < _events.Count)
        {
            _device.MakeCurrent();
            _device.Counters.HostSync();
            Driver.EventSynchronize(_events[^1]);
            // Kernels' device-side checks are settled once the host has waited: report them as any wait does.
            _device.Checks.Report();
            double previous = _times.Count == 0 ? 0 : _times[^1];
            for (int i = _times.Count; i < _events.Count; i++)
            {
                // Rounding is monotone, so times from the same first event never decrease; the max only guards the float.
                double t = i == 0 ? 0 : Math.Max(previous, Driver.EventElapsedMilliseconds(_events[0], _events[i]));
                _times.Add(t);
                previous = t;
            }
        }
        return _times.ToArray();
    }

    public override (long Allocated, long Cached, long Peak) Memory()
    {
        var s = _device.Allocator.Stats;
        return ((long)s.Allocated, (long)s.Cached, (long)s.PeakAllocated);
    }

    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var e in _events) _pool.Return(e);
        _events.Clear();
        base.Dispose();
    }
}
