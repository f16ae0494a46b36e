using Engine.Autograd;
using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Core;
using Engine.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>Activations, softmax and log-softmax: known values, reference loops over layouts and dtypes, errors.</summary>
public class ActivationTests
{
    // erf and erfc of these doubles at 30 digits (mpmath), rounded to 17 significant digits.
    public static TheoryData<double, double, double> ErfValues() => new()
    {
        { 1e-10, 1.1283791670955126e-10, 0.99999999988716208 },
        { 0.1, 0.1124629160182849, 0.8875370839817151 },
        { 0.25, 0.27632639016823693, 0.72367360983176307 },
        { 0.46875, 0.49261347321793799, 0.50738652678206201 },
        { 0.47, 0.49374505088608211, 0.50625494911391789 },
        { 0.9, 0.79690821242283214, 0.20309178757716786 },
        { 1, 0.84270079294971487, 0.15729920705028513 },
        { 2, 0.99532226501895273, 0.0046777349810472658 },
        { 2.5, 0.99959304798255504, 0.00040695201744495894 },
        { 3.9, 0.9999999652077514, 3.4792248597231767e-8 },
        { 4.1, 0.99999999329997235, 6.7000276540849184e-9 },
        { 5.5, 0.99999999999999264, 7.3578479179743981e-15 },
        { 6, 0.99999999999999998, 2.1519736712498913e-17 },
    };

    [Theory]
    [MemberData(nameof(ErfValues))]
    public void ErfAndErfcMatchKnownValuesToAFewUlps(double x, double erf, double erfc)
    {
        Assert.True(Math.Abs(ErrorFunction.Erf(x) - erf) <= 4e-16 * Math.Abs(erf), $"erf({x}) = {ErrorFunction.Erf(x):R}, expected {erf:R}");
        Assert.True(Math.Abs(ErrorFunction.Erf(-x) + erf) <= 4e-16 * Math.Abs(erf), $"erf({-x})");
        Assert.True(Math.Abs(ErrorFunction.Erfc(x) - erfc) <= 1e-15 * erfc, $"erfc({x}) = {ErrorFunction.Erfc(x):R}, expected {erfc:R}");
        Assert.True(Math.Abs(ErrorFunction.Erfc(-x) - (2 - erfc)) <= 4e-16 * 2, $"erfc({-x})");
    }

    [Fact]
    public void ErfcTailAndSpecialValues()
    {
        Assert.True(Math.Abs(ErrorFunction.Erfc(8) - 1.1224297172982927e-29) <= 1e-15 * 1.1224297172982927e-29);
        Assert.True(Math.Abs(ErrorFunction.Erfc(12) - 1.3562611692059042e-64) <= 1e-15 * 1.3562611692059042e-64);
        Assert.True(Math.Abs(ErrorFunction.Erfc(26) - 5.6631924088561428e-296) <= 1e-14 * 5.6631924088561428e-296);
        Assert.Equal(0.0, ErrorFunction.Erfc(30));
        Assert.Equal(1.0, ErrorFunction.Erf(double.PositiveInfinity));
        Assert.Equal(-1.0, ErrorFunction.Erf(double.NegativeInfinity));
        Assert.True(double.IsNaN(ErrorFunction.Erf(double.NaN)));
        Assert.Equal(0.0, ErrorFunction.Erf(0));
    }

    [Fact]
    public void GeluMatchesKnownValues()
    {
        // x Φ(x) at 30 digits (mpmath).
        double[] x = [-3, -1, -0.5, 0.1, 0.5, 1, 1.5, 2, 3];
        double[] expected = [-0.0040496940948902836, -0.15865525393145705, -0.15426876936299345, 0.053982783727702901,
            0.34573123063700655, 0.84134474606854295, 1.3997891980967129, 1.9544997361036416, 2.9959503059051097];
        using var scope = Tensor.Scope();
        Reference.Close(expected, F.Gelu(Tensor.FromArray(x)).ToArray<double>(), 2e-15, 0, "gelu f64"); // x / sqrt(2) rounds: a few ulps
        var f32 = F.Gelu(Tensor.FromArray(x.Select(v => (float)v).ToArray())).ToArray<float>();
        Reference.Close(expected, f32.Select(v => (double)v).ToArray(), 2.5e-7, 1e-9, "gelu f32"); // float erfc: a few ulps
    }

