using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// max_pool2d's vector form (<c>MaxPool2dVector.Cpu.cs</c>: rows wide enough for a vector, dilation 1, stride 1 or 2
/// across) against a naive loop with PyTorch's rule, at both vector widths: padding on each side, ceil mode, strides 1
/// to 3 (3 takes the scalar kernel), ties, NaN (the last NaN of a window wins, as in PyTorch's CPU kernel), -inf, and
/// plane sizes that end inside a vector. They switch the vector width, so they run alone.
/// </summary>
[Collection(SerialCollection.Name)]
public class MaxPoolVectorTests
{
    /// <summary>
    /// PyTorch's CPU max pooling: the taps in row-major order, skipping the padding; a tap replaces the maximum when it
    /// is larger or NaN; the index starts at the window's first real tap.
    /// </summary>
    private static (double[] Y, long[] Indices) Naive(double[] x, int planes, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int ho, int wo)
    {
        var y = new double[planes * ho * wo];
        var indices = new long[y.Length];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    double max = double.NegativeInfinity;
                    long at = -1;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++)
                        {
                            int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double v = x[(p * h + iy) * w + ix];
                            if (at < 0) at = iy * w + ix;
                            if (v > max || double.IsNaN(v)) { max = v; at = iy * w + ix; }
                        }
                    int o = (p * ho + oy) * wo + ox;
                    y[o] = max;
                    indices[o] = at;
                }
        return (y, indices);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void VectorFormMatchesTheNaiveLoopAtBothWidths(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 61 : 62);
        for (int trial = 0; trial < 120; trial++)
        {
            int kh = rng.Next(1, 6), kw = rng.Next(1, 6), sh = rng.Next(1, 4), sw = trial % 5 == 4 ? 3 : rng.Next(1, 3);
            int ph = rng.Next(0, kh / 2 + 1), pw = rng.Next(0, kw / 2 + 1);
            int h = rng.Next(kh, 14), w = rng.Next(Math.Max(kw, 8), 75), planes = rng.Next(1, 4);
            bool ceil = rng.Next(2) == 0;
            var spec = new PoolSpec(1, true, planes, h, w, kh, kw, sh, sw, ph, pw, CeilMode: ceil);
            if (!spec.Valid) continue;
            // Integers in [-3, 3) make ties common; a few NaNs and infinities.
            var values = Enumerable.Range(0, planes * h * w).Select(_ => rng.Next(30) switch
            {
                0 => double.NaN,
                1 => double.NegativeInfinity,
                2 => double.PositiveInfinity,
                _ => (double)rng.Next(-3, 3),
            }).ToArray();
            var (y, indices) = Naive(values, planes, h, w, kh, kw, sh, sw, ph, pw, spec.Ho, spec.Wo);
            var (wide, narrow) = VectorWidthTests.BothWidths(() =>
            {
                using var scope = Tensor.Scope();
                var x = Engine.Tests.Core.Reference.Make(values, [1, planes, h, w], dtype);
                var (output, index) = F.MaxPool2dWithIndices(x, (kh, kw), (sh, sw), (ph, pw), ceilMode: ceil);
                return [ActivationTests.ToDoubles(output), index.ToArray<long>().Select(i => (double)i).ToArray()];
            });
            foreach (var (result, width) in new[] { (wide, "512-bit"), (narrow, "256-bit") })
            {
                VectorWidthTests.SameBits(y, result[0], $"{spec} {dtype} {width}: values");
                Assert.True(indices.Select(i => (double)i).SequenceEqual(result[1]), $"{spec} {dtype} {width}: indices differ");
            }
        }
    }

    /// <summary>The bench's shape (ResNet's stem pooling, 3x3 stride 2 padding 1) with its gradient, against the naive loop.</summary>
    [Fact]
    public void StemPoolingAndItsGradientMatchTheNaiveLoop()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.RandInt(-4, 4, [2, 3, 32, 32], DType.F32, generator: new Engine.Randomness.Generator(3)).RequiresGradInPlace();
        var (y, indices) = F.MaxPool2dWithIndices(x, 3, 2, 1);
        var g = Tensor.Randn(y.Shape, DType.F32, generator: new Engine.Randomness.Generator(4));
        y.Backward(g);
        var (ey, ei) = Naive(ActivationTests.ToDoubles(x), 6, 32, 32, 3, 3, 2, 2, 1, 1, 16, 16);
        Assert.Equal(ey, ActivationTests.ToDoubles(y));
        Assert.Equal(ei, indices.ToArray<long>());
        var gx = new float[6 * 32 * 32]; // summed in float in output order, as the backward sums
        var gs = g.ToArray<float>();
        for (int o = 0; o < gs.Length; o++) gx[o / 256 * 1024 + ei[o]] += gs[o];
        Assert.Equal(gx, x.Grad!.ToArray<float>());
    }
}
