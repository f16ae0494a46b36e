using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The float32 backward of <see cref="LayerNormCpu"/>. The element-by-element work runs in float, sixteen (AVX-512)
/// or eight lanes a vector, as PyTorch's kernel does: in double it cost two and a half times the vector operations
/// (half the lanes, and a widening of every load), which made the backward compute-bound where PyTorch's is not.
/// Every sum still ends in double: a row sum runs in float lanes for at most <see cref="LaneRun"/> vectors, whose
/// lanes are then added (in float, a tree of four or five levels) into a double total; the affine gradients are
/// float partials over a group of <see cref="RowGroup"/> rows, added into the block's double partial sums. Float
/// rounding therefore reaches no sum of more than a few dozen terms, and the results stay within a few float ulps
/// of the double form's (the tests compare them with float64 references). With affine gradients a group of rows
/// takes two passes while it sits in the first-level cache: the row sums row by row, then dx and the affine partials
/// column vector by column vector down the group, the partials in registers (no float buffer loaded and stored for
/// every element, as a row-by-row pass needs). An input gradient of 8 MiB and more is written with non-temporal
/// stores (<see cref="StreamingStores"/>; the same bits). The split into
/// blocks and groups depends on the shape only, so the bits do not depend on the thread count; the lane split
/// depends on the vector width (the two widths agree within rounding; a test compares them).
/// </summary>
internal static unsafe partial class LayerNormCpu
{
    /// <summary>Vector iterations a float lane partial of a row sum runs before its lanes are added into double.</summary>
    private const int LaneRun = 8;

    /// <summary>Rows whose affine gradients are summed in float before they join the block's double partials.</summary>
    private const int RowGroup = 8;

    private static void BackwardF32(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, long rows, int d)
    {
        bool affine = dw is not null || db is not null;
        long blocks = affine ? AffineBlocks(rows, d) : rows;
        long rowsPerBlock = blocks == 0 ? 0 : (rows + blocks - 1) / blocks;
        float* gp = CpuBackend.Ptr<float>(g), xp = CpuBackend.Ptr<float>(x), mp = CpuBackend.Ptr<float>(mean), rp = CpuBackend.Ptr<float>(rstd);
        float* dxp = dx is null ? null : CpuBackend.Ptr<float>(dx);
        float* wp = w is null ? null : CpuBackend.Ptr<float>(w);
        float[]? ones = w is null ? Enumerable.Repeat(1f, d).ToArray() : null;
        double[]? partial = affine ? ArrayPool<double>.Shared.Rent(checked((int)(blocks * 2 * d))) : null;
        bool stream = dxp != null && StreamingStores.Worth(rows * d);
        try
        {
            CpuParallel.For(blocks, 10.0 * d * rowsPerBlock, (start, end) =>
            {
                float* factors = stackalloc float[4 * RowGroup];
                fixed (float* onesPtr = ones)
                fixed (double* part = partial)
                {
                    float* gamma = wp != null ? wp : onesPtr;
                    for (long b = start; b < end; b++)
                    {
                        long first = b * rowsPerBlock, stop = Math.Min(rows, first + rowsPerBlock);
                        if (!affine)
                        {
                            for (long r = first; r < stop; r++) RowF32(gp, xp, mp, rp, dxp, gamma, r, d, stream);
                            continue;
                        }
                        double* pg = part + b * 2 * d;
                        new Span<double>(pg, 2 * d).Clear();
                        for (long r0 = first; r0 < stop; r0 += RowGroup)
                            GroupF32(gp, xp, mp, rp, dxp, gamma, pg, r0, (int)Math.Min(RowGroup, stop - r0), d, factors, stream);
                    }
                    if (stream) System.Runtime.Intrinsics.X86.Sse.StoreFence();
                }
            });
            if (!affine) return;
            double[] dGamma = new double[d], dBeta = new double[d];
            SumBlocks(partial!, blocks, d, dGamma, dBeta);
            if (dw is not null) Narrowed(dGamma, dw);
            if (db is not null) Narrowed(dBeta, db);
        }
        finally
        {
            if (partial is not null) ArrayPool<double>.Shared.Return(partial);
        }
    }

