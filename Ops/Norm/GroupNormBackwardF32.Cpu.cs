using System.Buffers;
using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The float32 backward of <see cref="GroupNormCpu"/>, in float lanes (sixteen or eight a vector, as the F32 layer
/// norm's backward: LayerNormBackwardF32.Cpu.cs). Each (sample, group) row is C/G channel runs of S values sharing
/// one mean and rstd, and each run one γ. Two passes over the row, which stays in cache between them:
/// <list type="number">
/// <item>per channel run, Σ g and Σ g (x - mean) in float lanes, each lane partial ended in double every
/// <see cref="LaneRun"/> vectors; they give the channel's dγ = rstd Σ g (x - mean) and dβ = Σ g for this sample, and,
/// weighted by γ, the row's Σ γg and Σ γg x̂;</item>
/// <item>dx = rstd (γg - mean(γg)) + k1 x̂ with k1 = -rstd mean(γg x̂), two fused multiply-adds an element.</item>
/// </list>
/// The affine gradients are kept per (sample, channel) and added over the samples in order afterwards, so the bits do
/// not depend on the thread count. The lane split follows the vector width: the two widths agree within rounding.
/// </summary>
internal static unsafe partial class GroupNormCpu
{
    /// <summary>Vector iterations a float lane partial of a channel sum runs before its lanes are added into double.</summary>
    private const int LaneRun = 8;

    private static void BackwardF32(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, GroupNormShape shape)
    {
        var (n, c, s, groups) = shape;
        int perGroup = c / groups, run = (int)s, length = perGroup * run;
        bool affine = dw is not null || db is not null;
        if (!affine && dx is null) return;
        float* gp = CpuBackend.Ptr<float>(g), xp = CpuBackend.Ptr<float>(x), mp = CpuBackend.Ptr<float>(mean), rp = CpuBackend.Ptr<float>(rstd);
        float* dxp = dx is null ? null : CpuBackend.Ptr<float>(dx), wp = w is null ? null : CpuBackend.Ptr<float>(w);
        long cells = (long)n * c;
        bool stream = dxp != null && StreamingStores.Worth((long)n * groups * length);
        double[]? perSample = affine ? ArrayPool<double>.Shared.Rent(checked((int)(2 * cells))) : null; // rstd Σ g (x - mean), then Σ g
        try
        {
            CpuParallel.For((long)n * groups, (dxp == null ? 3.0 : 6.0) * length, (start, end) =>
            {
                fixed (double* sums = perSample)
                {
                    for (long row = start; row < end; row++)
                    {
                        float mu = mp[row], rs = rp[row];
                        float* gr = gp + row * length, xr = xp + row * length;
                        int first = (int)(row % groups) * perGroup;
                        long cell = row / groups * c + first;
                        double sumG = 0, sumGx = 0; // Σ γ g and Σ γ g (x - mean)
                        for (int j = 0; j < perGroup; j++)
                        {
                            var (a, b) = VectorWidth.Use512 ? ChannelSums512(gr + j * s, xr + j * s, mu, run) : ChannelSums256(gr + j * s, xr + j * s, mu, run);
                            double gamma = wp == null ? 1 : wp[first + j];
                            sumG += gamma * a;
                            sumGx += gamma * b;
                            if (sums == null) continue;
                            sums[cell + j] = b * rs;
                            sums[cells + cell + j] = a;
                        }
                        if (dxp == null) continue;
                        // mean(γg x̂) = rstd Σ γg (x - mean) / length; k1 x̂ = (x - mean) (k1 rstd).
                        float ggMean = (float)(sumG / length), k = (float)(-(double)rs * rs * rs * sumGx / length);
                        float* dr = dxp + row * length;
                        for (int j = 0; j < perGroup; j++)
                        {
                            float gamma = wp == null ? 1 : wp[first + j];
                            if (VectorWidth.Use512) ChannelCombine512(gr + j * s, xr + j * s, gamma, mu, rs, ggMean, k, dr + j * s, run, stream);
                            else ChannelCombine256(gr + j * s, xr + j * s, gamma, mu, rs, ggMean, k, dr + j * s, run);
                        }
                    }
                    if (stream) System.Runtime.Intrinsics.X86.Sse.StoreFence();
                }
            });
            if (!affine) return;
            double[] dGamma = new double[c], dBeta = new double[c];
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < c; ch++)
                {
                    dGamma[ch] += perSample![(long)b * c + ch];
                    dBeta[ch] += perSample[cells + (long)b * c + ch];
                }
            if (dw is not null) LayerNormCpu.Narrowed(dGamma, dw);
            if (db is not null) LayerNormCpu.Narrowed(dBeta, db);
        }
        finally
        {
            if (perSample is not null) ArrayPool<double>.Shared.Return(perSample);
        }
    }

    /// <summary>Σ g and Σ g (x - mean) over a channel run: two float lane partials each, ended in double every <see cref="LaneRun"/> vector pairs.</summary>
    internal static (double A, double B) ChannelSums512(float* g, float* x, float mean, int n)
    {
        Vector512<float> m = Vector512.Create(mean);
        double sa = 0, sb = 0;
        int i = 0, pairs = n & ~31;
        while (i < pairs)
        {
            Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, b0 = a0, b1 = a0;
            int stop = Math.Min(pairs, i + 32 * LaneRun);
            for (; i < stop; i += 32)
            {
                var g0 = Vector512.Load(g + i);
                var g1 = Vector512.Load(g + i + 16);
                a0 += g0;
                a1 += g1;
                b0 = Vector512.FusedMultiplyAdd(g0, Vector512.Load(x + i) - m, b0);
                b1 = Vector512.FusedMultiplyAdd(g1, Vector512.Load(x + i + 16) - m, b1);
            }
            sa += LayerNormCpu.HSum(a0 + a1);
            sb += LayerNormCpu.HSum(b0 + b1);
        }
        if (i <= n - 16)
        {
            var g0 = Vector512.Load(g + i);
            sa += LayerNormCpu.HSum(g0);
            sb += LayerNormCpu.HSum(g0 * (Vector512.Load(x + i) - m));
            i += 16;
        }
        return ChannelSumsTail(g, x, mean, i, n, sa, sb);
    }

    /// <summary><see cref="ChannelSums512"/> on eight-lane vectors.</summary>
    internal static (double A, double B) ChannelSums256(float* g, float* x, float mean, int n)
    {
        Vector256<float> m = Vector256.Create(mean);
        double sa = 0, sb = 0;
        int i = 0, pairs = n & ~15;
        while (i < pairs)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, b0 = a0, b1 = a0;
            int stop = Math.Min(pairs, i + 16 * LaneRun);
            for (; i < stop; i += 16)
            {
                var g0 = Vector256.Load(g + i);
                var g1 = Vector256.Load(g + i + 8);
                a0 += g0;
                a1 += g1;
                b0 = Vector256.FusedMultiplyAdd(g0, Vector256.Load(x + i) - m, b0);
                b1 = Vector256.FusedMultiplyAdd(g1, Vector256.Load(x + i + 8) - m, b1);
            }
            sa += LayerNormCpu.HSum(a0 + a1);
            sb += LayerNormCpu.HSum(b0 + b1);
        }
        if (i <= n - 8)
        {
            var g0 = Vector256.Load(g + i);
            sa += LayerNormCpu.HSum(g0);
            sb += LayerNormCpu.HSum(g0 * (Vector256.Load(x + i) - m));
            i += 8;
        }
        return ChannelSumsTail(g, x, mean, i, n, sa, sb);
    }

    private static (double A, double B) ChannelSumsTail(float* g, float* x, float mean, int i, int n, double a, double b)
    {
        for (; i < n; i++)
        {
            a += g[i];
            b += g[i] * (x[i] - mean);
        }
        return (a, b);
    }

    /// <summary>
    /// dx = rstd (γg - ggMean) + (x - mean) k over a channel run. γg is rounded before ggMean is taken off, not fused:
    /// in a one-element group ggMean is that rounded product, so dx is exactly 0 as in exact arithmetic (a fused
    /// form left the product's rounding error, times an rstd of 1/√eps).
    /// </summary>
    internal static void ChannelCombine512(float* g, float* x, float gamma, float mean, float rstd, float ggMean, float k, float* dx, int n, bool stream = false)
    {
        Vector512<float> gm = Vector512.Create(gamma), m = Vector512.Create(mean), r = Vector512.Create(rstd), mg = Vector512.Create(-ggMean), kv = Vector512.Create(k);
        int i = 0;
        if (stream)
        {
            // Non-temporal stores from dx's first 64-byte boundary on (the caller fences them); the same operations, so the same bits.
            int head = StreamingStores.Head(dx, n);
            ChannelCombineTail(g, x, gamma, mean, rstd, ggMean, k, dx, 0, head);
            for (i = head; i <= n - 16; i += 16)
                Vector512.StoreAlignedNonTemporal(Vector512.FusedMultiplyAdd(Vector512.Load(x + i) - m, kv, (Vector512.Load(g + i) * gm + mg) * r), dx + i);
        }
        for (; i <= n - 16; i += 16)
            Vector512.FusedMultiplyAdd(Vector512.Load(x + i) - m, kv, (Vector512.Load(g + i) * gm + mg) * r).Store(dx + i);
        ChannelCombineTail(g, x, gamma, mean, rstd, ggMean, k, dx, i, n);
    }

    /// <summary><see cref="ChannelCombine512"/> on eight-lane vectors.</summary>
    internal static void ChannelCombine256(float* g, float* x, float gamma, float mean, float rstd, float ggMean, float k, float* dx, int n)
    {
        Vector256<float> gm = Vector256.Create(gamma), m = Vector256.Create(mean), r = Vector256.Create(rstd), mg = Vector256.Create(-ggMean), kv = Vector256.Create(k);
        int i = 0;
        for (; i <= n - 8; i += 8)
            Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - m, kv, (Vector256.Load(g + i) * gm + mg) * r).Store(dx + i);
        ChannelCombineTail(g, x, gamma, mean, rstd, ggMean, k, dx, i, n);
    }

    private static void ChannelCombineTail(float* g, float* x, float gamma, float mean, float rstd, float ggMean, float k, float* dx, int i, int n)
    {
        for (; i < n; i++) dx[i] = MathF.FusedMultiplyAdd(x[i] - mean, k, (g[i] * gamma - ggMean) * rstd);
    }
}
