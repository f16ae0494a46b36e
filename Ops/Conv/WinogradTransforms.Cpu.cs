using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The three transforms of <see cref="WinogradCpu"/>'s F(2x2, 3x3): weights <c>G g Gᵀ</c>, input tiles <c>Bᵀ d B</c>
/// and product tiles <c>Aᵀ m A</c>, with
/// <c>Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]</c>, <c>G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]</c> and
/// <c>Aᵀ = [1 1 1 0; 0 1 −1 −1]</c>. The input and output transforms run on vectors of <see cref="Lanes"/>
/// neighbouring tiles of a tile row.
/// </summary>
/// <remarks>
/// Transformed values are stored position-major: position ξ = 4·row + column of the 4x4 tile, then channel, then
/// tile, so that each position is a (channels x tiles) matrix with row stride <c>ld</c>, the GEMM's operand as it lies.
/// </remarks>
internal static unsafe class WinogradTransforms
{
    /// <summary>Tiles per vector.</summary>
    public const int Lanes = 8;

    /// <summary>
    /// Floats in one staged input row: two columns per tile for whole vectors of tiles, plus the two columns the last
    /// tile's 4-wide window reaches beyond, so that every vector load stays inside.
    /// </summary>
    public static int StageWidth(int tilesW) => 2 * ((tilesW + Lanes - 1) / Lanes * Lanes) + 2 + Lanes;

    /// <summary>
    /// U[ξ, o, i] = (G g Gᵀ)[ξ] for the 3x3 filter g of output channel o and input channel i: w[o, i] as it lies, or,
    /// when <paramref name="flipped"/>, w[i, o] rotated by 180 degrees (the input gradient's kernel, w of shape (cin, cout, 3, 3)).
    /// Formed in float64, four filters per vector, and rounded once.
    /// </summary>
    public static void Weights(float* w, int cout, int cin, bool flipped, float* u)
    {
        long pairs = (long)cout * cin;
        using var turned = new ConvScratch<float>(flipped ? pairs * 9 : 0);
        if (flipped)
        {
            for (long o = 0; o < cout; o++)
                for (long i = 0; i < cin; i++)
                {
                    float* src = w + (i * cout + o) * 9, dst = turned.Ptr + (o * cin + i) * 9;
                    for (int k = 0; k < 9; k++) dst[k] = src[8 - k];
                }
            w = turned.Ptr;
        }
        nint ws = (nint)w, us = (nint)u;
        CpuParallel.For((pairs + 3) / 4, 200, (start, end) =>
        {
            for (long b = start; b < end; b++) WeightBlock((float*)ws, (float*)us, pairs, 4 * b);
        });
    }

