using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// Max pooling's forward with output columns in vector lanes, for dilation 1 and stride 1 or 2 along the rows
/// (<see cref="Applies"/>). Each plane is first copied into a buffer whose rows carry -inf on both sides, so every
/// lane reads every tap of its window: a tap in the padding is -inf, which never beats the running maximum, exactly
/// as the scalar kernel skips it. The taps are visited in the scalar kernel's order with its rule (a larger value or
/// a NaN replaces the maximum), and each lane starts from the scalar kernel's first tap, so values and indices are
/// the scalar kernel's, bit for bit. With stride 2 a lane's taps are the even or odd elements of two loads.
/// The index of each lane's maximum is carried as a T (exact: <see cref="Applies"/> bounds the plane).
/// </summary>
internal static unsafe class MaxPoolVectorCpu
{
    /// <summary>Whether this kernel takes the geometry: dilation 1, stride 1 or 2 across, planes whose indices a T holds exactly, and AVX2.</summary>
    public static bool Applies<T>(PoolGeometry g) where T : unmanaged =>
        g.DH == 1 && g.DW == 1 && g.SW is 1 or 2 && Avx2.IsSupported
        && (long)g.H * g.W < (typeof(T) == typeof(float) ? 1L << 24 : 1L << 52)
        && g.Wo >= Vector256<T>.Count;

    /// <summary>Elements of one padded row: every load of every lane stays inside it.</summary>
    public static int PaddedRow(PoolGeometry g) => g.SW * g.Wo + g.KW + 2 * Vector512<byte>.Count;

    /// <summary>
    /// Pools plane <paramref name="src"/> (H x W, contiguous) into <paramref name="dst"/> and <paramref name="index"/>
    /// (Ho x Wo), with <paramref name="buffer"/> of H x <see cref="PaddedRow"/> elements whose padding columns hold -inf.
    /// </summary>
    public static void Plane<T>(PoolGeometry g, T* src, T* dst, long* index, T* buffer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int row = PaddedRow(g);
        for (int iy = 0; iy < g.H; iy++)
            new ReadOnlySpan<T>(src + (long)iy * g.W, g.W).CopyTo(new Span<T>(buffer + (long)iy * row + g.PW, g.W));
        bool wide = VectorWidth.Use512 && Avx512F.IsSupported && g.Wo >= Vector512<T>.Count;
        int lanes = wide ? Vector512<T>.Count : Vector256<T>.Count;
        for (int oy = 0; oy < g.Ho; oy++)
        {
            int y0 = oy * g.SH - g.PH, y1 = Math.Min(y0 + g.KH, g.H);
            y0 = Math.Max(y0, 0);
            // Whole vectors, then one more that ends at the last column (it recomputes a few columns: the same values).
            for (int ox = 0; ; ox += lanes)
            {
                int at = Math.Min(ox, g.Wo - lanes);
                int o = oy * g.Wo + at;
                if (wide) Window512(g, buffer, row, y0, y1, at, dst + o, index + o);
                else Window256(g, buffer, row, y0, y1, at, dst + o, index + o);
                if (at + lanes >= g.Wo) break;
            }
        }
    }

    /// <summary>Fills the padding columns of a plane buffer with -inf (they are never written afterwards).</summary>
    public static void PadBuffer<T>(PoolGeometry g, T* buffer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int row = PaddedRow(g);
        for (int iy = 0; iy < g.H; iy++)
        {
            T* r = buffer + (long)iy * row;
            new Span<T>(r, g.PW).Fill(T.NegativeInfinity);
            new Span<T>(r + g.PW + g.W, row - g.PW - g.W).Fill(T.NegativeInfinity);
        }
    }

