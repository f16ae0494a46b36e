using System.Runtime.InteropServices;

namespace Engine.Cpu;

/// <summary>
/// Host memory for tensors, with a cache of freed large blocks. A training step allocates the same sizes
/// every time; handing back a block that is already mapped avoids the operating system's page faults and
/// zeroing, which cost more than the kernels themselves for large elementwise operations. Small blocks
/// go straight to the native allocator, which is fast for them.
/// </summary>
public static unsafe class CpuAllocator
{
    private const nuint CacheFrom = 256 * 1024;
    private static readonly Dictionary<nuint, Stack<nint>> Free = [];
    private static readonly object Gate = new();
    private static long _cachedBytes;
    private static long _cacheLimit = 2L << 30;
    private static long _rents, _cacheHits, _systemAllocations;

    /// <summary>Blocks handed out since the start (every tensor storage is one).</summary>
    public static long Rents => Interlocked.Read(ref _rents);

    /// <summary>Of <see cref="Rents"/>, those served from the cache.</summary>
    public static long CacheHits => Interlocked.Read(ref _cacheHits);

    /// <summary>Of <see cref="Rents"/>, those that asked the system for memory.</summary>
    public static long SystemAllocations => Interlocked.Read(ref _systemAllocations);

    /// <summary>Bytes held in the cache, ready for reuse (not counted as in use).</summary>
    public static long CachedBytes => Interlocked.Read(ref _cachedBytes);

    /// <summary>Most bytes the cache keeps; beyond it, freed blocks go back to the system. Default 2 GiB.</summary>
    public static long CacheLimit
    {
        get => Interlocked.Read(ref _cacheLimit);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Interlocked.Exchange(ref _cacheLimit, value);
            Trim(value);
        }
    }

    /// <summary>
    /// The size class of a request: sizes are rounded up to a multiple of an eighth of their power of two,
    /// so a block is reused for requests at most 12.5% smaller.
    /// </summary>
    internal static nuint SizeClass(nuint bytes)
    {
        if (bytes < CacheFrom) return bytes;
        int log = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)bytes);
        nuint step = (nuint)1 << Math.Max(log - 3, 12);
        return (bytes + step - 1) / step * step;
    }

    /// <summary>A 64-byte aligned block of at least <paramref name="bytes"/> bytes; give it back with <see cref="Return"/> and the same size.</summary>
    public static void* Rent(nuint bytes)
    {
        var size = SizeClass(bytes);
        Interlocked.Increment(ref _rents);
        if (size >= CacheFrom)
        {
            lock (Gate)
            {
                if (Free.TryGetValue(size, out var stack) && stack.Count > 0)
                {
                    Interlocked.Add(ref _cachedBytes, -(long)size);
                    Interlocked.Increment(ref _cacheHits);
                    return (void*)stack.Pop();
                }
            }
        }
        Interlocked.Increment(ref _systemAllocations);
        return NativeMemory.AlignedAlloc(size, 64);
    }

    /// <summary>Takes back a block from <see cref="Rent"/> of <paramref name="bytes"/> bytes (the size asked for).</summary>
    public static void Return(void* block, nuint bytes)
    {
        var size = SizeClass(bytes);
        if (size >= CacheFrom && CachedBytes + (long)size <= CacheLimit)
        {
            lock (Gate)
            {
                if (!Free.TryGetValue(size, out var stack)) Free[size] = stack = new Stack<nint>();
                stack.Push((nint)block);
                Interlocked.Add(ref _cachedBytes, (long)size);
            }
            return;
        }
        NativeMemory.AlignedFree(block);
    }

    /// <summary>Returns every cached block to the system (PyTorch's <c>empty_cache</c>).</summary>
    public static void EmptyCache() => Trim(0);

    private static void Trim(long limit)
    {
        lock (Gate)
        {
            foreach (var (size, stack) in Free)
            {
                while (CachedBytes > limit && stack.Count > 0)
                {
                    NativeMemory.AlignedFree((void*)stack.Pop());
                    Interlocked.Add(ref _cachedBytes, -(long)size);
                }
            }
        }
    }
}
