using Engine.Cpu;
using Engine.Ops;
using Engine.Randomness;
using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The float32 forward of the channels-first layer norms (Ops/Norm/LayerNorm2dForwardF32.Cpu.cs: blocks of positions
/// in float lanes, statistics finished in double): the saved statistics against exact ones, the output against
/// reference loops in double on position counts that leave partial blocks at both widths, and the same bits for any
/// thread count.
/// </summary>
[Collection(Support.SerialCollection.Name)]
public class LayerNorm2dF32Tests
{
    /// <summary>
    /// Two channels (the differences from the centre are exact in double, so are the sums): the saved mean and std are
    /// the float roundings of the exact ones at every position; with more channels, within an ulp.
    /// </summary>
    [Theory]
    [InlineData(2, true)]
    [InlineData(2, false)]
    [InlineData(37, true)]
    public void SavedStatisticsAreTheExactOnesRounded(int c, bool epsOnStd)
    {
        using var scope = Tensor.Scope();
        int n = 3000;
        long s = 7;
        var x = Tensor.Randn([n, c, (int)s], DType.F32, Device.Cpu, new Generator(13)) * 3 + 1;
        var y = Tensor.Zeros([n, c, (int)s], DType.F32);
        var mean = Tensor.Zeros([n * (int)s], DType.F32);
        var spread = Tensor.Zeros([n * (int)s], DType.F32);
        const double eps = 1e-6;
        LayerNorm2dCpu.Forward(x, null, null, y, mean, spread, new ChannelsFirstShape(n, c, s, eps, epsOnStd));
        var xs = x.ToArray<float>();
        var ms = mean.ToArray<float>();
        var ss = spread.ToArray<float>();
        int ulps = c == 2 ? 0 : 1;
        for (int b = 0; b < n; b++)
            for (int p = 0; p < s; p++)
            {
                double mu = 0, squares = 0;
                for (int ch = 0; ch < c; ch++) mu += xs[(b * c + ch) * s + p];
                mu /= c;
                for (int ch = 0; ch < c; ch++) squares += Math.Pow(xs[(b * c + ch) * s + p] - mu, 2);
                double variance = squares / c;
                float expectedSpread = (float)(epsOnStd ? Math.Sqrt(variance) : 1 / Math.Sqrt(variance + eps));
                long at = b * s + p;
                Assert.True(UlpsApart((float)mu, ms[at]) <= ulps, $"mean at {at}: {ms[at]:R}, exact {mu:R}");
                Assert.True(UlpsApart(expectedSpread, ss[at]) <= ulps, $"spread at {at}: {ss[at]:R}, exact rounded {expectedSpread:R}");
            }
    }

    /// <summary>Position counts around the blocks of 16 and 32 (partial blocks run through padded copies), channels around the lane run of 8, both widths.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatchesReferenceLoopsAtEitherWidth(bool use512)
    {
        bool saved = VectorWidth.Use512;
        try
        {
            VectorWidth.Use512 = use512;
            var rng = new System.Random(use512 ? 91 : 93);
            int[] positions = [1, 3, 15, 16, 17, 31, 32, 33, 64, 100];
            int[] channels = [1, 2, 7, 8, 9, 17, 64];
            for (int trial = 0; trial < 30; trial++)
            {
                int n = rng.Next(1, 4), c = channels[trial % channels.Length], s = positions[trial % positions.Length];
                bool epsOnStd = rng.Next(2) == 0;
                double offset = rng.Next(3) == 0 ? 100 : 0;
                var xv = RandomF32Doubles(rng, (long)n * c * s).Select(v => (double)(float)(v + offset)).ToArray();
                double[]? wv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                double[]? bv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                using var scope = Tensor.Scope();
                var xt = Make(xv, [n, c, s], DType.F32);
                var wt = wv is null ? null : Make(wv, [c], DType.F32);
                var bt = bv is null ? null : Make(bv, [c], DType.F32);
                var y = epsOnStd ? F.LayerNorm2dEpsOnStd(xt, wt, bt, 1e-5) : F.LayerNorm2d(xt, wt, bt, 1e-5);
                var spread = epsOnStd ? NormReference.EpsOnStd(1e-5) : NormReference.EpsOnVariance(1e-5);
                // Where all channels agree (one channel, or an offset of 100 against float spacing), the output is β up to
                // x̂'s rounding; elsewhere within float rounding of x̂'s size.
                Close(NormReference.ChannelsFirst(xv, n, c, s, wv, bv, spread).Y, y.ToArray<double>(), 2e-5, 2e-5,
                    $"trial {trial}: {n}x{c}x{s}, eps on std {epsOnStd}, 512-bit {use512}");
            }
        }
        finally
        {
            VectorWidth.Use512 = saved;
        }
    }

    [Fact]
    public void GivesTheSameBitsForAnyThreadCount()
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            using var scope = Tensor.Scope();
            var gen = new Generator(15);
            var x = Tensor.Randn([5, 24, 9, 13], DType.F32, Device.Cpu, gen) * 2 + 3;
            var w = Tensor.Randn([24], DType.F32, Device.Cpu, gen);
            var b = Tensor.Randn([24], DType.F32, Device.Cpu, gen);
            double[] Run(int threads)
            {
                CpuParallel.ThreadCount = threads;
                using var inner = Tensor.Scope();
                return F.LayerNorm2d(x, w, b).ToArray<double>();
            }
            var one = Run(1);
            foreach (int threads in new[] { 2, 3, 7 }) VectorWidthTests.SameBits(one, Run(threads), $"layer_norm2d forward with {threads} threads");
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    private static long UlpsApart(float a, float b) => Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b));
}
