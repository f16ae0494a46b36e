using System.Runtime.InteropServices;

namespace Engine.Cpu;

/// <summary>
/// A grow-only, 64-byte-aligned native scratch buffer, one per thread and purpose, so the GEMM hot
/// path allocates nothing after warm-up. Native memory keeps the packed panels out of the GC heap
/// (no pinning, no compaction moves) and guarantees the alignment the aligned loads rely on.
/// </summary>
internal sealed unsafe class GemmBuffer
{
    [ThreadStatic] private static GemmBuffer? t_packedA;
    [ThreadStatic] private static GemmBuffer? t_packedB;
    [ThreadStatic] private static GemmBuffer? t_panelFlags;
    [ThreadStatic] private static GemmBuffer? t_sharedA;
    [ThreadStatic] private static GemmBuffer? t_panelB;

    private void* _ptr;
    private nuint _bytes;

    /// <summary>This thread's buffer for its packed A block and edge tile.</summary>
    public static GemmBuffer PackedA => t_packedA ??= new GemmBuffer();

    /// <summary>This thread's buffer for the packed B block that all workers of its call share.</summary>
    public static GemmBuffer PackedB => t_packedB ??= new GemmBuffer();

    /// <summary>This thread's buffer for the per-panel packing states of the packed B it owns.</summary>
    public static GemmBuffer PanelFlags => t_panelFlags ??= new GemmBuffer();

    /// <summary>This thread's buffer for a whole packed A that all workers of its call share (a short A, packed once).</summary>
    public static GemmBuffer SharedA => t_sharedA ??= new GemmBuffer();

    /// <summary>This thread's buffer for one B micro-panel that only it uses (packed, used at once, still in cache).</summary>
    public static GemmBuffer PanelB => t_panelB ??= new GemmBuffer();

    /// <summary>Returns at least <paramref name="bytes"/> bytes; contents are unspecified.</summary>
    public void* Get(long bytes)
    {
        if ((nuint)bytes > _bytes)
        {
            NativeMemory.AlignedFree(_ptr);
            _ptr = null;
            _bytes = 0;
            _ptr = NativeMemory.AlignedAlloc((nuint)bytes, 64);
            _bytes = (nuint)bytes;
        }
        return _ptr;
    }

    // Threads come and go (thread-pool workers retire); the finalizer returns their buffers.
    ~GemmBuffer() => NativeMemory.AlignedFree(_ptr);
}
