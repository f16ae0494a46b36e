using System.Collections.Concurrent;
using Engine.Backends;
using Engine.Cuda.Kernels;
using Engine.Cuda.Memory;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// Everything the engine holds for one CUDA device, made on first use and kept for the process: the retained
/// primary context (which cuBLAS and cuFFT share), the one non-blocking compute stream on which every launch,
/// copy, memset, cuBLAS call and cuFFT plan runs, the caching allocator, the cuBLAS handle bound to the
/// stream, a pinned staging buffer for transfers, and the kernel modules compiled for this device.
/// <para>
/// The driver's current context is per thread, so every entry point calls <see cref="MakeCurrent"/> first:
/// tensors may be used from thread-pool threads, test runners and async continuations. With one stream,
/// stream order alone makes it safe to hand a freed block to the next allocation while queued kernels still
/// read it: the next user's work is queued behind them.
/// </para>
/// </summary>
public sealed class CudaDevice
{
    private static readonly ConcurrentDictionary<int, Lazy<CudaDevice>> Instances = new();

    private readonly nint _context;
    private readonly ConcurrentQueue<DeviceBlock> _finalized = new();
    private readonly ConcurrentDictionary<string, Lazy<CudaModule>> _modules = new();
    private readonly object _stagingLock = new();
    private PinnedHostBuffer? _staging;
    private nint _blas;
    private bool _blasTf32;

