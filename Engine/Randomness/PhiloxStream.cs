using System.Runtime.Intrinsics;

namespace Engine.Randomness;

/// <summary>
/// Runs of a Philox stream's samples, made a chunk of blocks at a time by <see cref="PhiloxBatch"/>, following the
/// element-to-block map of <see cref="Philox.BlocksFor"/>: element e of an F32 uniform fill is word e % 4 of block
/// offset + e / 4; of an F64 uniform fill, words 2(e % 2) and 2(e % 2) + 1 of block offset + e / 2. A run may start
/// at any element, so a parallel loop may split a fill anywhere and still give the same bits.
/// </summary>
internal static class PhiloxStream
{
    /// <summary>Words made per chunk: 4 KiB on the stack.</summary>
    private const int ChunkWords = 1024;

    /// <summary>Elements <paramref name="first"/>, ... of the F32 uniform [0, 1) stream (<see cref="Philox.ToUnitFloat"/>) into <paramref name="dst"/>.</summary>
    public static void UnitFloats(ulong key, ulong offset, long first, Span<float> dst, PhiloxWidth width)
    {
        Span<uint> words = stackalloc uint[ChunkWords];
        int done = 0;
        while (done < dst.Length)
        {
            long e = first + done;
            int skip = (int)(e % 4);
            int take = Math.Min(dst.Length - done, ChunkWords - skip);
            int blocks = (skip + take + 3) / 4;
            PhiloxBatch.Blocks(offset + (ulong)(e / 4), key, words[..(4 * blocks)], width);
            ToUnitFloats(words.Slice(skip, take), dst.Slice(done, take));
            done += take;
        }
    }

    /// <summary>Elements <paramref name="first"/>, ... of the F64 uniform [0, 1) stream (<see cref="Philox.ToUnitDouble"/>) into <paramref name="dst"/>.</summary>
    public static void UnitDoubles(ulong key, ulong offset, long first, Span<double> dst, PhiloxWidth width)
    {
        Span<uint> words = stackalloc uint[ChunkWords];
        int done = 0;
        while (done < dst.Length)
        {
            long e = first + done;
            int skip = (int)(e % 2);
            int take = Math.Min(dst.Length - done, ChunkWords / 2 - skip);
            int blocks = (skip + take + 1) / 2;
            PhiloxBatch.Blocks(offset + (ulong)(e / 2), key, words[..(4 * blocks)], width);
            for (int i = 0; i < take; i++)
            {
                int w = 2 * (skip + i);
                dst[done + i] = Philox.ToUnitDouble(words[w], words[w + 1]);
            }
            done += take;
        }
    }

    /// <summary>
    /// Calls <paramref name="body"/> with consecutive runs of the blocks <paramref name="firstCounter"/>, ... (count in all):
    /// the run's first block's index relative to <paramref name="firstCounter"/> and its words, four a block.
    /// </summary>
    public static void ForBlocks(ulong key, ulong firstCounter, long count, PhiloxWidth width, BlockRun body)
    {
        Span<uint> words = stackalloc uint[ChunkWords];
        for (long done = 0; done < count;)
        {
            int blocks = (int)Math.Min(count - done, ChunkWords / 4);
            var run = words[..(4 * blocks)];
            PhiloxBatch.Blocks(firstCounter + (ulong)done, key, run, width);
            body(done, run);
            done += blocks;
        }
    }

    /// <summary>A run of blocks: the index of its first block and the blocks' words.</summary>
    public delegate void BlockRun(long firstBlock, ReadOnlySpan<uint> words);

    /// <summary>(w &gt;&gt; 8) * 2^-24 for each word: the exact float of <see cref="Philox.ToUnitFloat"/> (24 bits convert exactly).</summary>
    private static void ToUnitFloats(ReadOnlySpan<uint> words, Span<float> dst)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var unit = Vector256.Create(1.0f / (1 << 24));
            for (; i + 8 <= words.Length; i += 8)
            {
                var top = Vector256.ShiftRightLogical(Vector256.Create(words.Slice(i, 8)), 8).AsInt32();
                (Vector256.ConvertToSingle(top) * unit).CopyTo(dst.Slice(i, 8));
            }
        }
        for (; i < words.Length; i++) dst[i] = Philox.ToUnitFloat(words[i]);
    }

    /// <summary>
    /// v = (float)(lo + (hi - lo) * (double)u) in place, each step rounded in double as the scalar fill rounds it
    /// (no fused multiply-add), so the bits are those of <c>CpuBackend.Random</c> one element at a time.
    /// </summary>
    public static void AffineInPlace(Span<float> values, double lo, double hi)
    {
        if (lo == 0 && hi == 1) return; // 0 + 1 * u is u exactly
        double scale = hi - lo;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(scale);
            var vl = Vector256.Create(lo);
            for (; i + 8 <= values.Length; i += 8)
            {
                var (a, b) = Vector256.Widen(Vector256.Create(values.Slice(i, 8)));
                Vector256.Narrow(vl + vs * a, vl + vs * b).CopyTo(values.Slice(i, 8));
            }
        }
        for (; i < values.Length; i++) values[i] = (float)(lo + scale * values[i]);
    }

    /// <summary>v = lo + (hi - lo) * u in place, in double.</summary>
    public static void AffineInPlace(Span<double> values, double lo, double hi)
    {
        if (lo == 0 && hi == 1) return;
        double scale = hi - lo;
        for (int i = 0; i < values.Length; i++) values[i] = lo + scale * values[i];
    }
}
