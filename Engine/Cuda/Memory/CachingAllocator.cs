using Engine.Cuda.Native;

namespace Engine.Cuda.Memory;

/// <summary>A block handed out by <see cref="CachingAllocator"/>: its address, its size class, what was asked for, and its stream.</summary>
/// <param name="Pointer">The device address.</param>
/// <param name="Size">The bytes reserved: the request rounded up to its size class.</param>
/// <param name="Requested">The bytes asked for.</param>
/// <param name="Stream">The stream the block was allocated on; it is reused only there.</param>
public readonly record struct DeviceBlock(CUdeviceptr Pointer, ulong Size, ulong Requested, nint Stream);

/// <summary>The allocator's counters, in bytes.</summary>
/// <param name="Allocated">Held by live blocks (size classes, not requests).</param>
/// <param name="Cached">Freed blocks kept for reuse.</param>
/// <param name="PeakAllocated">The most <see cref="Allocated"/> has been since the start or <see cref="CachingAllocator.ResetPeak"/>.</param>
/// <param name="DeviceAllocations">Calls to the device's allocator (cache misses).</param>
/// <param name="CacheHits">Requests served from the cache.</param>
/// <param name="Flushes">Times an out-of-memory flushed the cache.</param>
public readonly record struct AllocatorStats(ulong Allocated, ulong Cached, ulong PeakAllocated, long DeviceAllocations, long CacheHits, long Flushes)
{
    /// <summary>Everything taken from the device: allocated plus cached.</summary>
    public ulong Reserved => Allocated + Cached;
}

/// <summary>
/// Device memory with a cache, as PyTorch's CUDA caching allocator does it in spirit: cudaMalloc and cudaFree
/// synchronise the device and cost tens of microseconds, so freed blocks are kept and handed out again.
/// Requests are rounded to size classes (512 bytes below 1 MiB, 2 MiB above), and a freed block is reused
/// only for the same class on the same stream, where stream order makes reuse safe without events.
/// When the device is out of memory the cache is returned to it and the request tried once more; after that
/// the exception says how much was asked for, allocated and cached. Thread-safe.
/// </summary>
public sealed class CachingAllocator : IDisposable
{
    /// <summary>Small requests round to multiples of this.</summary>
    public const ulong SmallGranule = 512;

    /// <summary>
    /// Requests of this size and above round up to an eighth of their power of two (1 MiB to 2 MiB in steps of
    /// 128 KiB, 2 to 4 MiB in steps of 256 KiB, ...), so a block wastes at most an eighth of its request, as the
    /// CPU allocator's classes do. (Multiples of 2 MiB wasted up to half: a 1 MiB tensor took 2 MiB, a 2.25 MiB
    /// weight 4 MiB, and vHeat-T's train step peaked at 990 MiB for about 600 MiB of tensors.)
    /// </summary>
    public const ulong SmallLimit = 1 << 20;

    private readonly IDeviceMemory _memory;
    private readonly object _lock = new();
    private readonly Dictionary<(nint Stream, ulong Size), Stack<CUdeviceptr>> _cache = new();
    private readonly Dictionary<ulong, DeviceBlock> _live = new();
    private ulong _allocated, _cached, _peak;
    private long _deviceAllocations, _hits, _flushes;

    /// <summary>An allocator over <paramref name="memory"/>.</summary>
    public CachingAllocator(IDeviceMemory memory) => _memory = memory;

    /// <summary>The size class of a request: at least 512 bytes; a multiple of 512 below 1 MiB, of an eighth of its power of two from 1 MiB on.</summary>
    public static ulong SizeClass(ulong bytes)
    {
        if (bytes < SmallLimit) return Math.Max(SmallGranule, RoundUp(bytes, SmallGranule));
        int log = 63 - System.Numerics.BitOperations.LeadingZeroCount(bytes);
        return RoundUp(bytes, 1UL << (log - 3));
    }

    private static ulong RoundUp(ulong value, ulong granule) => (value + granule - 1) / granule * granule;