    private CudaDevice(int ordinal)
    {
        if (!Cuda.IsAvailable)
            throw new InvalidOperationException($"cuda:{ordinal}: CUDA is not available ({Cuda.UnavailableReason}).");
        if (ordinal >= Cuda.DeviceCount)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"cuda:{ordinal} does not exist: this machine has {Cuda.DeviceCount} CUDA device(s).");
        Ordinal = ordinal;
        Info = Cuda.Device(ordinal);
        Handle = Driver.Device(ordinal);
        _context = Driver.PrimaryContextRetain(Handle);
        Driver.SetCurrent(_context);
        Stream = Driver.StreamCreate(flags: 1);
        Allocator = new CachingAllocator(new DriverDeviceMemory());
        Checks = new DeferredChecks(this);
    }

    /// <summary>The device <c>cuda:<paramref name="ordinal"/></c>, set up on first use.</summary>
    public static CudaDevice Get(int ordinal)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        return Instances.GetOrAdd(ordinal, o => new Lazy<CudaDevice>(() => new CudaDevice(o))).Value;
    }

    /// <summary>The device of a tensor on CUDA.</summary>
    public static CudaDevice For(Device device) =>
        device.Type == DeviceType.Cuda ? Get(device.Index) : throw new ArgumentException($"{device} is not a CUDA device.", nameof(device));

    /// <summary>The ordinal, as in <c>cuda:N</c>.</summary>
    public int Ordinal { get; }

    /// <summary>The driver's handle of the device.</summary>
    public int Handle { get; }

    /// <summary>Name, compute capability, memory.</summary>
    public CudaDeviceInfo Info { get; }

    /// <summary>The engine's device value for this device.</summary>
    public Device Device => Device.Cuda(Ordinal);

    /// <summary>The compute stream: every operation on this device's tensors is queued here, in order.</summary>
    public nint Stream { get; }

    /// <summary>Device memory for tensors, cached.</summary>
    public CachingAllocator Allocator { get; }

    /// <summary>Launches, library calls, copies and host waits so far (read through <see cref="Devices.Counters"/>).</summary>
    internal CudaCounters Counters { get; } = new();

    /// <summary>The running counts of this device's work (see <see cref="DeviceCounters"/>).</summary>
    public DeviceCounters CounterSnapshot() => Counters.Snapshot(Device, Allocator.Stats);

    /// <summary>
    /// Launches so far of every kernel looked up on this device, by "unit/kernel" name: subtract two of these
    /// around a training step to see which kernels it launches how often (the candidates for fusion).
    /// </summary>
    public Dictionary<string, long> LaunchesByKernel()
    {
        var counts = new Dictionary<string, long>();
        foreach (var module in _modules.Values.Where(m => m.IsValueCreated).Select(m => m.Value))
            foreach (var kernel in module.Kernels)
                counts[$"{module.Name}/{kernel.Name}"] = kernel.Launches;
        return counts;
    }

    /// <summary>Checks made on the device by kernels, reported at the host's next wait (see <see cref="DeferredChecks"/>).</summary>
    public DeferredChecks Checks { get; }

    /// <summary>Makes the primary context current on the calling thread (cheap; done at every entry point).</summary>
    public void MakeCurrent() => Driver.SetCurrent(_context);

    /// <summary>Waits until the stream's work is done.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        Counters.HostSync();
        Driver.StreamSynchronize(Stream);
    }

    /// <summary>A block of at least <paramref name="bytes"/> on the compute stream. Blocks of finalized (never disposed) storages are returned first.</summary>
    public DeviceBlock Allocate(ulong bytes)
    {
        MakeCurrent();
        DrainFinalized();
        return Allocator.Allocate(Math.Max(bytes, 1), Stream);
    }

    /// <summary>Returns a block to the cache, on the calling thread (which may be any thread).</summary>
    public void Free(DeviceBlock block)
    {
        MakeCurrent();
        Allocator.Free(block);
    }

    /// <summary>
    /// Queues a block whose storage was finalized instead of disposed. A finalizer must never call the driver,
    /// and the allocator's lock could be held by the thread the finalizer interrupted, so the block only goes
    /// back at the next allocation.
    /// </summary>
    internal void FreeFromFinalizer(DeviceBlock block) => _finalized.Enqueue(block);

    /// <summary>Returns the blocks of finalized storages, then every cached block, to the driver.</summary>
    internal void EmptyCache()
    {
        DrainFinalized();
        Allocator.EmptyCache();
    }

    private void DrainFinalized()
    {
        while (_finalized.TryDequeue(out var block)) Allocator.Free(block);
    }

    /// <summary>The cuBLAS handle, bound to the compute stream; its math mode follows <see cref="Cuda.AllowTf32"/>.</summary>
    public nint Blas
    {
        get
        {
            MakeCurrent();
            lock (_stagingLock)
            {
                if (_blas == 0)
                {
                    _blas = CuBlas.Create();
                    CuBlas.SetStream(_blas, Stream);
                    CuBlas.SetMathMode(_blas, BlasMath.Default);
                    _blasTf32 = false;
                }
                bool tf32 = Cuda.AllowTf32;
                if (tf32 != _blasTf32)
                {
                    CuBlas.SetMathMode(_blas, tf32 ? BlasMath.Tf32TensorOp : BlasMath.Default);
                    _blasTf32 = tf32;
                }
                return _blas;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a pinned host buffer of at least <paramref name="bytes"/> (grown as
    /// needed), under a lock: one transfer at a time uses it, and the body synchronises before it returns.
    /// </summary>
    internal T WithStaging<T>(ulong bytes, Func<PinnedHostBuffer, T> body)
    {
        lock (_stagingLock)
        {
            MakeCurrent();
            if (_staging is null || _staging.Bytes < bytes)
            {
                _staging?.Dispose();
                _staging = null;
                _staging = new PinnedHostBuffer(Math.Max(bytes, 1 << 20));
            }
            return body(_staging);
        }
    }

    /// <summary>
    /// The kernel module named <paramref name="name"/> compiled for this device: <paramref name="source"/> is
    /// asked for only the first time, compiled by NVRTC (cached on disk by <see cref="PtxCache"/>) and loaded
    /// once per device.
    /// </summary>
    public CudaModule Module(string name, Func<string> source) =>
        _modules.GetOrAdd(name, n => new Lazy<CudaModule>(() => CudaModule.Load(this, n, source()))).Value;

    /// <summary>Memory figures of this device: the allocator's counters and the driver's free/total.</summary>
    public DeviceMemoryStats MemoryStats()
    {
        MakeCurrent();
        var s = Allocator.Stats;
        var (free, total) = Driver.MemoryInfo();
        return new DeviceMemoryStats(Device, (long)s.Allocated, (long)s.Cached, (long)s.PeakAllocated, (long)free, (long)total);
    }
}
