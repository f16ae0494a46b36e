using Engine.Cuda.Native;

namespace Engine.Cuda.Memory;

/// <summary>Page-locked host memory, which asynchronous copies need: the driver's, or a fake in tests.</summary>
public interface IHostMemory
{
    /// <summary>Allocates <paramref name="bytes"/> of page-locked memory.</summary>
    nint Alloc(ulong bytes);

    /// <summary>Frees memory from <see cref="Alloc"/>.</summary>
    void Free(nint pointer);
}

/// <summary>The driver's page-locked memory (cuMemHostAlloc / cuMemFreeHost), in the current context.</summary>
public sealed class DriverHostMemory : IHostMemory
{
    /// <inheritdoc/>
    public nint Alloc(ulong bytes) => Driver.HostAlloc(bytes);

    /// <inheritdoc/>
    public void Free(nint pointer) => Driver.FreeHost(pointer);
}

/// <summary>A page-locked host buffer for transfers; frees itself on <see cref="Dispose"/>. Never freed by a finalizer, since CUDA must not be called from one.</summary>
public sealed unsafe class PinnedHostBuffer : IDisposable
{
    private readonly IHostMemory _memory;
    private nint _pointer;

    /// <summary>Allocates <paramref name="bytes"/> from <paramref name="memory"/> (the driver's by default).</summary>
    public PinnedHostBuffer(ulong bytes, IHostMemory? memory = null)
    {
        if (bytes == 0) throw new ArgumentOutOfRangeException(nameof(bytes), "a pinned buffer needs at least one byte.");
        _memory = memory ?? new DriverHostMemory();
        _pointer = _memory.Alloc(bytes);
        Bytes = bytes;
    }

    /// <summary>The buffer's size in bytes.</summary>
    public ulong Bytes { get; }

    /// <summary>The buffer's address; throws once disposed.</summary>
    public nint Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(PinnedHostBuffer));

    /// <summary>The buffer as elements of <typeparamref name="T"/> (as many whole ones as fit).</summary>
    public Span<T> AsSpan<T>() where T : unmanaged => new((void*)Pointer, checked((int)(Bytes / (ulong)sizeof(T))));

    /// <summary>Frees the buffer; a second call does nothing.</summary>
    public void Dispose()
    {
        var pointer = Interlocked.Exchange(ref _pointer, 0);
        if (pointer != 0) _memory.Free(pointer);
    }
}