    /// <summary>A block of at least <paramref name="bytes"/> for use on <paramref name="stream"/>.</summary>
    public DeviceBlock Allocate(ulong bytes, nint stream = 0)
    {
        ulong size = SizeClass(bytes);
        lock (_lock)
        {
            CUdeviceptr pointer;
            if (_cache.TryGetValue((stream, size), out var free) && free.Count > 0)
            {
                pointer = free.Pop();
                _cached -= size;
                _hits++;
            }
            else
            {
                pointer = _memory.Alloc(size);
                if (pointer.IsNull)
                {
                    ulong cachedBefore = _cached;
                    ReleaseCached();
                    _flushes++;
                    pointer = _memory.Alloc(size);
                    if (pointer.IsNull) throw OutOfMemory(bytes, size, cachedBefore);
                }
                _deviceAllocations++;
            }
            var block = new DeviceBlock(pointer, size, bytes, stream);
            _live.Add(pointer.Address, block);
            _allocated += size;
            _peak = Math.Max(_peak, _allocated);
            return block;
        }
    }

    /// <summary>Gives a block back to the cache. Freeing a block twice, or one this allocator did not make, throws.</summary>
    public void Free(DeviceBlock block)
    {
        lock (_lock)
        {
            if (!_live.Remove(block.Pointer.Address, out var live))
                throw new InvalidOperationException($"CachingAllocator.Free: {block.Pointer} is not a live block of this allocator (freed twice, or never allocated here).");
            if (live != block)
            {
                _live.Add(live.Pointer.Address, live);
                throw new InvalidOperationException($"CachingAllocator.Free: {block.Pointer} was allocated as {live}, not {block}.");
            }
            _allocated -= live.Size;
            if (!_cache.TryGetValue((live.Stream, live.Size), out var free)) _cache[(live.Stream, live.Size)] = free = new Stack<CUdeviceptr>();
            free.Push(live.Pointer);
            _cached += live.Size;
        }
    }

    /// <summary>Returns every cached block to the device; live blocks stay.</summary>
    public void EmptyCache()
    {
        lock (_lock) ReleaseCached();
    }

    /// <summary>The current counters.</summary>
    public AllocatorStats Stats
    {
        get { lock (_lock) return new AllocatorStats(_allocated, _cached, _peak, _deviceAllocations, _hits, _flushes); }
    }

    /// <summary>Starts the peak over from the current allocation.</summary>
    public void ResetPeak()
    {
        lock (_lock) _peak = _allocated;
    }

    /// <summary>Returns the cache to the device. Live blocks are not freed: their owners still hold them.</summary>
    public void Dispose() => EmptyCache();

    private void ReleaseCached()
    {
        foreach (var free in _cache.Values)
            while (free.Count > 0) _memory.Free(free.Pop());
        _cache.Clear();
        _cached = 0;
    }

    private CudaOutOfMemoryException OutOfMemory(ulong requested, ulong size, ulong cachedBefore)
    {
        string device;
        try
        {
            var (free, total) = _memory.FreeInfo();
            device = $"; the device has {Format(free)} free of {Format(total)}";
        }
        catch (CudaException) { device = ""; }
        return new CudaOutOfMemoryException(requested,
            $"CUDA out of memory: tried to allocate {Format(requested)} (size class {Format(size)}); " +
            $"{Format(_allocated)} allocated by live tensors, {Format(cachedBefore)} was cached and has been returned to the device{device}.");
    }

    /// <summary>Bytes for people: "1.50 MiB (1572864 bytes)".</summary>
    public static string Format(ulong bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? $"{bytes} bytes" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{value:0.00} {units[unit]} ({bytes} bytes)");
    }
}

/// <summary>The device could not provide a block even after the cache was flushed.</summary>
public sealed class CudaOutOfMemoryException : CudaException
{
    /// <summary>Creates the exception for a request of <paramref name="requested"/> bytes.</summary>
    public CudaOutOfMemoryException(ulong requested, string message) : base(message) => Requested = requested;

    /// <summary>The bytes asked for.</summary>
    public ulong Requested { get; }
}
