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
/// of the double form's (the tests compare them with float64 references). The split into
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
        try
        {
            CpuParallel.For(blocks, 10.0 * d * rowsPerBlock, (start, end) =>
            {
                var group = affine ? new float[2 * d] : null;
                fixed (float* onesPtr = ones, fg = group)
                fixed (double* part = partial)
                {
                    float* gamma = wp != null ? wp : onesPtr;
                    for (long b = start; b < end; b++)
                    {
                        long first = b * rowsPerBlock, stop = Math.Min(rows, first + rowsPerBlock);
                        if (!affine)
                        {
                            for (long r = first; r < stop; r++) RowF32(gp, xp, mp, rp, dxp, gamma, null, null, r, d);
                            continue;
                        }
                        double* pg = part + b * 2 * d;
                        new Span<double>(pg, 2 * d).Clear();
                        for (long r0 = first; r0 < stop; r0 += RowGroup)
                        {
                            new Span<float>(fg, 2 * d).Clear();
                            for (long r = r0; r < Math.Min(stop, r0 + RowGroup); r++) RowF32(gp, xp, mp, rp, dxp, gamma, fg, fg + d, r, d);
                            AddWidened(pg, fg, 2 * d);
                        }
                    }
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
    /// Row <paramref name="r"/>: dγ += g x̂ and dβ += g into the float group partials (when given), and
    /// dx = rstd (γg - mean(γg) - x̂ mean(γg x̂)) into <paramref name="dx"/> (when given), with x̂ = (x - mean) rstd.
    /// </summary>
    private static void RowF32(float* g, float* x, float* mean, float* rstd, float* dx, float* gamma, float* dGamma, float* dBeta, long r, int d)
    {
        float mu = mean[r], rs = rstd[r];
        float* gr = g + r * d, xr = x + r * d;
        var (a, b) = VectorWidth.Use512 ? RowSums512(gr, xr, gamma, mu, rs, dGamma, dBeta, d) : RowSums256(gr, xr, gamma, mu, rs, dGamma, dBeta, d);
        if (dx == null) return;
        // dx = rstd (γg - mean(γg)) + k1 x̂: γg and its mean are close where the gradient hardly varies, so their
        // difference comes out exact or nearly (a lone element's gradient is exactly 0).
        float k1 = (float)(-rs * b / d), ggMean = (float)(a / d);
        if (VectorWidth.Use512) RowCombine512(gr, xr, gamma, mu, rs, k1, ggMean, dx + r * d, d);
        else RowCombine256(gr, xr, gamma, mu, rs, k1, ggMean, dx + r * d, d);
    }

    /// <summary>The lanes of <paramref name="v"/> added, halving the width at each step (fewer shuffles than <c>Vector512.Sum</c>).</summary>
    internal static float HSum(Vector512<float> v) => HSum(v.GetLower() + v.GetUpper());

    internal static float HSum(Vector256<float> v) => Vector128.Sum(v.GetLower() + v.GetUpper());

    /// <summary>acc += widened f, element by element.</summary>
    private static void AddWidened(double* acc, float* f, int n)
    {
        int i = 0;
        if (Avx512F.IsSupported)
            for (; i <= n - 8; i += 8) (Vector512.Load(acc + i) + Avx512F.ConvertToVector512Double(Vector256.Load(f + i))).Store(acc + i);
        if (Avx.IsSupported)
            for (; i <= n - 4; i += 4) (Vector256.Load(acc + i) + Avx.ConvertToVector256Double(Vector128.Load(f + i))).Store(acc + i);
        for (; i < n; i++) acc[i] += f[i];
    }

    /// <summary>The scalar tail of the row sums from <paramref name="i"/> on, with the double sums so far.</summary>
    private static (double A, double B) RowSumsTail(float* g, float* x, float* gamma, float mean, float rstd, float* dGamma, float* dBeta, int i, int n, double a, double b)
    {
        for (; i < n; i++)
        {
            float gi = g[i], xh = (x[i] - mean) * rstd, gg = gi * gamma[i];
            a += gg;
            b += gg * xh;
            if (dGamma == null) continue;
            dGamma[i] = MathF.FusedMultiplyAdd(gi, xh, dGamma[i]);
            dBeta[i] += gi;
        }
        return (a, b);
    }

    /// <summary>Σ γg and Σ γg x̂ over a row (float lane partials added into double every <see cref="LaneRun"/> vectors), and the affine partials.</summary>
    private static (double A, double B) RowSums512(float* g, float* x, float* gamma, float mean, float rstd, float* dGamma, float* dBeta, int n)
    {
        Vector512<float> m = Vector512.Create(mean), r = Vector512.Create(rstd);
        double sa = 0, sb = 0;
        int i = 0, whole = n & ~15;
        while (i < whole)
        {
            Vector512<float> a = Vector512<float>.Zero, b = Vector512<float>.Zero;
            int stop = Math.Min(whole, i + 16 * LaneRun);
            if (dGamma == null)
                for (; i < stop; i += 16)
                {
                    var gg = Vector512.Load(g + i) * Vector512.Load(gamma + i);
                    a += gg;
                    b = Vector512.FusedMultiplyAdd(gg, (Vector512.Load(x + i) - m) * r, b);
                }
            else
                for (; i < stop; i += 16)
                {
                    var gi = Vector512.Load(g + i);
                    var xh = (Vector512.Load(x + i) - m) * r;
                    var gg = gi * Vector512.Load(gamma + i);
                    a += gg;
                    b = Vector512.FusedMultiplyAdd(gg, xh, b);
                    Vector512.FusedMultiplyAdd(gi, xh, Vector512.Load(dGamma + i)).Store(dGamma + i);
                    (Vector512.Load(dBeta + i) + gi).Store(dBeta + i);
                }
            sa += HSum(a);
            sb += HSum(b);
        }
        return RowSumsTail(g, x, gamma, mean, rstd, dGamma, dBeta, i, n, sa, sb);
    }

    /// <summary><see cref="RowSums512"/> on eight-lane vectors.</summary>
    private static (double A, double B) RowSums256(float* g, float* x, float* gamma, float mean, float rstd, float* dGamma, float* dBeta, int n)
    {
        Vector256<float> m = Vector256.Create(mean), r = Vector256.Create(rstd);
        double sa = 0, sb = 0;
        int i = 0, whole = n & ~7;
        while (i < whole)
        {
            Vector256<float> a = Vector256<float>.Zero, b = Vector256<float>.Zero;
            int stop = Math.Min(whole, i + 8 * LaneRun);
            if (dGamma == null)
                for (; i < stop; i += 8)
                {
                    var gg = Vector256.Load(g + i) * Vector256.Load(gamma + i);
                    a += gg;
                    b = Vector256.FusedMultiplyAdd(gg, (Vector256.Load(x + i) - m) * r, b);
                }
            else
                for (; i < stop; i += 8)
                {
                    var gi = Vector256.Load(g + i);
                    var xh = (Vector256.Load(x + i) - m) * r;
                    var gg = gi * Vector256.Load(gamma + i);
                    a += gg;
                    b = Vector256.FusedMultiplyAdd(gg, xh, b);
                    Vector256.FusedMultiplyAdd(gi, xh, Vector256.Load(dGamma + i)).Store(dGamma + i);
                    (Vector256.Load(dBeta + i) + gi).Store(dBeta + i);
                }
            sa += HSum(a);
            sb += HSum(b);
        }
        return RowSumsTail(g, x, gamma, mean, rstd, dGamma, dBeta, i, n, sa, sb);
    }

    /// <summary>dx = (γg - ggMean) rstd + k1 x̂ over a row, x̂ recomputed as in the sums.</summary>
    private static void RowCombine512(float* g, float* x, float* gamma, float mean, float rstd, float k1, float ggMean, float* dx, int n)
    {
        Vector512<float> m = Vector512.Create(mean), r = Vector512.Create(rstd), c1 = Vector512.Create(k1), gm = Vector512.Create(ggMean);
        int i = 0;
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
