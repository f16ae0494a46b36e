using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>The 2-D DCT, its inverse and the heat decay against reference loops written from the formulas.</summary>
public class DctTests
{
    /// <summary>Y[n, m] = α_n α_m Σ_h Σ_w cos(π n (h+½)/H) cos(π m (w+½)/W) X[h, w], plane by plane; the inverse sums the transpose.</summary>
    internal static double[] ReferenceDct2(double[] x, int[] shape, bool inverse)
    {
        int h = shape[^2], w = shape[^1], plane = h * w;
        double A(int k, int n) => k == 0 ? Math.Sqrt(1.0 / n) : Math.Sqrt(2.0 / n);
        double D(int k, int i, int n) => A(k, n) * Math.Cos(Math.PI * k * (i + 0.5) / n);
        var y = new double[x.Length];
        for (int b = 0; plane > 0 && b < x.Length / plane; b++)
            for (int p = 0; p < h; p++)
                for (int q = 0; q < w; q++)
                {
                    double s = 0;
                    for (int r = 0; r < h; r++)
                        for (int t = 0; t < w; t++)
                            s += (inverse ? D(r, p, h) * D(t, q, w) : D(p, r, h) * D(q, t, w)) * x[b * plane + r * w + t];
                    y[b * plane + p * w + q] = s;
                }
        return y;
    }

