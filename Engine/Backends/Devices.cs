namespace Engine.Backends;

/// <summary>
/// Which devices this process can run tensors on, the default device, and the device-wide operations
/// PyTorch keeps under <c>torch.cuda</c>: synchronize, memory statistics, the cache, timers.
/// </summary>
public static class Devices
{
    /// <summary>The variable that sets the default device at start: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>.</summary>
    public const string DefaultDeviceVariable = "ENGINE_DEVICE";

    private static Device? _default;
    [ThreadStatic] private static Device? _scoped;

    /// <summary>True when a CUDA device can be used: a GPU with its driver, or the CUDA emulator.</summary>
    public static bool CudaAvailable => Cuda.Cuda.IsAvailable;

    /// <summary>The number of CUDA devices (0 without CUDA).</summary>
    public static int CudaDeviceCount => Cuda.Cuda.DeviceCount;

    /// <summary>
    /// The device that tensor factories use when none is given (PyTorch's <c>torch.set_default_device</c>).
    /// It starts as <see cref="DefaultDeviceVariable"/> says, else the CPU.
    /// </summary>
    public static Device Default
    {
        get => _scoped ?? (_default ??= Environment.GetEnvironmentVariable(DefaultDeviceVariable) is { Length: > 0 } text ? Parse(text) : Device.Cpu);
        set
        {
            Check(value, "default device");
            _default = value;
        }
    }

    /// <summary>
    /// Makes <paramref name="device"/> the default device on this thread until the returned scope is disposed
    /// (PyTorch's <c>with torch.device(...)</c>); scopes nest.
    /// </summary>
    public static IDisposable Use(Device device)
    {
        Check(device, "Devices.Use");
        var previous = _scoped;
        _scoped = device;
        return new Restore(previous);
    }

    private sealed class Restore(Device? previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _scoped = previous;
        }
    }

    /// <summary>
    /// Parses <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (the first CUDA device when there is one,
    /// else the CPU). A CUDA device that is not there is an error naming the reason.
    /// </summary>
    public static Device Parse(string text)
    {
        if (text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) return CudaAvailable ? Device.Cuda(0) : Device.Cpu;
        var device = Device.Parse(text);
        Check(device, text);
        return device;
    }

    /// <summary>Throws when <paramref name="device"/> cannot be used here, saying why: <see cref="NotSupportedException"/> without CUDA, <see cref="ArgumentException"/> for a device number past the last.</summary>
    public static void Check(Device device, string what)
    {
        if (device.Type != DeviceType.Cuda) return;
        if (!CudaAvailable)
            throw new NotSupportedException($"{what}: {device} is not available: {Cuda.Cuda.UnavailableReason ?? "no CUDA device"}.");
        if (device.Index >= CudaDeviceCount)
            throw new ArgumentException($"{what}: {device} does not exist: this machine has {CudaDeviceCount} CUDA device(s).");
    }

    /// <summary>Waits for every operation queued on <paramref name="device"/> (PyTorch's <c>torch.cuda.synchronize</c>).</summary>
    public static void Synchronize(Device device) => Backend.For(device).Synchronize(device);

    /// <summary>Memory figures of <paramref name="device"/>: allocated by tensors, cached for reuse, the peak (<c>torch.cuda.memory_stats</c>).</summary>
    public static DeviceMemoryStats Memory(Device device) => Backend.For(device).Memory(device);

    /// <summary>
    /// The running counts of <paramref name="device"/>'s work: kernel launches, cuBLAS/cuFFT calls, host
    /// synchronisations, reads to the host, allocator requests and device allocations (all zero on the CPU).
    /// Subtract two snapshots to count one training step: <c>var s = Devices.Counters(d); Step(); var step = Devices.Counters(d) - s;</c>
    /// Taking a snapshot does not wait for the device.
    /// </summary>
    public static DeviceCounters Counters(Device device)
    {
        Check(device, "Devices.Counters");
        return Backend.For(device).Counters(device);
    }

    /// <summary>Starts the peak over from what is allocated now (<c>torch.cuda.reset_peak_memory_stats</c>).</summary>
    public static void ResetPeakMemory(Device device) => Backend.For(device).ResetPeakMemory(device);

    /// <summary>Returns the cached blocks of <paramref name="device"/> (<c>torch.cuda.empty_cache</c>).</summary>
    public static void EmptyCache(Device device) => Backend.For(device).EmptyCache(device);

    /// <summary>A timer on <paramref name="device"/>'s clock (CUDA events on a GPU): the time its queued work takes, not the time to queue it.</summary>
    public static DeviceTimer StartTimer(Device device) => Backend.For(device).StartTimer(device);

    /// <summary>
    /// A timeline of points on <paramref name="device"/>'s clock (CUDA events on its stream, from a pool) and its
    /// allocator's figures at each, read after one wait at the end: what <see cref="Diagnostics.Profiler"/> uses.
    /// </summary>
    public static DeviceTimeline StartTimeline(Device device)
    {
        Check(device, "Devices.StartTimeline");
        return Backend.For(device).StartTimeline(device);
    }
}

/// <summary>Memory figures of one device, in bytes.</summary>
/// <param name="Device">The device.</param>
/// <param name="Allocated">Held by live tensors.</param>
/// <param name="Cached">Freed and kept for reuse by the engine's allocator.</param>
/// <param name="Peak">The most <paramref name="Allocated"/> has been since the start or the last reset.</param>
/// <param name="DeviceFree">What the device (or the machine, for the CPU) reports free.</param>
/// <param name="DeviceTotal">The device's (or the machine's) memory.</param>
public readonly record struct DeviceMemoryStats(Device Device, long Allocated, long Cached, long Peak, long DeviceFree, long DeviceTotal)
{
    /// <summary>Taken from the device by the engine: allocated plus cached (PyTorch's <c>memory_reserved</c>).</summary>
    public long Reserved => Allocated + Cached;
}

/// <summary>A running timer on a device's clock; <see cref="Stop"/> waits for the device and gives the milliseconds.</summary>
public abstract class DeviceTimer : IDisposable
{
    /// <summary>Ends the interval and returns its length in milliseconds, waiting for the device's queued work.</summary>
    public abstract double Stop();

    /// <summary>Releases what the timer holds (events).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>A stopwatch: on the CPU, work is done when the call returns.</summary>
internal sealed class StopwatchTimer : DeviceTimer
{
    private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();

    public override double Stop() => System.Diagnostics.Stopwatch.GetElapsedTime(_start).TotalMilliseconds;
}
