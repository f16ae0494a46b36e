using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Randomness;

/// <summary>Which form of <see cref="PhiloxBatch"/> runs: one block at a time, 4 blocks in AVX2 lanes, or 8 in AVX-512 lanes.</summary>
internal enum PhiloxWidth { Scalar, V256, V512 }

/// <summary>
/// Runs <see cref="Philox.Block(ulong, ulong)"/> on many consecutive counters at once: each block's state lives in
/// the low half of a 64-bit vector lane, so that one unsigned 32x32->64-bit multiply (<c>vpmuludq</c>) gives both
/// halves of a Philox product. The words come out in the stream's order (block j's four words at 4j..4j+3), the
/// same bits as the scalar <see cref="Philox.Block(ulong, ulong)"/> for every counter, including where the
/// counter's low word wraps, so the stream does not depend on the width, the thread count or where a chunk starts.
/// </summary>
internal static class PhiloxBatch
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The widest form this processor runs natively (AVX-512 off under <c>DOTNET_EnableAVX512=0</c>).</summary>
    public static PhiloxWidth Best { get; } =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? PhiloxWidth.V512
        : Avx2.IsSupported ? PhiloxWidth.V256 : PhiloxWidth.Scalar;

    /// <summary>The narrower of <paramref name="width"/> and what the processor runs.</summary>
    public static PhiloxWidth Supported(PhiloxWidth width) =>
        width == PhiloxWidth.V512 && !Avx512F.IsSupported ? Supported(PhiloxWidth.V256)
        : width == PhiloxWidth.V256 && !Avx2.IsSupported ? PhiloxWidth.Scalar
        : width;

    /// <summary>
    /// Writes the blocks of counters <paramref name="firstCounter"/>, +1, ... (mod 2^64) under <paramref name="key"/>
    /// into <paramref name="words"/>, four words a block; its length must be a multiple of 4.
    /// </summary>
    public static void Blocks(ulong firstCounter, ulong key, Span<uint> words) => Blocks(firstCounter, key, words, Best);

    /// <summary>
    /// <see cref="Blocks(ulong, ulong, Span{uint})"/> in the form <paramref name="width"/> (a form the processor lacks
    /// falls back to a narrower one): blocks <paramref name="firstCounter"/>, +1, ... under <paramref name="key"/> into <paramref name="words"/>.
    /// </summary>
    public static void Blocks(ulong firstCounter, ulong key, Span<uint> words, PhiloxWidth width)
    {
        if (words.Length % 4 != 0) throw new ArgumentException($"philox: the word buffer must hold whole blocks (4 words each), got {words.Length} words.", nameof(words));
        int blocks = words.Length / 4, done = 0;
        width = Supported(width);
        if (width == PhiloxWidth.V512) done = Blocks512(firstCounter, key, words, blocks);
        else if (width == PhiloxWidth.V256) done = Blocks256(firstCounter, key, words, blocks);
        for (int j = done; j < blocks; j++)
        {
            var (a, b, c, d) = Philox.Block(firstCounter + (ulong)j, key);
            words[4 * j] = a; words[4 * j + 1] = b; words[4 * j + 2] = c; words[4 * j + 3] = d;
        }
    }

    /// <summary>Eight blocks a step; returns how many blocks it wrote (a multiple of 8).</summary>
    private static unsafe int Blocks512(ulong firstCounter, ulong key, Span<uint> words, int blocks)
    {
        var keys = RoundKeys(key);
        var m0 = Vector512.Create((ulong)M0).AsUInt32();
        var m1 = Vector512.Create((ulong)M1).AsUInt32();
        var lanes = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
        // Interleaves the low dwords of two vectors (a0 b0 a1 b1 ...), then whole 64-bit pairs into the stream's order.
        var pairDwords = Vector512.Create(0u, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        var firstHalf = Vector512.Create(0UL, 8, 1, 9, 2, 10, 3, 11);
        var secondHalf = Vector512.Create(4UL, 12, 5, 13, 6, 14, 7, 15);
        int done = 0;
        fixed (uint* w = words)
        {
            for (; done + 8 <= blocks; done += 8)
            {
                var counter = Vector512.Create(firstCounter + (ulong)done) + lanes;
                // State words in the low dwords of 64-bit lanes; the high dwords carry junk that no multiply reads.
                Vector512<ulong> c0 = counter, c1 = counter >> 32, c2 = Vector512<ulong>.Zero, c3 = Vector512<ulong>.Zero;
                for (int r = 0; r < 10; r++)
                {
                    var p0 = Avx512F.Multiply(c0.AsUInt32(), m0);
                    var p1 = Avx512F.Multiply(c2.AsUInt32(), m1);
                    var k0 = Vector512.Create((ulong)keys[2 * r]);
                    var k1 = Vector512.Create((ulong)keys[2 * r + 1]);
                    c0 = (p1 >> 32) ^ c1 ^ k0;
                    c1 = p1;
                    c2 = (p0 >> 32) ^ c3 ^ k1;
                    c3 = p0;
                }
                var a = Avx512F.PermuteVar16x32x2(c0.AsUInt32(), pairDwords, c1.AsUInt32()).AsUInt64();
                var b = Avx512F.PermuteVar16x32x2(c2.AsUInt32(), pairDwords, c3.AsUInt32()).AsUInt64();
                Avx512F.PermuteVar8x64x2(a, firstHalf, b).AsUInt32().Store(w + 4 * done);
                Avx512F.PermuteVar8x64x2(a, secondHalf, b).AsUInt32().Store(w + 4 * done + 16);
            }
        }
        return done;
    }

    /// <summary>Four blocks a step; returns how many blocks it wrote (a multiple of 4).</summary>
    private static unsafe int Blocks256(ulong firstCounter, ulong key, Span<uint> words, int blocks)
    {
        var keys = RoundKeys(key);
        var m0 = Vector256.Create((ulong)M0).AsUInt32();
        var m1 = Vector256.Create((ulong)M1).AsUInt32();
        var lanes = Vector256.Create(0UL, 1, 2, 3);
        int done = 0;
        fixed (uint* w = words)
        {
            for (; done + 4 <= blocks; done += 4)
            {
                var counter = Vector256.Create(firstCounter + (ulong)done) + lanes;
                Vector256<ulong> c0 = counter, c1 = counter >> 32, c2 = Vector256<ulong>.Zero, c3 = Vector256<ulong>.Zero;
                for (int r = 0; r < 10; r++)
                {
                    var p0 = Avx2.Multiply(c0.AsUInt32(), m0);
                    var p1 = Avx2.Multiply(c2.AsUInt32(), m1);
                    var k0 = Vector256.Create((ulong)keys[2 * r]);
                    var k1 = Vector256.Create((ulong)keys[2 * r + 1]);
                    c0 = (p1 >> 32) ^ c1 ^ k0;
                    c1 = p1;
                    c2 = (p0 >> 32) ^ c3 ^ k1;
                    c3 = p0;
                }
                // (c0, c1) and (c2, c3) of each block as 64-bit pairs, then blocks 0, 2 | 1, 3 per 128-bit half, then in order.
                var a = Avx2.Blend(c0.AsUInt32(), (c1 << 32).AsUInt32(), 0b1010_1010).AsUInt64();
                var b = Avx2.Blend(c2.AsUInt32(), (c3 << 32).AsUInt32(), 0b1010_1010).AsUInt64();
                var even = Avx2.UnpackLow(a, b);
                var odd = Avx2.UnpackHigh(a, b);
                Avx2.Permute2x128(even, odd, 0x20).AsUInt32().Store(w + 4 * done);
                Avx2.Permute2x128(even, odd, 0x31).AsUInt32().Store(w + 4 * done + 8);
            }
        }
        return done;
    }

    /// <summary>The key words of the ten rounds: (k0, k1), then bumped by the Weyl constants before each later round.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static RoundKeyArray RoundKeys(ulong key)
    {
        var keys = new RoundKeyArray();
        uint k0 = (uint)key, k1 = (uint)(key >> 32);
        for (int r = 0; r < 10; r++)
        {
            if (r > 0) { k0 += W0; k1 += W1; }
            keys[2 * r] = k0;
            keys[2 * r + 1] = k1;
        }
        return keys;
    }

    [InlineArray(20)]
    private struct RoundKeyArray { private uint _first; }
}
