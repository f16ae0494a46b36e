using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

/// <summary>
/// Fills of large outputs with non-temporal (streaming) stores. A copy of a broadcast source (the gradient of a sum or
/// a mean as its leaf receives it: dy expanded to x's shape) writes its whole output once and reads next to nothing. With
/// ordinary stores each output line is first read for ownership and then stays in the caches, where it pushes out the
/// data the next step reads: after the 16 MiB gradient of <c>bench ops</c>' sum_dim1 its 16 MiB input was mostly gone
/// from the 32 MiB L3 (Zen 4), and the next forward read it from memory. Streamed, the output goes straight to memory.
/// Measured on the issue-20 machine (Zen 4, load average 10, bench ops' sum_dim1 loop: forward timed, backward,
/// gradient dropped; three alternated pairs of processes, 400 steps each): the forward's median 0.34-0.38 ms against
/// 0.41-0.64 and its minimum 0.11-0.12 against 0.12-0.14, but the backward's minimum 0.30 against 0.11-0.18 (its
/// medians level, 0.60-0.63 against 0.57-0.65): a streamed 16 MiB goes to memory at about 55 GB/s, where ordinary
/// stores can land in L3 when it is free. PyTorch 1.13's backward of this case took 0.48-0.58 ms on the quiet machine.
/// Outputs below <see cref="MinBytes"/> keep ordinary stores, so that a consumer soon after finds them in cache. The
/// values are the same either way (a fill).
/// </summary>
internal static unsafe class StreamedFill
{
    /// <summary>Outputs of at least this many bytes (8 MiB, as the streamed backward kernels of Ops/StreamingStores) are streamed.</summary>
    internal const long MinBytes = 8L << 20;

    /// <summary>Whether an output of <paramref name="bytes"/> bytes is filled with non-temporal stores on this machine.</summary>
    internal static bool Worth(long bytes) => bytes >= MinBytes && Supported;

    /// <summary>Non-temporal stores of whole vectors: AVX's 256-bit or AVX-512's 512-bit, with SSE's store fence.</summary>
    internal static bool Supported => Avx.IsSupported && Vector256.IsHardwareAccelerated;

    /// <summary>
    /// <paramref name="n"/> copies of <paramref name="value"/> from <paramref name="dst"/> on: ordinary stores up to
    /// the first 64-byte boundary and after the last whole vector, aligned non-temporal stores between. No fence: the
    /// loop that calls it is an <see cref="IStreamingLoop"/>, and <see cref="StridedIterator"/> fences once after each
    /// thread's chunk (a fence per row of 4 KiB doubled the fill's time).
    /// </summary>
    internal static void Fill<T>(T* dst, long n, T value) where T : unmanaged
    {
        long head = Math.Min(n, (long)((64 - ((nuint)dst & 63)) & 63) / sizeof(T));
        if ((nuint)dst % (nuint)sizeof(T) != 0) head = n; // not element-aligned: no aligned vectors
        long i = 0;
        for (; i < head; i++) dst[i] = value;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var v = Vector512.Create(value);
            int step = Vector512<T>.Count;
            for (; i + step <= n; i += step) Vector512.StoreAlignedNonTemporal(v, dst + i);
        }
        else
        {
            var v = Vector256.Create(value);
            int step = Vector256<T>.Count;
            for (; i + step <= n; i += step) Vector256.StoreAlignedNonTemporal(v, dst + i);
        }
        for (; i < n; i++) dst[i] = value;
    }
}