    /// <summary>Filters [p, p + 4) (those below <paramref name="pairs"/>) of the flattened (o, i) order.</summary>
    private static void WeightBlock(float* w, float* u, long pairs, long p)
    {
        int count = (int)Math.Min(4, pairs - p);
        float* src = w + p * 9;
        Vector256<double> Tap(int k) => Vector256.Create(
            (double)src[k], count > 1 ? src[9 + k] : 0, count > 2 ? src[18 + k] : 0, count > 3 ? src[27 + k] : 0);
        var half = Vector256.Create(0.5);
        // t = G g (rows of t: g's rows combined), column by column; then U = t Gᵀ row by row.
        Vector256<double> g00 = Tap(0), g01 = Tap(1), g02 = Tap(2), g10 = Tap(3), g11 = Tap(4), g12 = Tap(5), g20 = Tap(6), g21 = Tap(7), g22 = Tap(8);
        var t1a = half * (g00 + g10 + g20); var t1b = half * (g01 + g11 + g21); var t1c = half * (g02 + g12 + g22);
        var t2a = half * (g00 - g10 + g20); var t2b = half * (g01 - g11 + g21); var t2c = half * (g02 - g12 + g22);
        float* dst = u + p;
        WeightRow(g00, g01, g02, half, dst, pairs, count);
        WeightRow(t1a, t1b, t1c, half, dst + 4 * pairs, pairs, count);
        WeightRow(t2a, t2b, t2c, half, dst + 8 * pairs, pairs, count);
        WeightRow(g20, g21, g22, half, dst + 12 * pairs, pairs, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightRow(Vector256<double> t0, Vector256<double> t1, Vector256<double> t2, Vector256<double> half, float* dst, long pairs, int count)
    {
        Put(t0, dst, count);
        Put(half * (t0 + t1 + t2), dst + pairs, count);
        Put(half * (t0 - t1 + t2), dst + 2 * pairs, count);
        Put(t2, dst + 3 * pairs, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector256<double> v, float* dst, int count)
    {
        var f = Vector256.Narrow(v, v).GetLower();
        if (count == 4) f.Store(dst);
        else for (int k = 0; k < count; k++) dst[k] = f.GetElement(k);
    }

    /// <summary>
    /// The transformed tiles of tile rows [<paramref name="ty0"/>, + <paramref name="rows"/>) of image <paramref name="n"/>,
    /// every input channel: tile tx of row ty0 + i, channel ci, position ξ, to <c>v[(ξ·Cin + ci)·ld + i·tilesW + tx]</c>.
    /// Writes whole vectors, so up to <see cref="Lanes"/> − 1 floats past a row's last tile (the next row's place,
    /// written after, or the slack of ld). <paramref name="stage"/> holds (2·rows + 2) rows of <paramref name="stageW"/>.
    /// </summary>
    public static void InputRows(ConvGeometry g, float* x, int n, int ty0, int rows, int tilesW, float* stage, int stageW, float* v, long ld)
    {
        long xiStride = (long)g.Cin * ld;
        int staged = 2 * rows + 2, iy0 = 2 * ty0 - g.PadTop;
        for (int ci = 0; ci < g.Cin; ci++)
        {
            float* plane = x + ((long)n * g.Cin + ci) * g.H * g.W;
            // Stage the input rows the tile rows read, once each, with the padding as zeros: stage row r, column c is
            // input row iy0 + r, column c − PadLeft.
            new Span<float>(stage, staged * stageW).Clear();
            for (int r = Math.Max(0, -iy0), end = Math.Min(staged, g.H - iy0); r < end; r++)
                new ReadOnlySpan<float>(plane + (long)(iy0 + r) * g.W, g.W).CopyTo(new Span<float>(stage + r * stageW + g.PadLeft, g.W));
            for (int i = 0; i < rows; i++)
            {
                float* dst = v + ci * ld + (long)i * tilesW;
                float* s = stage + 2 * i * stageW;
                for (int tx = 0; tx < tilesW; tx += Lanes) InputBlock(s + 2 * tx, stageW, dst + tx, xiStride);
            }
        }
    }

    /// <summary>Bᵀ d B for <see cref="Lanes"/> tiles whose windows start at s, 2·lane columns apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputBlock(float* s, int stageW, float* dst, long xiStride)
    {
        Split(s, out var a0, out var a1);
        Split(s + 2, out var a2, out var a3);
        Split(s + stageW, out var b0, out var b1);
        Split(s + stageW + 2, out var b2, out var b3);
        Split(s + 2 * stageW, out var c0, out var c1);
        Split(s + 2 * stageW + 2, out var c2, out var c3);
        Split(s + 3 * stageW, out var d0, out var d1);
        Split(s + 3 * stageW + 2, out var d2, out var d3);
        // Rows: t0 = d0 − d2, t1 = d1 + d2, t2 = d2 − d1, t3 = d1 − d3 (a, b, c, d are input rows 0 to 3).
        Columns(a0 - c0, a1 - c1, a2 - c2, a3 - c3, dst, xiStride);
        Columns(b0 + c0, b1 + c1, b2 + c2, b3 + c3, dst + 4 * xiStride, xiStride);
        Columns(c0 - b0, c1 - b1, c2 - b2, c3 - b3, dst + 8 * xiStride, xiStride);
        Columns(b0 - d0, b1 - d1, b2 - d2, b3 - d3, dst + 12 * xiStride, xiStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3, float* dst, long xiStride)
    {
        (t0 - t2).Store(dst);
        (t1 + t2).Store(dst + xiStride);
        (t2 - t1).Store(dst + 2 * xiStride);
        (t1 - t3).Store(dst + 3 * xiStride);
    }

    /// <summary>The even and odd elements of the 16 floats at p: even[l] = p[2l], odd[l] = p[2l + 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Split(float* p, out Vector256<float> even, out Vector256<float> odd)
    {
        if (Avx2.IsSupported)
        {
            var a = Avx.LoadVector256(p);
            var b = Avx.LoadVector256(p + 8);
            // Within each 128-bit half: (a0 a2 b0 b2), then the 64-bit quarters reordered to (a0 a2 a4 a6 b0 b2 b4 b6).
            even = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
            odd = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
            return;
        }
        even = Vector256.Create(p[0], p[2], p[4], p[6], p[8], p[10], p[12], p[14]);
        odd = Vector256.Create(p[1], p[3], p[5], p[7], p[9], p[11], p[13], p[15]);
    }

    /// <summary>
    /// Output tile row <paramref name="ty"/> of image <paramref name="n"/>, every output channel, from the products
    /// <c>m[(ξ·Cout + co)·ld + tx]</c>: y = Aᵀ m A (+ bias), the last tile row and column clipped to the output.
    /// </summary>
    public static void OutputRow(ConvGeometry g, float* m, long ld, int n, int ty, int tilesW, float* bias, float* y)
    {
        long xiStride = (long)g.Cout * ld;
        int oy = 2 * ty;
        bool second = oy + 1 < g.Ho;
        for (int co = 0; co < g.Cout; co++)
        {
            float* src = m + co * ld;
            float* row0 = y + (((long)n * g.Cout + co) * g.Ho + oy) * g.Wo;
            var b = bias == null ? Vector256<float>.Zero : Vector256.Create(bias[co]);
            for (int tx = 0; tx < tilesW; tx += Lanes)
            {
                float* p = src + tx;
                // A row combination of the 4x4 products per column j: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3.
                var m1 = Row(p + 4 * xiStride, xiStride, out var m1b, out var m1c, out var m1d);
                var m2 = Row(p + 8 * xiStride, xiStride, out var m2b, out var m2c, out var m2d);
                var m0 = Row(p, xiStride, out var m0b, out var m0c, out var m0d);
                Vector256<float> s0a = m0 + m1 + m2, s0b = m0b + m1b + m2b, s0c = m0c + m1c + m2c, s0d = m0d + m1d + m2d;
                var m3 = Row(p + 12 * xiStride, xiStride, out var m3b, out var m3c, out var m3d);
                Vector256<float> s1a = m1 - m2 - m3, s1b = m1b - m2b - m3b, s1c = m1c - m2c - m3c, s1d = m1d - m2d - m3d;
                int valid = Math.Min(2 * Lanes, g.Wo - 2 * tx);
                Store(row0 + 2 * tx, s0a + s0b + s0c + b, s0b - s0c - s0d + b, valid);
                if (second) Store(row0 + g.Wo + 2 * tx, s1a + s1b + s1c + b, s1b - s1c - s1d + b, valid);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row(float* p, long xiStride, out Vector256<float> j1, out Vector256<float> j2, out Vector256<float> j3)
    {
        j1 = Vector256.Load(p + xiStride);
        j2 = Vector256.Load(p + 2 * xiStride);
        j3 = Vector256.Load(p + 3 * xiStride);
        return Vector256.Load(p);
    }

    /// <summary>Interleaves the tiles' left and right columns to dst: left[0], right[0], left[1], ...; only the first <paramref name="valid"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dst, Vector256<float> left, Vector256<float> right, int valid)
    {
        if (Avx.IsSupported)
        {
            var lo = Avx.UnpackLow(left, right);   // l0 r0 l1 r1 | l4 r4 l5 r5
            var hi = Avx.UnpackHigh(left, right);  // l2 r2 l3 r3 | l6 r6 l7 r7
            var first = Avx.Permute2x128(lo, hi, 0x20);
            var last = Avx.Permute2x128(lo, hi, 0x31);
            if (valid >= 2 * Lanes)
            {
                first.Store(dst);
                last.Store(dst + Lanes);
                return;
            }
            float* tmp = stackalloc float[2 * Lanes];
            first.Store(tmp);
            last.Store(tmp + Lanes);
            for (int k = 0; k < valid; k++) dst[k] = tmp[k];
            return;
        }
        for (int k = 0; k < valid; k++) dst[k] = (k & 1) == 0 ? left.GetElement(k >> 1) : right.GetElement(k >> 1);
    }
}
