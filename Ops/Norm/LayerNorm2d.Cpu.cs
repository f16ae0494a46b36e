using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The channels-first layer norms on the CPU: a contiguous (N, C, S) tensor normalised over C at each
/// of the S positions. The positions are contiguous, so a tile of up to <see cref="Lanes"/> of them is
/// processed together, one statistic per lane, streaming over the channels. <c>epsOnStd</c> selects
/// (x - mean) / (std + eps) instead of (x - mean) / sqrt(var + eps); the second statistic saved is then
/// the std rather than 1/sqrt(var + eps). The affine parameters are widened to double once per call. The float32
/// forward has a kernel of its own, in float lanes (LayerNorm2dForwardF32.Cpu.cs).
/// </summary>
internal static unsafe partial class LayerNorm2dCpu
{
    private const int Lanes = 256;

    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor spread, ChannelsFirstShape shape)
    {
        var (n, c, s, eps, epsOnStd) = shape;
        if (x.DType == DType.F32 && F32Supported && c > 0)
        {
            ForwardF32(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(spread), n, c, s,
                Floats(w, c, 1), Floats(b, c, 0), eps, epsOnStd);
            return;
        }
        var gamma = LayerNormCpu.Widened(w, c, 1);
        var beta = LayerNormCpu.Widened(b, c, 0);
        if (x.DType == DType.F32)
            Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(spread), n, c, s, gamma, beta, eps, epsOnStd);
        else
            Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(spread), n, c, s, gamma, beta, eps, epsOnStd);
    }

    /// <summary>A contiguous float32 parameter copied out, or <paramref name="count"/> copies of <paramref name="fill"/> when absent.</summary>
    private static float[] Floats(Tensor? t, int count, float fill)
    {
        var v = new float[count];
        if (t is null) Array.Fill(v, fill);
        else new ReadOnlySpan<float>(CpuBackend.Ptr<float>(t), count).CopyTo(v);
        return v;
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor spread, Tensor? dx, Tensor? dw, Tensor? db, ChannelsFirstShape shape)
    {
        var (n, c, s, eps, epsOnStd) = shape;
        var gamma = LayerNormCpu.Widened(w, c, 1);
        double[]? dGamma = dw is null && db is null ? null : new double[c], dBeta = dGamma is null ? null : new double[c];
        if (x.DType == DType.F32)
            Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(spread),
                dx is null ? null : CpuBackend.Ptr<float>(dx), n, c, s, gamma, dGamma, dBeta, eps, epsOnStd);
        else
            Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(spread),
                dx is null ? null : CpuBackend.Ptr<double>(dx), n, c, s, gamma, dGamma, dBeta, eps, epsOnStd);
        if (dw is not null) LayerNormCpu.Narrowed(dGamma!, dw);
        if (db is not null) LayerNormCpu.Narrowed(dBeta!, db);
    }

    public static void Forward<T>(T* x, T* y, T* mean, T* spread, int n, int c, long s, double[] gamma, double[] beta, double eps, bool epsOnStd) where T : unmanaged
    {
        long tiles = (s + Lanes - 1) / Lanes;
        CpuParallel.For(n * tiles, 8.0 * c * Lanes, (start, end) =>
        {
            var scratch = new double[5 * Lanes];
            fixed (double* sp = scratch, gm = gamma, bt = beta)
            {
                double* mu = sp, rs = sp + Lanes, sq = sp + 2 * Lanes, xs = sp + 3 * Lanes, ys = sp + 4 * Lanes;
                for (long item = start; item < end; item++)
                {
                    long b = item / tiles, s0 = item % tiles * Lanes;
                    int lanes = (int)Math.Min(Lanes, s - s0);
                    T* xb = x + b * c * s + s0, yb = y + b * c * s + s0;
                    new Span<double>(sp, 3 * Lanes).Clear();
                    for (int ch = 0; ch < c; ch++) Wide.Add(mu, Wide.Load(xb + ch * s, lanes, xs), lanes);
                    for (int i = 0; i < lanes; i++) mu[i] = Wide.Average(mu[i], c);
                    for (int ch = 0; ch < c; ch++) Wide.AddSquaredDeviations(sq, Wide.Load(xb + ch * s, lanes, xs), mu, lanes);
                    for (int i = 0; i < lanes; i++)
                    {
                        double variance = Wide.Average(sq[i], c);
                        double std = Math.Sqrt(variance);
                        rs[i] = epsOnStd ? 1 / (std + eps) : 1 / Math.Sqrt(variance + eps);
                        Wide.Set(mean + b * s + s0 + i, mu[i]);
                        Wide.Set(spread + b * s + s0 + i, epsOnStd ? std : rs[i]);
                    }
                    for (int ch = 0; ch < c; ch++)
                    {
                        double* target = Wide.Target(yb + ch * s, ys);
                        Wide.NormalizeLanes(Wide.Load(xb + ch * s, lanes, xs), mu, rs, gm[ch], bt[ch], target, lanes);
                        Wide.Store(target, yb + ch * s, lanes);
                    }
                }
            }
        });
    }

    /// <summary>
    /// Input gradient into <paramref name="dx"/> (skipped when null) and, when <paramref name="dGamma"/> is
    /// given, the affine gradients, summed over positions through per-block partials (blocks of tiles fixed
    /// by the shape, added in order) so that the result does not depend on the thread count.
    /// </summary>
    public static void Backward<T>(T* g, T* x, T* mean, T* spread, T* dx, int n, int c, long s, double[] gamma, double[]? dGamma, double[]? dBeta, double eps, bool epsOnStd) where T : unmanaged
    {
        long tiles = (s + Lanes - 1) / Lanes, items = n * tiles;
        bool affine = dGamma is not null;
        long blocks = affine ? Math.Min(items, 32) : items;
        long itemsPerBlock = blocks == 0 ? 0 : (items + blocks - 1) / blocks;
        var partial = affine ? new double[blocks * 2 * c] : [];
        CpuParallel.For(blocks, 14.0 * c * Lanes * itemsPerBlock, (start, end) =>
        {
            var scratch = new double[8 * Lanes];
            fixed (double* sp = scratch, gm = gamma, part = partial)
            {
                double* mu = sp, rs = sp + Lanes, q = sp + 2 * Lanes, sa = sp + 3 * Lanes, sb = sp + 4 * Lanes;
                double* xs = sp + 5 * Lanes, gs = sp + 6 * Lanes, ds = sp + 7 * Lanes;
                for (long blk = start; blk < end; blk++)
                {
                    double* pg = part + blk * 2 * c, pb = pg + c;
                    for (long item = blk * itemsPerBlock; item < Math.Min(items, (blk + 1) * itemsPerBlock); item++)
                    {
                        long b = item / tiles, s0 = item % tiles * Lanes;
                        int lanes = (int)Math.Min(Lanes, s - s0);
                        long at = b * c * s + s0;
                        for (int i = 0; i < lanes; i++)
                        {
                            mu[i] = Wide.Get(mean + b * s + s0 + i);
                            double v = Wide.Get(spread + b * s + s0 + i);
                            // d(x̂)/dx carries the derivative of the spread: rstd³ for 1/sqrt(var + eps);
                            // rstd²/std for 1/(std + eps), whose std term vanishes with the deviations.
                            rs[i] = epsOnStd ? 1 / (v + eps) : v;
                            q[i] = epsOnStd ? (v > 0 ? rs[i] * rs[i] / v : 0) : v * v * v;
                        }
                        new Span<double>(sa, 2 * Lanes).Clear();
                        for (int ch = 0; ch < c; ch++)
                        {
                            var (dgc, dbc) = Wide.AddLaneSums(Wide.Load(g + at + ch * s, lanes, gs), Wide.Load(x + at + ch * s, lanes, xs), mu, rs, gm[ch], sa, sb, lanes);
                            if (affine) { pg[ch] += dgc; pb[ch] += dbc; }
                        }
                        if (dx == null) continue;
                        for (int i = 0; i < lanes; i++)
                        {
                            double c1 = -q[i] * sb[i] / c;
                            sa[i] = -rs[i] * sa[i] / c - c1 * mu[i];
                            sb[i] = c1;
                        }
                        for (int ch = 0; ch < c; ch++)
                        {
                            double* target = Wide.Target(dx + at + ch * s, ds);
                            Wide.CombineLanes(Wide.Load(g + at + ch * s, lanes, gs), Wide.Load(x + at + ch * s, lanes, xs), gm[ch], rs, sb, sa, target, lanes);
                            Wide.Store(target, dx + at + ch * s, lanes);
                        }
                    }
                }
            }
        });
        if (!affine) return;
        for (long blk = 0; blk < blocks; blk++)
            for (int ch = 0; ch < c; ch++)
            {
                dGamma![ch] += partial[blk * 2 * c + ch];
                dBeta![ch] += partial[blk * 2 * c + c + ch];
            }
    }
}