    /// <summary>
    /// Row <paramref name="r"/> without affine gradients: dx = rstd (γg - mean(γg) - x̂ mean(γg x̂)) into
    /// <paramref name="dx"/> (when given), with x̂ = (x - mean) rstd.
    /// </summary>
    private static void RowF32(float* g, float* x, float* mean, float* rstd, float* dx, float* gamma, long r, int d, bool stream)
    {
        if (dx == null) return;
        float mu = mean[r], rs = rstd[r];
        float* gr = g + r * d, xr = x + r * d;
        var (a, b) = VectorWidth.Use512 ? RowSums512(gr, xr, gamma, mu, rs, d) : RowSums256(gr, xr, gamma, mu, rs, d);
        // dx = rstd (γg - mean(γg)) + k1 x̂: γg and its mean are close where the gradient hardly varies, so their
        // difference comes out exact or nearly (a lone element's gradient is exactly 0).
        float k1 = (float)(-rs * b / d), ggMean = (float)(a / d);
        if (VectorWidth.Use512) RowCombine512(gr, xr, gamma, mu, rs, k1, ggMean, dx + r * d, d, stream);
        else RowCombine256(gr, xr, gamma, mu, rs, k1, ggMean, dx + r * d, d);
    }

    /// <summary>
    /// A group of <paramref name="count"/> rows from <paramref name="r0"/> on, with affine gradients, in two passes
    /// over rows that stay in the core's first-level cache between them: the row sums Σ γg and Σ γg x̂, row by row;
    /// then, column vector by column vector down the group's rows, dx (when wanted) and the float partials of dγ
    /// (Σ g x̂, fused multiply-adds in row order) and dβ (Σ g), kept in registers and added into the block's double
    /// partials <paramref name="pg"/> (dγ) and <paramref name="pg"/> + d (dβ) once per group. The partials of each
    /// column take the same operations in the same order as a row-by-row pass through a float buffer would.
    /// </summary>
    private static void GroupF32(float* g, float* x, float* mean, float* rstd, float* dx, float* gamma, double* pg, long r0, int count, int d, float* factors, bool stream)
    {
        float* mu = factors, rs = factors + RowGroup, k1 = factors + 2 * RowGroup, ggMean = factors + 3 * RowGroup;
        for (int k = 0; k < count; k++)
        {
            long r = r0 + k;
            mu[k] = mean[r];
            rs[k] = rstd[r];
            if (dx == null) continue;
            var (a, b) = VectorWidth.Use512 ? RowSums512(g + r * d, x + r * d, gamma, mu[k], rs[k], d) : RowSums256(g + r * d, x + r * d, gamma, mu[k], rs[k], d);
            k1[k] = (float)(-rs[k] * b / d);
            ggMean[k] = (float)(a / d);
        }
        long at = r0 * d;
        // Aligned non-temporal stores need every row of dx to start on a 64-byte boundary.
        bool streamed = stream && d % 16 == 0 && ((nuint)(dx + at) & 63) == 0;
        int j = VectorWidth.Use512
            ? Columns512(g + at, x + at, dx == null ? null : dx + at, gamma, pg, count, d, mu, rs, k1, ggMean, streamed)
            : Columns256(g + at, x + at, dx == null ? null : dx + at, gamma, pg, count, d, mu, rs, k1, ggMean);
        for (; j < d; j++)
        {
            float dGamma = 0, dBeta = 0;
            for (int k = 0; k < count; k++)
            {
                float gi = g[at + k * d + j], xh = (x[at + k * d + j] - mu[k]) * rs[k];
                dGamma = MathF.FusedMultiplyAdd(gi, xh, dGamma);
                dBeta += gi;
                if (dx != null) dx[at + k * d + j] = MathF.FusedMultiplyAdd(xh, k1[k], (gi * gamma[j] - ggMean[k]) * rs[k]);
            }
            pg[j] += dGamma;
            pg[d + j] += dBeta;
        }
    }