    /// <summary>Square, non-square, odd, 1-wide, and planes on both sides of the Kronecker/separable switch (H·W = 64).</summary>
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 1, 1 }, new[] { 3, 1, 5 }, new[] { 2, 6, 10 }, new[] { 2, 3, 8, 8 }, new[] { 5, 7 }, new[] { 2, 9, 8 },
        new[] { 3, 13, 11 }, new[] { 2, 1, 17 }, new[] { 4, 16, 1 }, new[] { 2, 2, 20, 12 }, new[] { 0, 4, 4 }, new[] { 3, 0, 4 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Dct2AndIdct2MatchTheFormulas(int[] shape)
    {
        foreach (var dtype in new[] { DType.F64, DType.F32 })
            foreach (var kind in AllKinds)
            {
                var rng = new System.Random(shape.Sum() + (int)kind);
                var x = RandomF32Doubles(rng, Count(shape));
                double tol = dtype == DType.F64 ? 1e-12 : 2e-5;
                using var scope = Tensor.Scope();
                var input = Strided(x, shape, dtype, kind);
                Close(ReferenceDct2(x, shape, false), F.Dct2(input).ToArray<double>(), tol, tol, $"dct2 {Layout.Format(shape)} {dtype} {kind}");
                Close(ReferenceDct2(x, shape, true), F.Idct2(input).ToArray<double>(), tol, tol, $"idct2 {Layout.Format(shape)} {dtype} {kind}");
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TheInverseUndoesTheTransformAndEnergyIsKept(int[] shape)
    {
        var rng = new System.Random(shape.Length);
        var x = RandomDoubles(rng, Count(shape));
        using var scope = Tensor.Scope();
        var t = Make(x, shape, DType.F64);
        var y = F.Dct2(t);
        Close(x, F.Idct2(y).ToArray<double>(), 1e-13, 1e-13, "idct2(dct2(x))");
        Close(x, F.Dct2(F.Idct2(t)).ToArray<double>(), 1e-13, 1e-13, "dct2(idct2(x))");
        // Orthonormal: Parseval holds plane by plane, so in total too.
        Assert.Equal(x.Sum(v => v * v), y.ToArray<double>().Sum(v => v * v), 1e-10);
    }

    [Fact]
    public void AConstantPlaneHasOnlyADcTerm()
    {
        using var scope = Tensor.Scope();
        var y = F.Dct2(Tensor.Full([6, 10], 2.0, DType.F64)).ToArray<double>();
        Assert.Equal(2.0 * Math.Sqrt(60), y[0], 1e-12);
        Assert.All(y.Skip(1), v => Assert.Equal(0, v, 1e-12));
    }

    [Theory]
    [InlineData(new[] { 3, 6, 10 })]
    [InlineData(new[] { 2, 1, 1 })]
    [InlineData(new[] { 4, 5, 3 })]
    public void HeatDecayIsExpOfMinusKTimesSquaredFrequencies(int[] shape)
    {
        int h = shape[^2], w = shape[^1];
        var rng = new System.Random(3);
        var k = RandomDoubles(rng, Count(shape), 0, 2);
        using var scope = Tensor.Scope();
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            var f = F.HeatDecay(Make(k, shape, dtype)).ToArray<double>();
            var expected = k.Select((kv, i) =>
            {
                int n = i / w % h, m = i % w;
                double omega = Math.Pow(n * Math.PI / h, 2) + Math.Pow(m * Math.PI / w, 2);
                return Math.Exp(-kv * omega);
            }).ToArray();
            double tol = dtype == DType.F64 ? 1e-14 : 1e-6;
            Close(expected, f, tol, tol, $"heat_decay {dtype}");
        }
    }

    [Fact]
    public void HeatDecayGradientIsExactlyZeroOnTheDcTermAndOnOneByOnePlanes()
    {
        using var scope = Tensor.Scope();
        var k = Tensor.Full([2, 1, 1], 0.7, DType.F64); k.RequiresGrad = true;
        F.HeatDecay(k).Sum().Backward();
        Assert.All(k.Grad!.ToArray<double>(), v => Assert.Equal(0.0, v));
        var k2 = Tensor.Full([3, 4], 0.7, DType.F64); k2.RequiresGrad = true;
        F.HeatDecay(k2).Sum().Backward();
        var g = k2.Grad!.ToArray<double>();
        Assert.Equal(0.0, g[0]);
        Assert.All(g.Skip(1), v => Assert.True(v < 0 && double.IsFinite(v)));
    }

    [Fact]
    public void BackwardOfEachTransformIsTheOther()
    {
        using var scope = Tensor.Scope();
        var gen = new Engine.Randomness.Generator(5);
        var x = Tensor.Randn([2, 3, 7, 9], DType.F64, generator: gen); x.RequiresGrad = true;
        var g = Tensor.Randn([2, 3, 7, 9], DType.F64, generator: gen);
        F.Dct2(x).Backward(g);
        Close(F.Idct2(g).ToArray<double>(), x.Grad!.ToArray<double>(), 1e-14, 1e-14, "dct2 backward");
        x.ZeroGrad();
        F.Idct2(x).Backward(g);
        Close(F.Dct2(g).ToArray<double>(), x.Grad!.ToArray<double>(), 1e-14, 1e-14, "idct2 backward");
    }

    /// <summary>Planes on both sides of the Kronecker/separable switch, with u a channel slice of a wider tensor half the time.</summary>
    [Theory]
    [InlineData(2, 6, 10, 12, false)]
    [InlineData(3, 8, 8, 5, true)]
    [InlineData(2, 1, 1, 7, true)]
    [InlineData(2, 9, 11, 3, false)]
    [InlineData(1, 13, 6, 4, true)]
    [InlineData(0, 3, 3, 2, false)]
    public void HeatConductionIsTheDctPathOnChannelsLastMaps(int b, int h, int w, int c, bool slice)
    {
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            using var scope = Tensor.Scope();
            var gen = new Engine.Randomness.Generator(11);
            var wide = Tensor.Randn([b, h, w, slice ? 2 * c : c], dtype, generator: gen);
            var u = wide.Narrow(3, 0, c);
            var f = Tensor.Rand([h, w, c], dtype, generator: gen);
            var expected = F.Idct2(F.Dct2(u.Permute(0, 3, 1, 2)) * f.Permute(2, 0, 1)).Permute(0, 2, 3, 1);
            double tol = dtype == DType.F64 ? 1e-13 : 1e-5;
            Close(expected.ToArray<double>(), F.HeatConduction(u, f).ToArray<double>(), tol, tol, $"heat_conduction {dtype}");
        }
    }

    [Fact]
    public void HeatConductionGradientsMatchTheComposedOps()
    {
        using var scope = Tensor.Scope();
        var gen = new Engine.Randomness.Generator(12);
        var u = Tensor.Randn([3, 5, 9, 4], DType.F64, generator: gen); u.RequiresGrad = true;
        var f = Tensor.Rand([5, 9, 4], DType.F64, generator: gen); f.RequiresGrad = true;
        var g = Tensor.Randn([3, 5, 9, 4], DType.F64, generator: gen);
        F.HeatConduction(u, f).Backward(g);
        var (gu, gf) = (u.Grad!.ToArray<double>(), f.Grad!.ToArray<double>());
        u.ZeroGrad(); f.ZeroGrad();
        F.Idct2(F.Dct2(u.Permute(0, 3, 1, 2)) * f.Permute(2, 0, 1)).Permute(0, 2, 3, 1).Backward(g);
        Close(u.Grad!.ToArray<double>(), gu, 1e-13, 1e-13, "gu");
        Close(f.Grad!.ToArray<double>(), gf, 1e-13, 1e-13, "gdecay");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TheFftPathMatchesTheFormulasAndTheProducts(int[] shape)
    {
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            var rng = new System.Random(shape.Sum() * 7);
            var x = RandomF32Doubles(rng, Count(shape));
            double tol = dtype == DType.F64 ? 1e-12 : 2e-5;
            using var scope = Tensor.Scope();
            var input = Strided(x, shape, dtype, Kind.Permuted);
            foreach (var inverse in new[] { false, true })
            {
                var fft = inverse ? F.Idct2(input, Engine.Ops.DctImplementation.Fft) : F.Dct2(input, Engine.Ops.DctImplementation.Fft);
                var mm = inverse ? F.Idct2(input, Engine.Ops.DctImplementation.Matmul) : F.Dct2(input, Engine.Ops.DctImplementation.Matmul);
                Close(ReferenceDct2(x, shape, inverse), fft.ToArray<double>(), tol, tol, $"fft {(inverse ? "idct2" : "dct2")} {Layout.Format(shape)} {dtype}");
                Close(mm.ToArray<double>(), fft.ToArray<double>(), tol, tol, $"fft vs matmul {Layout.Format(shape)} {dtype}");
            }
        }
    }

    [Fact]
    public void TheFftPathsBackwardIsTheOtherTransform()
    {
        using var scope = Tensor.Scope();
        var gen = new Engine.Randomness.Generator(6);
        var x = Tensor.Randn([2, 11, 20], DType.F64, generator: gen); x.RequiresGrad = true;
        var g = Tensor.Randn([2, 11, 20], DType.F64, generator: gen);
        F.Dct2(x, Engine.Ops.DctImplementation.Fft).Backward(g);
        Close(F.Idct2(g, Engine.Ops.DctImplementation.Matmul).ToArray<double>(), x.Grad!.ToArray<double>(), 1e-13, 1e-13, "fft dct2 backward");
        x.ZeroGrad();
        F.Idct2(x, Engine.Ops.DctImplementation.Fft).Backward(g);
        Close(F.Dct2(g, Engine.Ops.DctImplementation.Matmul).ToArray<double>(), x.Grad!.ToArray<double>(), 1e-13, 1e-13, "fft idct2 backward");
    }

    [Fact]
    public void AutoTakesTheFftFromTheCrossoverOn()
    {
        using var scope = Tensor.Scope();
        int n = F.DctFftCrossover;
        var x = Tensor.Randn([1, 3, n], DType.F32, generator: new Engine.Randomness.Generator(2));
        Bitwise(F.Dct2(x, Engine.Ops.DctImplementation.Fft).ToArray<double>(), F.Dct2(x).ToArray<double>(), "auto at the crossover");
    }

    [Fact]
    public void ExplicitMatmulEqualsAuto()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([3, 12, 10], DType.F64, generator: new Engine.Randomness.Generator(1));
        Bitwise(F.Dct2(x, Engine.Ops.DctImplementation.Matmul).ToArray<double>(), F.Dct2(x).ToArray<double>());
    }
}

