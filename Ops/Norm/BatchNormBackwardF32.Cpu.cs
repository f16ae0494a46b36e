using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The float32 backward of <see cref="BatchNormCpu"/>, in float lanes with the group norm's channel-run helpers
/// (GroupNormBackwardF32.Cpu.cs): per channel, Σ g and Σ g (x - mean) over its N runs (float lane partials ended in
/// double), then one pass writing dx = rstd (γg - mean(γg)) + k1 x̂ (training) or rstd γg (evaluation). A channel's
/// runs are read twice; between the two passes they are in the core's cache for the shapes of the backbones.
/// Each channel is one thread's, so the bits do not depend on the thread count; the two vector widths agree within
/// rounding.
/// </summary>
internal static unsafe partial class BatchNormCpu
{
    private static void BackwardF32(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, BatchNormShape shape)
    {
        var (n, c, s, training) = shape;
        int run = (int)s;
        long count = n * s;
        float* gp = CpuBackend.Ptr<float>(g), xp = CpuBackend.Ptr<float>(x), mp = CpuBackend.Ptr<float>(mean), rp = CpuBackend.Ptr<float>(rstd);
        float* dxp = dx is null ? null : CpuBackend.Ptr<float>(dx), wp = w is null ? null : CpuBackend.Ptr<float>(w);
        float* dwp = dw is null ? null : CpuBackend.Ptr<float>(dw), dbp = db is null ? null : CpuBackend.Ptr<float>(db);
        bool sums = training || dwp != null || dbp != null;
        // Large input gradients go to memory with non-temporal stores, as the group norm's and the softmax's.
        bool stream = dxp != null && StreamingStores.Worth((long)n * c * s);
        CpuParallel.For(c, (dxp == null ? 3.0 : 6.0) * count, (start, end) =>
        {
            for (int ch = (int)start; ch < end; ch++)
            {
                float mu = mp[ch], rs = rp[ch], gamma = wp == null ? 1 : wp[ch];
                double sumG = 0, sumGx = 0; // Σ g and Σ g (x - mean)
                if (sums)
                    for (int b = 0; b < n; b++)
                    {
                        long at = ((long)b * c + ch) * s;
                        var (a, p) = VectorWidth.Use512 ? GroupNormCpu.ChannelSums512(gp + at, xp + at, mu, run) : GroupNormCpu.ChannelSums256(gp + at, xp + at, mu, run);
                        sumG += a;
                        sumGx += p;
                    }
                if (dwp != null) dwp[ch] = (float)(sumGx * rs);
                if (dbp != null) dbp[ch] = (float)sumG;
                if (dxp == null) continue;
                // Training: the batch statistics depend on x, which adds the two mean terms; evaluation: dx = rstd γ g.
                float ggMean = training && count > 0 ? (float)(gamma * sumG / count) : 0;
                float k = training && count > 0 ? (float)(-gamma * (double)rs * rs * rs * sumGx / count) : 0;
                for (int b = 0; b < n; b++)
                {
                    long at = ((long)b * c + ch) * s;
                    if (VectorWidth.Use512) GroupNormCpu.ChannelCombine512(gp + at, xp + at, gamma, mu, rs, ggMean, k, dxp + at, run, stream);
                    else GroupNormCpu.ChannelCombine256(gp + at, xp + at, gamma, mu, rs, ggMean, k, dxp + at, run);
                }
            }
            if (stream) System.Runtime.Intrinsics.X86.Sse.StoreFence();
        });
    }
}
