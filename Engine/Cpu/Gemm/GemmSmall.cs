using System.Numerics;

namespace Engine.Cpu;

/// <summary>
/// The paths that do not need packing: scaling C when there is nothing to multiply, and a plain
/// triple loop for problems so small that packing and threading would cost more than they save.
/// </summary>
internal static unsafe class GemmSmall
{
    /// <summary>C = beta * C; with beta == 0, C is overwritten with zeros and never read.</summary>
    public static void Scale<T>(int m, int n, T beta, T* c, long rsc) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<T>(c + i * rsc, n);
            if (beta == T.Zero) row.Clear();
            else if (beta != T.One)
                for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    /// <summary>
    /// Unpacked, single-threaded GEMM for tiny problems (same semantics as the packed path), vectorised
    /// along the columns of C. B is first copied row-major, its rows padded with zeros to whole vectors, when
    /// its columns are not contiguous or n is not a multiple of the vector width.
    /// </summary>
    /// <remarks>
    /// Every element is the same sequence of operations as the plain triple loop: <c>acc = acc + a*b</c> over
    /// p = 0..k-1, multiply and add rounded separately (no FMA), then <c>alpha*acc (+ beta*c)</c>. Vector lanes
    /// and the partial last vector therefore agree bit for bit with that loop, wherever a column falls.
    /// </remarks>
    public static void Direct<T>(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs,
        T beta, T* c, long rsc) where T : unmanaged, INumber<T>
    {
        if (!Vector.IsHardwareAccelerated)
        {
            for (int i = 0; i < m; i++)
                ScalarRow(n, k, alpha, a + i * ars, acs, b, brs, bcs, beta, c + i * rsc);
            return;
        }
        int w = Vector<T>.Count;
        if (bcs != 1 || n % w != 0)
        {
            int ldb = (n + w - 1) / w * w;
            T* copy = (T*)GemmBuffer.PackedB.Get((long)k * ldb * sizeof(T));
            for (int p = 0; p < k; p++)
            {
                T* row = copy + (long)p * ldb, src = b + p * brs;
                if (bcs == 1) new Span<T>(src, n).CopyTo(new Span<T>(row, n));
                else for (int j = 0; j < n; j++) row[j] = src[j * bcs];
                new Span<T>(row + n, ldb - n).Clear();
            }
            b = copy;
            brs = ldb;
        }
        T* tail = stackalloc T[w];
        for (int i = 0; i < m; i++)
            VectorRow(n, k, alpha, a + i * ars, acs, b, brs, beta, c + i * rsc, tail);
    }

    // One row of C from row i of A and row-contiguous B whose rows hold whole vectors (zero-padded past n).
    private static void VectorRow<T>(int n, int k, T alpha, T* ai, long acs, T* b, long brs, T beta, T* ci, T* tail)
        where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count, j = 0;
        bool keep = beta != T.Zero;
        Vector<T> va = new(alpha), vb = new(beta);
        for (; j + 4 * w <= n; j += 4 * w)
        {
            Vector<T> s0 = Vector<T>.Zero, s1 = Vector<T>.Zero, s2 = Vector<T>.Zero, s3 = Vector<T>.Zero;
            T* bp = b + j;
            for (int p = 0; p < k; p++, bp += brs)
            {
                var x = new Vector<T>(ai[p * acs]);
                s0 += x * Vector.Load(bp);
                s1 += x * Vector.Load(bp + w);
                s2 += x * Vector.Load(bp + 2 * w);
                s3 += x * Vector.Load(bp + 3 * w);
            }
            Finish(ci + j, va * s0, vb, keep);
            Finish(ci + j + w, va * s1, vb, keep);
            Finish(ci + j + 2 * w, va * s2, vb, keep);
            Finish(ci + j + 3 * w, va * s3, vb, keep);
        }
        for (; j < n; j += w)
        {
            Vector<T> s0 = Vector<T>.Zero;
            T* bp = b + j;
            for (int p = 0; p < k; p++, bp += brs)
                s0 += new Vector<T>(ai[p * acs]) * Vector.Load(bp);
            if (j + w <= n)
            {
                Finish(ci + j, va * s0, vb, keep);
                continue;
            }
            // The last, partial vector: through a scratch vector so nothing past column n is read or written.
            int count = n - j;
            var cj = new Span<T>(ci + j, count);
            var t = new Span<T>(tail, w);
            t.Clear();
            if (keep) cj.CopyTo(t);
            Finish(tail, va * s0, vb, keep);
            t[..count].CopyTo(cj);
        }
    }

    // The plain loop, for machines without vector hardware.
    private static void ScalarRow<T>(int n, int k, T alpha, T* ai, long acs, T* b, long brs, long bcs, T beta, T* ci)
        where T : unmanaged, INumber<T>
    {
        for (int j = 0; j < n; j++)
        {
            T* bj = b + j * bcs;
            T acc = T.Zero;
            for (int p = 0; p < k; p++)
                acc += ai[p * acs] * bj[p * brs];
            ci[j] = beta == T.Zero ? alpha * acc : alpha * acc + beta * ci[j];
        }
    }

    private static void Finish<T>(T* c, Vector<T> scaled, Vector<T> vb, bool keep) where T : unmanaged, INumber<T> =>
        (keep ? scaled + vb * Vector.Load(c) : scaled).Store(c);

    /// <summary>
    /// Writes a partial tile held in <paramref name="tile"/> (row stride <paramref name="ldt"/>) into C,
    /// with the same rounding as the kernel that produced it (see <see cref="IGemmKernel{T}.Fused"/>).
    /// </summary>
    public static void UpdateEdge<T>(T* tile, int ldt, T* c, long rsc, int mr, int nr, T alpha, T beta, bool fused)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < mr; i++)
        {
            T* ti = tile + i * ldt;
            T* ci = c + i * rsc;
            for (int j = 0; j < nr; j++)
            {
                if (beta == T.Zero) ci[j] = alpha * ti[j];
                else if (fused) ci[j] = T.FusedMultiplyAdd(alpha, ti[j], beta * ci[j]);
                else ci[j] = alpha * ti[j] + beta * ci[j];
            }
        }
    }
}