    /// <summary>
    /// The F32 GELU runs in float with its own erfc: a dense grid against the F64 path, in float ulps of the exact value.
    /// The derivative crosses zero near x = -0.75, so its error is counted in ulps of 1 there (absolute).
    /// </summary>
    [Fact]
    public void GeluF32StaysWithinAFewUlpsOfTheF64Path()
    {
        using var scope = Tensor.Scope();
        var x = Enumerable.Range(0, 400_001).Select(i => (float)(-15 + i * 7.5e-5)).ToArray();
        var g = Enumerable.Repeat(1f, x.Length).ToArray();
        var leafF = Tensor.FromArray(x).RequiresGradInPlace();
        var yF = F.Gelu(leafF);
        yF.Backward(Tensor.FromArray(g));
        var leafD = Tensor.FromArray(x.Select(v => (double)v).ToArray()).RequiresGradInPlace();
        var yD = F.Gelu(leafD);
        yD.Backward(Tensor.FromArray(g.Select(v => (double)v).ToArray()));
        double worstForward = MaxUlps(yF.ToArray<float>(), yD.ToArray<double>(), 0).Worst;
        double worstDerivative = MaxUlps(leafF.Grad!.ToArray<float>(), leafD.Grad!.ToArray<double>(), 1).Worst;
        Assert.True(worstForward <= 5.25 && worstDerivative <= 1.25, $"gelu f32: {worstForward} ulps forward, {worstDerivative} ulps derivative");
    }