    /// <summary>Allocates a plane buffer for <see cref="Plane"/>; free it with <see cref="NativeMemory.AlignedFree"/>.</summary>
    public static T* AllocateBuffer<T>(PoolGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var buffer = (T*)NativeMemory.AlignedAlloc((nuint)((long)g.H * PaddedRow(g) * sizeof(T)), 64);
        PadBuffer(g, buffer);
        return buffer;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Window512<T>(PoolGeometry g, T* buffer, int row, int y0, int y1, int ox, T* dst, long* index)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Column (in the input) of lane l's first tap, before the padding is clipped: (ox + l) * SW - PW.
        var cols = Vector512.Create(T.CreateTruncating(ox * g.SW - g.PW)) + Vector512<T>.Indices * Vector512.Create(T.CreateTruncating(g.SW));
        var width = Vector512.Create(T.CreateTruncating(g.W));
        var max = Vector512.Create(T.NegativeInfinity);
        var best = Vector512.Create(T.CreateTruncating(y0)) * width + Vector512.Max(cols, Vector512<T>.Zero);
        for (int iy = y0; iy < y1; iy++)
        {
            T* r = buffer + (long)iy * row + ox * g.SW;
            var rowStart = Vector512.Create(T.CreateTruncating(iy)) * width + cols;
            for (int kx = 0; kx < g.KW; kx++)
            {
                var v = g.SW == 1 ? Vector512.Load(r + kx) : Even512(r + kx);
                var take = Vector512.GreaterThan(v, max) | ~Vector512.Equals(v, v);
                max = Vector512.ConditionalSelect(take, v, max);
                best = Vector512.ConditionalSelect(take, rowStart + Vector512.Create(T.CreateTruncating(kx)), best);
            }
        }
        max.Store(dst);
        StoreIndices(best, index);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Window256<T>(PoolGeometry g, T* buffer, int row, int y0, int y1, int ox, T* dst, long* index)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cols = Vector256.Create(T.CreateTruncating(ox * g.SW - g.PW)) + Vector256<T>.Indices * Vector256.Create(T.CreateTruncating(g.SW));
        var width = Vector256.Create(T.CreateTruncating(g.W));
        var max = Vector256.Create(T.NegativeInfinity);
        var best = Vector256.Create(T.CreateTruncating(y0)) * width + Vector256.Max(cols, Vector256<T>.Zero);
        for (int iy = y0; iy < y1; iy++)
        {
            T* r = buffer + (long)iy * row + ox * g.SW;
            var rowStart = Vector256.Create(T.CreateTruncating(iy)) * width + cols;
            for (int kx = 0; kx < g.KW; kx++)
            {
                var v = g.SW == 1 ? Vector256.Load(r + kx) : Even256(r + kx);
                var take = Vector256.GreaterThan(v, max) | ~Vector256.Equals(v, v);
                max = Vector256.ConditionalSelect(take, v, max);
                best = Vector256.ConditionalSelect(take, rowStart + Vector256.Create(T.CreateTruncating(kx)), best);
            }
        }
        max.Store(dst);
        StoreIndices(best, index);
    }

    /// <summary>p[0], p[2], p[4], ...: the even elements of two vectors' worth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Even512<T>(T* p) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var idx = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            return Avx512F.PermuteVar16x32x2(Vector512.Load((float*)p), idx, Vector512.Load((float*)p + 16)).As<float, T>();
        }
        var idx64 = Vector512.Create(0L, 2, 4, 6, 8, 10, 12, 14);
        return Avx512F.PermuteVar8x64x2(Vector512.Load((double*)p), idx64, Vector512.Load((double*)p + 8)).As<double, T>();
    }

    /// <inheritdoc cref="Even512"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Even256<T>(T* p) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            // Per 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6; then the 64-bit pairs reordered to a0 a2 a4 a6 b0 b2 b4 b6.
            var mixed = Avx.Shuffle(Vector256.Load((float*)p), Vector256.Load((float*)p + 8), 0b10_00_10_00);
            return Avx2.Permute4x64(mixed.AsDouble(), 0b11_01_10_00).As<double, T>();
        }
        // a0 b0 a2 b2, then a0 a2 b0 b2.
        var pairs = Avx.UnpackLow(Vector256.Load((double*)p), Vector256.Load((double*)p + 4));
        return Avx2.Permute4x64(pairs, 0b11_01_10_00).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreIndices<T>(Vector512<T> best, long* index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var (lo, hi) = Vector512.Widen(Vector512.ConvertToInt32(best.As<T, float>()));
            lo.Store(index);
            hi.Store(index + 8);
        }
        else Vector512.ConvertToInt64(best.As<T, double>()).Store(index);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreIndices<T>(Vector256<T> best, long* index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var (lo, hi) = Vector256.Widen(Vector256.ConvertToInt32(best.As<T, float>()));
            lo.Store(index);
            hi.Store(index + 4);
        }
        else Vector256.ConvertToInt64(best.As<T, double>()).Store(index);
    }
}