/// <summary>Bad arguments: each error names the operation and the shapes involved.</summary>
public class DctErrorTests
{
    private static void Throws<TException>(Action act, params string[] fragments) where TException : Exception
    {
        var e = Assert.ThrowsAny<TException>(act);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void RejectsInputsWithoutAPlane()
    {
        using var scope = Tensor.Scope();
        Throws<ArgumentException>(() => F.Dct2(Tensor.Zeros([5])), "dct2", "(*, H, W)", "[5]");
        Throws<ArgumentException>(() => F.Idct2(Tensor.Scalar(1)), "idct2", "[]");
        Throws<ArgumentException>(() => F.HeatDecay(Tensor.Zeros([4])), "heat_decay", "[4]");
    }

    [Fact]
    public void RejectsIntegerInputsAndUnknownImplementations()
    {
        using var scope = Tensor.Scope();
        Throws<ArgumentException>(() => F.Dct2(Tensor.Zeros([2, 3], DType.I64)), "dct2", "int64", "[2, 3]");
        Throws<ArgumentException>(() => F.HeatDecay(Tensor.Zeros([2, 3], DType.I64)), "heat_decay", "int64", "[2, 3]");
        Throws<ArgumentException>(() => F.Dct2(Tensor.Zeros([2, 3]), (Engine.Ops.DctImplementation)7), "dct2", "implementation", "[2, 3]");
    }

    [Fact]
    public void HeatConductionRejectsMismatchedShapesAndDtypes()
    {
        using var scope = Tensor.Scope();
        Throws<ArgumentException>(() => F.HeatConduction(Tensor.Zeros([2, 4, 5, 3]), Tensor.Zeros([4, 5, 2])), "heat_conduction", "[2, 4, 5, 3]", "[4, 5, 2]");
        Throws<ArgumentException>(() => F.HeatConduction(Tensor.Zeros([4, 5, 3]), Tensor.Zeros([4, 5, 3])), "heat_conduction", "(B, H, W, C)", "[4, 5, 3]");
        Throws<ArgumentException>(() => F.HeatConduction(Tensor.Zeros([1, 4, 5, 3]), Tensor.Zeros([4, 5, 3], DType.F64)), "heat_conduction", "float64", "float32");
    }

    [Fact]
    public void RejectsDisposedInputs()
    {
        var x = Tensor.Zeros([2, 3]);
        x.Dispose();
        Assert.ThrowsAny<Exception>(() => F.Dct2(x));
    }
}
