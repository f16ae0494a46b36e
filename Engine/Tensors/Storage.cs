using System.Runtime.InteropServices;

namespace Engine;

/// <summary>
/// A reference-counted block of memory shared by a tensor and all of its views. Freed when the last
/// tensor handle referring to it is disposed; a finalizer is only the safety net for handles that were
/// never disposed.
/// </summary>
public abstract class Storage
{
    private int _refCount = 1;

    /// <summary>Number of elements the block holds.</summary>
    public long Length { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Device the memory lives on.</summary>
    public abstract Device Device { get; }

    /// <summary>
    /// Incremented by every in-place write, so the tape can tell that a tensor it saved for the
    /// backward pass was changed afterwards.
    /// </summary>
    public int Version { get; private set; }

    /// <summary>True once the memory has been returned.</summary>
    public bool IsReleased => Volatile.Read(ref _refCount) <= 0;

    /// <summary>Size of the block in bytes.</summary>
    public long Bytes => Length * DType.SizeOf();

    /// <summary>Creates a storage record for <paramref name="length"/> elements of <paramref name="dtype"/>.</summary>
    protected Storage(long length, DType dtype)
    {
        Length = length;
        DType = dtype;
    }

    internal void BumpVersion() => Version++;

    /// <summary>Number of tensor handles sharing this storage.</summary>
    internal int RefCount => Volatile.Read(ref _refCount);

    internal void AddRef()
    {
        if (Interlocked.Increment(ref _refCount) <= 1)
            throw new ObjectDisposedException(nameof(Storage), "The storage was already released.");
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _refCount) == 0) Free();
    }

    /// <summary>Returns the memory to its allocator.</summary>
    protected abstract void Free();
}

/// <summary>Host memory, 64-byte aligned for SIMD, outside the managed heap.</summary>
public sealed unsafe class CpuStorage : Storage
{
    private static long _liveBytes;
    private static long _peakBytes;
    private void* _data;

    /// <summary>Bytes currently held by all CPU storages.</summary>
    public static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>Largest value <see cref="LiveBytes"/> has reached (since the start, or the last <see cref="ResetPeakBytes"/>).</summary>
    public static long PeakBytes => Interlocked.Read(ref _peakBytes);

    /// <summary>Starts <see cref="PeakBytes"/> again from the bytes in use now (PyTorch's <c>reset_peak_memory_stats</c>).</summary>
    public static void ResetPeakBytes() => Interlocked.Exchange(ref _peakBytes, LiveBytes);

    /// <inheritdoc/>
    public override Device Device => Device.Cpu;

    /// <summary>Allocates uninitialised memory for <paramref name="length"/> elements.</summary>
    public CpuStorage(long length, DType dtype, bool zeroed = false) : base(length, dtype)
    {
        nuint bytes = (nuint)Math.Max(1, checked(length * dtype.SizeOf()));
        _data = Cpu.CpuAllocator.Rent(bytes);
        if (zeroed) NativeMemory.Clear(_data, bytes);
        long live = Interlocked.Add(ref _liveBytes, length * dtype.SizeOf());
        long peak;
        while (live > (peak = Interlocked.Read(ref _peakBytes)) && Interlocked.CompareExchange(ref _peakBytes, live, peak) != peak) { }
    }

    /// <summary>Start of the block.</summary>
    public void* Pointer => IsReleased ? throw new ObjectDisposedException(nameof(CpuStorage), "The tensor's memory was already released (the tensor was disposed).") : _data;

    /// <summary>The block as a span of <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged => new(Pointer, checked((int)Length));

    /// <inheritdoc/>
    protected override void Free()
    {
        var p = _data;
        _data = null;
        if (p == null) return;
        Cpu.CpuAllocator.Return(p, (nuint)Math.Max(1, Length * DType.SizeOf()));
        Interlocked.Add(ref _liveBytes, -Length * DType.SizeOf());
        GC.SuppressFinalize(this);
    }

    /// <summary>Safety net for storages whose tensors were never disposed.</summary>
    ~CpuStorage()
    {
        if (_data != null)
        {
            // Not back to the cache: a finalizer runs on the finalizer thread at an unknown time.
            NativeMemory.AlignedFree(_data);
            _data = null;
            Interlocked.Add(ref _liveBytes, -Length * DType.SizeOf());
        }
    }
}