    /// <summary>The vector columns of <see cref="GroupF32"/>'s second pass, sixteen lanes; returns the first column left.</summary>
    private static int Columns512(float* g, float* x, float* dx, float* gamma, double* pg, int count, int d, float* mu, float* rs, float* k1, float* ggMean, bool stream)
    {
        int j = 0;
        for (; j <= d - 16; j += 16)
        {
            var gm = Vector512.Load(gamma + j);
            Vector512<float> dGamma = Vector512<float>.Zero, dBeta = Vector512<float>.Zero;
            for (int k = 0; k < count; k++)
            {
                long at = (long)k * d + j;
                var gi = Vector512.Load(g + at);
                var r = Vector512.Create(rs[k]);
                var xh = (Vector512.Load(x + at) - Vector512.Create(mu[k])) * r;
                dGamma = Vector512.FusedMultiplyAdd(gi, xh, dGamma);
                dBeta += gi;
                if (dx == null) continue;
                var v = Vector512.FusedMultiplyAdd(xh, Vector512.Create(k1[k]), (gi * gm - Vector512.Create(ggMean[k])) * r);
                if (stream) Vector512.StoreAlignedNonTemporal(v, dx + at);
                else v.Store(dx + at);
            }
            AddWidened(pg + j, dGamma);
            AddWidened(pg + d + j, dBeta);
        }
        return j;
    }

    /// <summary><see cref="Columns512"/> on eight-lane vectors (ordinary stores).</summary>
    private static int Columns256(float* g, float* x, float* dx, float* gamma, double* pg, int count, int d, float* mu, float* rs, float* k1, float* ggMean)
    {
        int j = 0;
        for (; j <= d - 8; j += 8)
        {
            var gm = Vector256.Load(gamma + j);
            Vector256<float> dGamma = Vector256<float>.Zero, dBeta = Vector256<float>.Zero;
            for (int k = 0; k < count; k++)
            {
                long at = (long)k * d + j;
                var gi = Vector256.Load(g + at);
                var r = Vector256.Create(rs[k]);
                var xh = (Vector256.Load(x + at) - Vector256.Create(mu[k])) * r;
                dGamma = Vector256.FusedMultiplyAdd(gi, xh, dGamma);
                dBeta += gi;
                if (dx != null) Vector256.FusedMultiplyAdd(xh, Vector256.Create(k1[k]), (gi * gm - Vector256.Create(ggMean[k])) * r).Store(dx + at);
            }
            AddWidened(pg + j, dGamma);
            AddWidened(pg + d + j, dBeta);
        }
        return j;
    }

    /// <summary>acc[0..16) += the lanes of <paramref name="f"/>, widened to double.</summary>
    private static void AddWidened(double* acc, Vector512<float> f)
    {
        AddWidened(acc, f.GetLower());
        AddWidened(acc + 8, f.GetUpper());
    }

    /// <summary>acc[0..8) += the lanes of <paramref name="f"/>, widened to double.</summary>
    private static void AddWidened(double* acc, Vector256<float> f)
    {
        if (Avx.IsSupported)
        {
            (Vector256.Load(acc) + Avx.ConvertToVector256Double(f.GetLower())).Store(acc);
            (Vector256.Load(acc + 4) + Avx.ConvertToVector256Double(f.GetUpper())).Store(acc + 4);
            return;
        }
        for (int i = 0; i < 8; i++) acc[i] += f.GetElement(i);
    }

    /// <summary>The lanes of <paramref name="v"/> added, halving the width at each step (fewer shuffles than <c>Vector512.Sum</c>).</summary>
    internal static float HSum(Vector512<float> v) => HSum(v.GetLower() + v.GetUpper());

    internal static float HSum(Vector256<float> v) => Vector128.Sum(v.GetLower() + v.GetUpper());

    /// <summary>The scalar tail of the row sums from <paramref name="i"/> on, with the double sums so far.</summary>
    private static (double A, double B) RowSumsTail(float* g, float* x, float* gamma, float mean, float rstd, int i, int n, double a, double b)
    {
        for (; i < n; i++)
        {
            float xh = (x[i] - mean) * rstd, gg = g[i] * gamma[i];
            a += gg;
            b += gg * xh;
        }
        return (a, b);
    }

    /// <summary>Σ γg and Σ γg x̂ over a row (float lane partials added into double every <see cref="LaneRun"/> vectors).</summary>
    private static (double A, double B) RowSums512(float* g, float* x, float* gamma, float mean, float rstd, int n)
    {
        Vector512<float> m = Vector512.Create(mean), r = Vector512.Create(rstd);
        double sa = 0, sb = 0;
        int i = 0, whole = n & ~15;
        while (i < whole)
        {
            Vector512<float> a = Vector512<float>.Zero, b = Vector512<float>.Zero;
            int stop = Math.Min(whole, i + 16 * LaneRun);
            for (; i < stop; i += 16)
            {
                var gg = Vector512.Load(g + i) * Vector512.Load(gamma + i);
                a += gg;
                b = Vector512.FusedMultiplyAdd(gg, (Vector512.Load(x + i) - m) * r, b);
            }
            sa += HSum(a);
            sb += HSum(b);
        }
        return RowSumsTail(g, x, gamma, mean, rstd, i, n, sa, sb);
    }

