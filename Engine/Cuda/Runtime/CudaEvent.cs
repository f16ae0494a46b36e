using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// A point in a device's compute stream: <see cref="Record"/> marks the work queued so far, and
/// <see cref="Synchronize"/> waits until the device has done it. A buffer that a queued copy reads (a pinned
/// staging slot) may be rewritten once the event recorded after the copy is done. Created without timing,
/// which makes it cheaper to record.
/// </summary>
public sealed class CudaEvent : IDisposable
{
    private const uint DisableTiming = 2;
    private readonly CudaDevice _device;
    private nint _event;

    /// <summary>An event of <paramref name="device"/>, not yet recorded (waiting for it returns at once).</summary>
    public CudaEvent(CudaDevice device)
    {
        _device = device;
        device.MakeCurrent();
        _event = Driver.EventCreate(DisableTiming);
    }

    /// <summary>Whether <see cref="Record"/> was called since the last completed wait.</summary>
    public bool Pending { get; private set; }

    /// <summary>Marks the work queued on the device's compute stream so far.</summary>
    public void Record()
    {
        _device.MakeCurrent();
        Driver.EventRecord(Handle, _device.Stream);
        Pending = true;
    }

    /// <summary>Waits until the work queued before the last <see cref="Record"/> is done; returns at once when nothing is pending.</summary>
    public void Synchronize()
    {
        if (!Pending) return;
        _device.MakeCurrent();
        _device.Counters.HostSync();
        Driver.EventSynchronize(Handle);
        Pending = false;
    }

    private nint Handle => _event != 0 ? _event : throw new ObjectDisposedException(nameof(CudaEvent));

    /// <summary>Destroys the event (without waiting for it).</summary>
    public void Dispose()
    {
        var e = Interlocked.Exchange(ref _event, 0);
        if (e == 0) return;
        _device.MakeCurrent();
        Driver.EventDestroy(e);
    }
}
