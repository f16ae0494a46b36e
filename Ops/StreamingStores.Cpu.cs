using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// When a backward kernel writes its input gradient with non-temporal stores (AVX-512 only): at 2 M floats (8 MiB)
/// and more the output does not stay in a core's cache for its consumer anyway, and skipping the read-for-ownership of
/// every output line cut the softmax, group-norm and batch-norm backwards by a fifth to a third at one thread (loaded
/// machine, same process, issue 20). Smaller outputs keep ordinary stores, so the next step finds them in cache.
/// The streamed loops do the same operations per element as the ordinary ones: the same bits, tested.
/// </summary>
internal static unsafe class StreamingStores
{
    /// <summary>Outputs of at least this many floats (8 MiB) are streamed.</summary>
    internal const long MinFloats = 2L << 20;

    /// <summary>Whether an output of <paramref name="floats"/> floats is written with non-temporal stores.</summary>
    internal static bool Worth(long floats) => floats >= MinFloats && VectorWidth.Use512 && Sse.IsSupported;

    /// <summary>
    /// Elements of the <paramref name="n"/> at <paramref name="p"/> before its first 64-byte boundary: written with
    /// ordinary stores, since aligned non-temporal stores start there. Callers fence with <c>Sse.StoreFence</c> after the last.
    /// </summary>
    internal static int Head(float* p, int n) => Math.Min(n, (int)((64 - ((nuint)p & 63)) & 63) / sizeof(float));
}
