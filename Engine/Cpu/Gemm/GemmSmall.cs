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

    /// <summary>Unpacked, single-threaded GEMM for tiny problems (same semantics as the packed path).</summary>
    public static void Direct<T>(int m, int n, int k, T alpha, T* a, long ars, long acs, T* b, long brs, long bcs,
        T beta, T* c, long rsc) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < m; i++)
        {
            T* ai = a + i * ars;
            T* ci = c + i * rsc;
            for (int j = 0; j < n; j++)
            {
                T* bj = b + j * bcs;
                T acc = T.Zero;
                for (int p = 0; p < k; p++)
                    acc += ai[p * acs] * bj[p * brs];
                ci[j] = beta == T.Zero ? alpha * acc : alpha * acc + beta * ci[j];
            }
        }
    }

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
