using Engine.Cpu;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>The AFF token mixer's output and every gradient are the same bits with 1, 2 and 3 threads (dense DFT at 8×8 and 13×10, separable with FFT at 23×18; both group-linear kernels).</summary>
[Collection(SerialCollection.Name)]
public class SpectralThreadTests
{
    private static double[][] Run(int threads, int h, int w, int d)
    {
        int saved = CpuParallel.ThreadCount;
        CpuParallel.ThreadCount = threads;
        try
        {
            using var scope = Tensor.Scope();
            var g = new Generator(11);
            int c = 8 * d;
            var x = Tensor.Randn([6, c, h, w], DType.F32, generator: g).RequiresGradInPlace();
            var ps = new[] { new[] { 2, 8, d, d }, [2, 8, d], [2, 8, d, d], [2, 8, d] }
                .Select(s => (Tensor.Randn(s, DType.F32, generator: g) * 0.3).Detach().RequiresGradInPlace()).ToArray();
            var y = F.AdaptiveFrequencyFilter(x, ps[0], ps[1], ps[2], ps[3]);
            (y * y).Sum().Backward();
            return [y.ToArray<float>().Select(v => (double)v).ToArray(), .. new[] { x }.Concat(ps).Select(t => t.Grad!.ToArray<float>().Select(v => (double)v).ToArray())];
        }
        finally { CpuParallel.ThreadCount = saved; }
    }

    [Theory]
    [InlineData(8, 8, 6)]
    [InlineData(13, 10, 20)]
    [InlineData(23, 18, 3)]
    public void BitsDoNotDependOnTheThreadCount(int h, int w, int d)
    {
        var one = Run(1, h, w, d);
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Run(threads, h, w, d);
            for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], many[i]);
        }
    }
}