    /// <summary><see cref="RowSums512"/> on eight-lane vectors.</summary>
    private static (double A, double B) RowSums256(float* g, float* x, float* gamma, float mean, float rstd, int n)
    {
        Vector256<float> m = Vector256.Create(mean), r = Vector256.Create(rstd);
        double sa = 0, sb = 0;
        int i = 0, whole = n & ~7;
        while (i < whole)
        {
            Vector256<float> a = Vector256<float>.Zero, b = Vector256<float>.Zero;
            int stop = Math.Min(whole, i + 8 * LaneRun);
            for (; i < stop; i += 8)
            {
                var gg = Vector256.Load(g + i) * Vector256.Load(gamma + i);
                a += gg;
                b = Vector256.FusedMultiplyAdd(gg, (Vector256.Load(x + i) - m) * r, b);
            }
            sa += HSum(a);
            sb += HSum(b);
        }
        return RowSumsTail(g, x, gamma, mean, rstd, i, n, sa, sb);
    }

    /// <summary>dx = (γg - ggMean) rstd + k1 x̂ over a row, x̂ recomputed as in the sums.</summary>
    private static void RowCombine512(float* g, float* x, float* gamma, float mean, float rstd, float k1, float ggMean, float* dx, int n, bool stream)
    {
        Vector512<float> m = Vector512.Create(mean), r = Vector512.Create(rstd), c1 = Vector512.Create(k1), gm = Vector512.Create(ggMean);
        int i = 0;
        if (stream)
        {
            // Non-temporal stores from dx's first 64-byte boundary on (the caller fences them); the same operations, so the same bits.
            int head = StreamingStores.Head(dx, n);
            RowCombineTail(g, x, gamma, mean, rstd, k1, ggMean, dx, 0, head);
            for (i = head; i <= n - 16; i += 16)
            {
                var xh = (Vector512.Load(x + i) - m) * r;
                var gg = Vector512.Load(g + i) * Vector512.Load(gamma + i);
                Vector512.StoreAlignedNonTemporal(Vector512.FusedMultiplyAdd(xh, c1, (gg - gm) * r), dx + i);
            }
        }
        for (; i <= n - 16; i += 16)
        {
            var xh = (Vector512.Load(x + i) - m) * r;
            var gg = Vector512.Load(g + i) * Vector512.Load(gamma + i);
            Vector512.FusedMultiplyAdd(xh, c1, (gg - gm) * r).Store(dx + i);
        }
        RowCombineTail(g, x, gamma, mean, rstd, k1, ggMean, dx, i, n);
    }

    /// <summary><see cref="RowCombine512"/> on eight-lane vectors.</summary>
    private static void RowCombine256(float* g, float* x, float* gamma, float mean, float rstd, float k1, float ggMean, float* dx, int n)
    {
        Vector256<float> m = Vector256.Create(mean), r = Vector256.Create(rstd), c1 = Vector256.Create(k1), gm = Vector256.Create(ggMean);
        int i = 0;
        for (; i <= n - 8; i += 8)
        {
            var xh = (Vector256.Load(x + i) - m) * r;
            var gg = Vector256.Load(g + i) * Vector256.Load(gamma + i);
            Vector256.FusedMultiplyAdd(xh, c1, (gg - gm) * r).Store(dx + i);
        }
        RowCombineTail(g, x, gamma, mean, rstd, k1, ggMean, dx, i, n);
    }

    private static void RowCombineTail(float* g, float* x, float* gamma, float mean, float rstd, float k1, float ggMean, float* dx, int i, int n)
    {
        for (; i < n; i++)
        {
            float xh = (x[i] - mean) * rstd;
            dx[i] = MathF.FusedMultiplyAdd(xh, k1, (g[i] * gamma[i] - ggMean) * rstd);
        }
    }
}