    /// <summary>The largest error of <paramref name="actual"/> in float ulps of max(|exact|, floor), and where; subnormal exact values are skipped.</summary>
    internal static (double Worst, int At) MaxUlps(float[] actual, double[] exact, double floor)
    {
        double worst = 0;
        int at = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (Math.Abs(exact[i]) < 1e-37) continue; // float subnormals: no relative accuracy to speak of
            double ulp = Math.Max(MathF.BitIncrement((float)Math.Max(Math.Abs(exact[i]), floor)) - (float)Math.Max(Math.Abs(exact[i]), floor), 0);
            double error = Math.Abs(actual[i] - exact[i]) / ulp;
            if (double.IsNaN(error)) return (double.PositiveInfinity, i);
            if (error > worst) (worst, at) = (error, i);
        }
        return (worst, at);
    }

    public static TheoryData<string> SpanPathOps() => ["gelu", "gelu_tanh", "silu"];

    private static (Func<Tensor, Tensor> Op, Func<double, double> Forward, Func<double, double> Derivative, Func<float, float> ForwardF, Func<float, float> DerivativeF) Scalar(string name) => name switch
    {
        "gelu" => (x => F.Gelu(x), v => GeluOp.Forward(v, 0.0, 0.0), v => GeluOp.Derivative(v, 0.0, 0.0, 0.0), v => GeluOp.Forward(v, 0f, 0f), v => GeluOp.Derivative(v, 0f, 0f, 0f)),
        "gelu_tanh" => (x => F.Gelu(x, "tanh"), v => GeluTanhOp.Forward(v, 0.0, 0.0), v => GeluTanhOp.Derivative(v, 0.0, 0.0, 0.0), v => GeluTanhOp.Forward(v, 0f, 0f), v => GeluTanhOp.Derivative(v, 0f, 0f, 0f)),
        _ => (F.Silu, v => SiluOp.Forward(v, 0.0, 0.0), v => SiluOp.Derivative(v, 0.0, 0.0, 0.0), v => SiluOp.Forward(v, 0f, 0f), v => SiluOp.Derivative(v, 0f, 0f, 0f)),
    };

    /// <summary>The vector (span) forward and backward against the scalar op, over every range (erfc's three), the specials and both dtypes.</summary>
    [Theory]
    [MemberData(nameof(SpanPathOps))]
    public void SpanPathsMatchTheScalarOp(string name)
    {
        using var scope = Tensor.Scope();
        var (op, forward, derivative, forwardF, derivativeF) = Scalar(name);
        var x = Enumerable.Range(0, 20_001).Select(i => -40 + i * 0.004).Concat([0.0, -0.0, 1e-300, double.NaN, 38.5, -38.5]).ToArray();
        var g = x.Select((_, i) => Math.Cos(i * 0.7)).ToArray();
        var leaf = Tensor.FromArray(x).RequiresGradInPlace();
        var y = op(leaf);
        y.Backward(Tensor.FromArray(g));
        // The span forms of the tanh GELU and SiLU order the exponent's arithmetic differently; at x = -20 an
        // exponent near 660 turns its last-bit differences into relative differences of 1e-13.
        double rtol = name == "gelu" ? 1e-14 : 1e-12;
        Reference.Close(x.Select(forward).ToArray(), y.ToArray<double>(), rtol, 1e-300, $"{name} f64");
        // The derivatives of gelu and silu cross zero (near x = -0.75 and -1.28), where relative errors mean nothing.
        Reference.Close(x.Select((v, i) => g[i] * derivative(v)).ToArray(), leaf.Grad!.ToArray<double>(), rtol, 1e-16, $"{name}' f64");

        var xf = x.Select(v => (float)v).ToArray();
        var gf = g.Select(v => (float)v).ToArray();
        var leafF = Tensor.FromArray(xf).RequiresGradInPlace();
        var yf = op(leafF);
        yf.Backward(Tensor.FromArray(gf));
        // In float the exponent's rounding (|2u| ulps, |2u| up to 36 before the output underflows) shows in the tails.
        double rtolF = name == "gelu" ? 1e-6 : 5e-5;
        Reference.Close(xf.Select(v => (double)forwardF(v)).ToArray(), ActivationTests.ToDoubles(yf), rtolF, 1e-30, $"{name} f32");
        Reference.Close(xf.Select((v, i) => (double)(gf[i] * derivativeF(v))).ToArray(), ActivationTests.ToDoubles(leafF.Grad!), rtolF, 1e-7, $"{name}' f32");
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    public static TheoryData<string> ElementwiseNames() => ["gelu", "gelu_tanh", "silu", "hardswish", "softshrink", "relu", "sigmoid", "tanh"];

    private static (Func<Tensor, Tensor> Op, Func<double, double> Reference) Elementwise(string name) => name switch
    {
        "gelu" => (x => F.Gelu(x), v => v * 0.5 * (1 + ErrorFunction.Erf(v / Math.Sqrt(2)))),
        "gelu_tanh" => (x => F.Gelu(x, "tanh"), v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))),
        "silu" => (F.Silu, v => v * Sigmoid(v)),
        "hardswish" => (F.Hardswish, v => v <= -3 ? 0 : v >= 3 ? v : v * (v + 3) / 6),
        "softshrink" => (x => F.Softshrink(x, 0.7), v => v > 0.7 ? v - 0.7 : v < -0.7 ? v + 0.7 : 0),
        "relu" => (F.Relu, v => Math.Max(v, 0)),
        "sigmoid" => (F.Sigmoid, Sigmoid),
        _ => (F.Tanh, Math.Tanh),
    };

    [Theory]
    [MemberData(nameof(ElementwiseNames))]
    public void ElementwiseMatchesReferenceOnEveryLayoutAndDType(string name)
    {
        var (op, reference) = Elementwise(name);
        Reference.Check(Reference.ShapeGen(0, 4, 5).Select(s => (Shape: s, Seed: s.Sum() * 31 + s.Length)), c =>
        {
            using var scope = Tensor.Scope();
            var values = Reference.RandomF32Doubles(new System.Random(c.Seed), Reference.Count(c.Shape), -5, 5);
            var expected = values.Select(reference).ToArray();
            foreach (var kind in Reference.AllKinds)
            {
                Reference.Close(expected, op(Reference.Strided(values, c.Shape, DType.F64, kind)).ToArray<double>(), 1e-14, 1e-15, $"{name} f64 {kind}");
                var f32 = op(Reference.Strided(values, c.Shape, DType.F32, kind)).ToArray<float>().Select(v => (double)v).ToArray();
                Reference.Close(expected, f32, 2e-6, 2e-6, $"{name} f32 {kind}");
            }
            return true;
        }, maxTest: 30);
    }

    [Fact]
    public void DerivativesAtTheKinksFollowPyTorch()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { -3, 3, -0.5, 0.5, 0 }).RequiresGradInPlace();
        F.Hardswish(x).Sum().Backward();
        Reference.Close([-0.5, 1.5, 1.0 / 3, 2.0 / 3, 0.5], x.Grad!.ToArray<double>(), 1e-15, 0, "hardswish'");
        x.ZeroGrad();
        F.Softshrink(x, 0.5).Sum().Backward();
        Assert.Equal(new double[] { 1, 1, 0, 0, 0 }, x.Grad!.ToArray<double>());
    }

    /// <summary>softmax (or log_softmax) along one axis, computed in double the obvious way.</summary>
    private static double[] SoftmaxReference(double[] v, int[] shape, int axis, bool log)
    {
        var y = new double[v.Length];
        if (shape.Length == 0) return [log ? 0 : 1];
        long inner = 1;
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        int n = shape[axis];
        for (long f = 0; f < v.Length; f++)
        {
            long o = f / (n * inner), j = f % inner;
            double max = double.NegativeInfinity, sum = 0;
            for (int d = 0; d < n; d++) max = Math.Max(max, v[o * n * inner + d * inner + j]);
            for (int d = 0; d < n; d++) sum += Math.Exp(v[o * n * inner + d * inner + j] - max);
            y[f] = log ? v[f] - max - Math.Log(sum) : Math.Exp(v[f] - max) / sum;
        }
        return y;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SoftmaxMatchesReferenceOnEveryAxisLayoutAndDType(bool log)
    {
        Reference.Check(Reference.ShapeGen(0, 4, 6).Select(s => (Shape: s, Seed: s.Sum() * 17 + s.Length)), c =>
        {
            using var scope = Tensor.Scope();
            var values = Reference.RandomF32Doubles(new System.Random(c.Seed), Reference.Count(c.Shape), -8, 8);
            for (int axis = 0; axis < Math.Max(1, c.Shape.Length); axis++)
            {
                var expected = SoftmaxReference(values, c.Shape, axis, log);
                foreach (var kind in Reference.AllKinds)
                {
                    int dim = axis - (kind == Reference.Kind.Stepped ? Math.Max(1, c.Shape.Length) : 0); // negative dims too
                    var f64 = Reference.Strided(values, c.Shape, DType.F64, kind);
                    var f32 = Reference.Strided(values, c.Shape, DType.F32, kind);
                    var y64 = log ? F.LogSoftmax(f64, dim) : F.Softmax(f64, dim);
                    var y32 = log ? F.LogSoftmax(f32, dim) : F.Softmax(f32, dim);
                    Reference.Close(expected, y64.ToArray<double>(), 1e-14, 1e-15, $"f64 {kind} axis {axis}");
                    Reference.Close(expected, y32.ToArray<float>().Select(v => (double)v).ToArray(), 2e-6, 1e-6, $"f32 {kind} axis {axis}");
                }
            }
            return true;
        }, maxTest: 40);
    }

    [Fact]
    public void SoftmaxIsStableForLargeLogitsAndMasksMinusInfinity()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new float[] { 1000, 1001, float.NegativeInfinity, 999 }, [1, 4]);
        var y = F.Softmax(x, -1).ToArray<float>();
        double z = 1 + Math.Exp(1) + Math.Exp(-1);
        Reference.Close([1 / z, Math.E / z, 0, Math.Exp(-1) / z], y.Select(v => (double)v).ToArray(), 1e-6, 1e-7);
        var l = F.LogSoftmax(x, 1).ToArray<float>();
        Assert.Equal(float.NegativeInfinity, l[2]);
        Assert.Equal(-Math.Log(z), l[0], 5);
    }

    [Fact]
    public void SoftmaxIsOneNodeWithItsOwnBackward()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([3, 4, 5], DType.F64).RequiresGradInPlace();
        var y = F.Softmax(x.Transpose(0, 2), 1);
        var nodes = Tape.NodesOf(y);
        Assert.Equal(["permute", "softmax"], nodes.Select(n => n.Op).ToArray());
        var l = F.LogSoftmax(x, 0);
        Assert.Equal("log_softmax", l.GradFn!.Op);
    }

    [Fact]
    public void BadInputsNameTheOpAndTheShape()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3]);
        var e = Assert.Throws<ArgumentException>(() => F.Gelu(x, "erf"));
        Assert.Contains("gelu: approximate argument must be either none or tanh", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Softshrink(x, -1));
        Assert.Contains("softshrink: lambda must be greater or equal to 0", e.Message);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => F.Softmax(x, 2));
        Assert.Contains("softmax: dimension out of range", r.Message);
        r = Assert.Throws<ArgumentOutOfRangeException>(() => F.LogSoftmax(x, -3));
        Assert.Contains("log_softmax", r.Message);
        var i = Tensor.Zeros([4], DType.I64);
        foreach (var (name, f) in new (string, Func<Tensor, Tensor>)[] { ("gelu", t => F.Gelu(t)), ("silu", F.Silu), ("hardswish", F.Hardswish), ("softmax", t => F.Softmax(t, 0)) })
        {
            e = Assert.Throws<ArgumentException>(() => f(i));
            Assert.Contains(name, e.Message);
            Assert.Contains("torch.int64", e.Message);
            Assert.Contains("[4]", e.Message);
        }
    }

    /// <summary>
    /// Every activation, and softmax along each axis (the last: a warp per row; the others, and short last axes: a
    /// thread per column), outputs and gradients.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaMatchesCpu()
    {
        Tensor[] Input(DType dtype) => [Tensor.Randn([5, 37, 43], dtype, generator: new Engine.Randomness.Generator(1)).Affine(2.5, 0)];
        foreach (var name in new[] { "gelu", "gelu_tanh", "silu", "hardswish", "softshrink", "relu", "sigmoid", "tanh" })
            DeviceParityCases.Check(name, Input, x => Elementwise(name).Op(x[0]));
        foreach (var dim in new[] { 0, 1, 2 })
        {
            DeviceParityCases.Check($"softmax dim {dim}", Input, x => F.Softmax(x[0], dim));
            DeviceParityCases.Check($"log_softmax dim {dim}", Input, x => F.LogSoftmax(x[0], dim));
        }
        // Last axes too short for a warp per row (a thread per row instead), and one of a single element.
        foreach (var n in new[] { 1, 5, 15 })
        {
            Tensor[] Rows(DType dtype) => [Tensor.Randn([37, n], dtype, generator: new Engine.Randomness.Generator(2))];
            DeviceParityCases.Check($"softmax [37, {n}]", Rows, x => F.Softmax(x[0], 1));
            DeviceParityCases.Check($"log_softmax [37, {n}]", Rows, x => F.LogSoftmax(x[0], 1));
        }
    }

    /// <summary>A NaN anywhere makes the whole row NaN, -inf and +inf give what the CPU gives, along either kind of axis.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaSoftmaxSpecialValuesMatchTheCpu()
    {
        double[] values =
        [
            1, 2, double.NaN, 3,
            double.NegativeInfinity, 0, 1, 2,
            double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity,
            double.PositiveInfinity, 1, 2, 3,
            -1e30, 1e30, 0, 5,
        ];
        Tensor[] Input(DType dtype) => [Tensor.FromArray(values, [5, 4]).ToDType(dtype)];
        foreach (var dim in new[] { 0, 1 })
        {
            DeviceParityCases.Check($"softmax dim {dim}", Input, x => F.Softmax(x[0], dim));
            DeviceParityCases.Check($"log_softmax dim {dim}", Input, x => F.LogSoftmax(x[0], dim));
        }
    }

    /// <summary>
    /// More than 65,535 rows, more than one grid of warps holds (<see cref="FamilyLaunch.MaxBlocks"/> blocks of 8), so
    /// each warp loops over rows; and more columns than one grid of threads, so each thread loops over columns.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaSoftmaxLoopsOverRowsAndColumnsBeyondOneGrid()
    {
        const int rows = 70_000, columns = 1_100_000;
        Assert.True(rows > FamilyLaunch.MaxBlocks * 8 && columns > FamilyLaunch.MaxBlocks * FamilyLaunch.Block);
        DeviceParityCases.CheckF32("log_softmax rows", [rows, 16], x => F.LogSoftmax(x, 1));
        DeviceParityCases.CheckF32("softmax columns", [2, columns], x => F.Softmax(x, 0));
    }

    internal static double[] ToDoubles(Tensor t) => t.DType == DType.F32 ? t.ToArray<float>().Select(v => (double)v).ToArray() : t.ToArray<double>();
}

/// <summary>Changes the process-wide thread count, so it runs alone.</summary>
[Collection(SerialCollection.Name)]
public class ActivationThreadCountTests
{
    [Fact]
    public void SoftmaxBitsDoNotDependOnTheThreadCount()
    {
        int before = CpuParallel.ThreadCount;
        try
        {
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([64, 300, 7], DType.F32, generator: new Engine.Randomness.Generator(5)).RequiresGradInPlace();
            var g = Tensor.Randn([64, 300, 7], DType.F32, generator: new Engine.Randomness.Generator(6));
            float[][] Run(int dim)
            {
                x.ZeroGrad();
                var y = F.LogSoftmax(x, dim);
                y.Backward(g);
                return [y.ToArray<float>(), x.Grad!.ToArray<float>()];
            }
            foreach (var dim in new[] { 1, 2 })
            {
                CpuParallel.ThreadCount = 1;
                var one = Run(dim);
                CpuParallel.ThreadCount = 2;
                var two = Run(dim);
                Assert.Equal(one[0], two[0]);
                Assert.Equal(one[1], two[1]);
            }
        }
        finally { CpuParallel.ThreadCount = before; }
    }
}
