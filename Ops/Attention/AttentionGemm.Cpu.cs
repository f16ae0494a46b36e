using System.Numerics;
using System.Runtime.CompilerServices;

namespace Engine.Ops;

/// <summary>
/// The small products inside one attention problem (sides of 1 to a few hundred), where the general GEMM's
/// unpacked path runs one scalar dependency chain per output. C (m, n) = alpha · A (m, k) · B (k, n), with
/// B's rows contiguous (unit column stride) and C row-major; A is read through any strides. The main tile is
/// 4 rows x 2 vectors (8 independent FMA chains), so head widths of 16 to 64 use the vector units fully.
/// Each output is accumulated over p in order by one thread, so results do not depend on the thread count.
/// </summary>
internal static unsafe class AttentionGemm
{
    public static void Multiply<T>(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long ldb, T* c, long ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (k == 0)
        {
            // An empty sum is 0 whatever alpha is (an infinite scale for zero-width heads must not make NaN).
            for (int i = 0; i < m; i++) new Span<T>(c + i * ldc, n).Clear();
            return;
        }
        int vc = Vector<T>.Count, j = 0;
        for (; j + 2 * vc <= n; j += 2 * vc)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4) Tile4x2(k, alpha, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc);
            for (; i < m; i++) Tile1x2(k, alpha, a + i * ars, acs, b + j, ldb, c + i * ldc + j);
        }
        for (; j + vc <= n; j += vc)
            for (int i = 0; i < m; i++) Tile1x1(k, alpha, a + i * ars, acs, b + j, ldb, c + i * ldc + j);
        for (; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                T acc = T.Zero;
                T* ai = a + i * ars;
                for (int p = 0; p < k; p++) acc = T.FusedMultiplyAdd(ai[p * acs], b[p * ldb + j], acc);
                c[i * ldc + j] = alpha * acc;
            }
    }

    private static void Tile4x2<T>(int k, T alpha, T* a, long ars, long acs, T* b, long ldb, T* c, long ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int vc = Vector<T>.Count;
        Vector<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < k; p++)
        {
            T* bp = b + p * ldb;
            var b0 = Load(bp); var b1 = Load(bp + vc);
            T* ap = a + p * acs;
            var a0 = new Vector<T>(ap[0]); var a1 = new Vector<T>(ap[ars]); var a2 = new Vector<T>(ap[2 * ars]); var a3 = new Vector<T>(ap[3 * ars]);
            c00 = Fma(a0, b0, c00); c01 = Fma(a0, b1, c01);
            c10 = Fma(a1, b0, c10); c11 = Fma(a1, b1, c11);
            c20 = Fma(a2, b0, c20); c21 = Fma(a2, b1, c21);
            c30 = Fma(a3, b0, c30); c31 = Fma(a3, b1, c31);
        }
        var s = new Vector<T>(alpha);
        Store(c, c00 * s); Store(c + vc, c01 * s);
        Store(c + ldc, c10 * s); Store(c + ldc + vc, c11 * s);
        Store(c + 2 * ldc, c20 * s); Store(c + 2 * ldc + vc, c21 * s);
        Store(c + 3 * ldc, c30 * s); Store(c + 3 * ldc + vc, c31 * s);
    }

    private static void Tile1x2<T>(int k, T alpha, T* a, long acs, T* b, long ldb, T* c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int vc = Vector<T>.Count;
        Vector<T> c0 = default, c1 = default;
        for (int p = 0; p < k; p++)
        {
            T* bp = b + p * ldb;
            var ap = new Vector<T>(a[p * acs]);
            c0 = Fma(ap, Load(bp), c0); c1 = Fma(ap, Load(bp + vc), c1);
        }
        var s = new Vector<T>(alpha);
        Store(c, c0 * s); Store(c + vc, c1 * s);
    }

    private static void Tile1x1<T>(int k, T alpha, T* a, long acs, T* b, long ldb, T* c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector<T> c0 = default;
        for (int p = 0; p < k; p++) c0 = Fma(new Vector<T>(a[p * acs]), Load(b + p * ldb), c0);
        Store(c, c0 * new Vector<T>(alpha));
    }

    /// <summary>Copies the (rows, cols) matrix at <paramref name="src"/> (any strides) row-major into <paramref name="dst"/>.</summary>
    public static void Pack<T>(T* src, int rows, int cols, long rowStride, long colStride, T* dst) where T : unmanaged
    {
        for (int r = 0; r < rows; r++)
        {
            T* s = src + r * rowStride;
            T* d = dst + (long)r * cols;
            if (colStride == 1) new ReadOnlySpan<T>(s, cols).CopyTo(new Span<T>(d, cols));
            else for (int q = 0; q < cols; q++) d[q] = s[q * colStride];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Load<T>(T* p) where T : unmanaged => Unsafe.ReadUnaligned<Vector<T>>(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T* p, Vector<T> v) where T : unmanaged => Unsafe.WriteUnaligned(p, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Fma<T>(Vector<T> a, Vector<T> b, Vector<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }
}
