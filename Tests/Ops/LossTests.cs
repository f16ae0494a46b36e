using Engine.Autograd;
using Engine.Cpu;
using Engine.Ops;
using Engine.Randomness;
using Engine.Tests.Core;
using Engine.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>Cross-entropy and nll_loss against the direct formulas (PyTorch's definitions), known values and errors.</summary>
public class LossTests
{
    /// <summary>A generated problem: logits shape (C), (N, C) or (N, C, d...), and the loss's hyper-parameters.</summary>
    public sealed record Problem(int[] Shape, int Seed, bool Weighted, double Smoothing, string Reduction, long IgnoreIndex, Reference.Kind Layout);

    private static readonly Gen<Problem> Problems =
        from shape in Reference.ShapeGen(1, 4, 5)
        from seed in Gen.Choose(0, 100_000)
        from weighted in Gen.Elements(false, true)
        from smoothing in Gen.Elements(0.0, 0.0, 0.1, 0.45, 1.0)
        from reduction in Gen.Elements("mean", "sum", "none")
        from ignore in Gen.Elements(-100L, 0L, 2L)
        from layout in Gen.Elements(Reference.AllKinds)
        select new Problem(shape, seed, weighted, smoothing, reduction, ignore, layout);

    private static int ClassDim(int[] shape) => shape.Length == 1 ? 0 : 1;

    private static int[] PositionShape(int[] shape) => shape.Where((_, i) => i != ClassDim(shape)).ToArray();

    /// <summary>log_softmax over the class dimension, in double, the obvious way.</summary>
    private static double[] LogProbabilities(double[] x, int[] shape)
    {
        int classes = shape[ClassDim(shape)];
        long inner = Reference.Count(shape) / classes / (shape.Length == 1 ? 1 : shape[0]);
        var lp = new double[x.Length];
        for (long f = 0; f < x.Length; f++)
        {
            long o = f / (classes * inner), j = f % inner;
            double max = double.NegativeInfinity, sum = 0;
            for (int c = 0; c < classes; c++) max = Math.Max(max, x[o * classes * inner + c * inner + j]);
            for (int c = 0; c < classes; c++) sum += Math.Exp(x[o * classes * inner + c * inner + j] - max);
            lp[f] = x[f] - max - Math.Log(sum);
        }
        return lp;
    }

    /// <summary>
    /// PyTorch's cross_entropy on log-probabilities (class indices, label smoothing, weights, ignore index) as its
    /// documentation writes it; with eps = 0 it is nll_loss. A mean with every position ignored is NaN (0 / 0).
    /// </summary>
    private static double[] CrossEntropyReference(double[] logp, int[] shape, long[] target, double[]? weight, long ignore, double eps, string reduction)
    {
        int classes = shape[ClassDim(shape)];
        long positions = target.Length, inner = positions / (shape.Length == 1 ? 1 : shape[0]);
        var none = new double[positions];
        double nllSum = 0, smoothSum = 0, denominator = 0;
        for (long i = 0; i < positions; i++)
        {
            if (target[i] == ignore) continue;
            long o = i / inner, j = i % inner;
            double W(long c) => weight?[c] ?? 1;
            double LogP(long c) => logp[o * classes * inner + c * inner + j];
            double n = -W(target[i]) * LogP(target[i]), s = 0;
            for (int c = 0; c < classes; c++) s -= W(c) * LogP(c);
            none[i] = (1 - eps) * n + (eps > 0 ? eps / classes * s : 0);
            nllSum += n;
            smoothSum += s;
            denominator += W(target[i]);
        }
        return reduction switch
        {
            "none" => none,
            "sum" => [none.Sum()],
            _ => [(1 - eps) * nllSum / denominator + (eps > 0 ? eps / classes * smoothSum / denominator : 0)],
        };
    }

    private static (double[] Logits, long[] Target, double[]? Weight) Data(Problem p)
    {
        var rng = new System.Random(p.Seed);
        int classes = p.Shape[ClassDim(p.Shape)];
        var logits = Reference.RandomF32Doubles(rng, Reference.Count(p.Shape), -4, 4);
        var target = new long[Reference.Count(PositionShape(p.Shape))];
        for (int i = 0; i < target.Length; i++) target[i] = rng.Next(4) == 0 ? p.IgnoreIndex : rng.Next(classes);
        var weight = p.Weighted ? Reference.RandomF32Doubles(rng, classes, 0.2, 2) : null;
        return (logits, target, weight);
    }

    [Fact]
    public void CrossEntropyMatchesTheDirectFormula() => Reference.Check(Problems, p =>
    {
        using var scope = Tensor.Scope();
        var (logits, target, weight) = Data(p);
        var expected = CrossEntropyReference(LogProbabilities(logits, p.Shape), p.Shape, target, weight, p.IgnoreIndex, p.Smoothing, p.Reduction);
        var t = Tensor.FromArray(target, PositionShape(p.Shape));
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            var x = Reference.Strided(logits, p.Shape, dtype, p.Layout);
            var w = weight is null ? null : Reference.Make(weight, [weight.Length], dtype);
            var y = F.CrossEntropy(x, t, w, p.IgnoreIndex, p.Reduction, p.Smoothing);
            Assert.Equal(p.Reduction == "none" ? PositionShape(p.Shape) : [], y.Shape);
            Reference.Close(expected, ActivationTests.ToDoubles(y), dtype == DType.F64 ? 1e-13 : 2e-5, dtype == DType.F64 ? 1e-14 : 2e-5, $"{p} {dtype}");
        }
        return true;
    }, maxTest: 150);

    /// <summary>
    /// (N, C) rows wider than the problems above, so that the CPU's row pass sums the label smoothing in vector lanes
    /// and a tail: with and without weights, an ignored position, every reduction, both dtypes.
    /// </summary>
    [Theory]
    [InlineData(37, false)]
    [InlineData(37, true)]
    [InlineData(1003, false)]
    [InlineData(1003, true)]
    public void WideRowsMatchTheDirectFormula(int classes, bool weighted)
    {
        using var scope = Tensor.Scope();
        foreach (var reduction in new[] { "mean", "sum", "none" })
        {
            var p = new Problem([7, classes], classes + (weighted ? 1 : 0), weighted, 0.1, reduction, 3, Reference.Kind.Contiguous);
            var (logits, target, weight) = Data(p);
            var expected = CrossEntropyReference(LogProbabilities(logits, p.Shape), p.Shape, target, weight, p.IgnoreIndex, p.Smoothing, p.Reduction);
            var t = Tensor.FromArray(target, [7]);
            foreach (var dtype in new[] { DType.F64, DType.F32 })
            {
                var x = Reference.Make(logits, p.Shape, dtype);
                var w = weight is null ? null : Reference.Make(weight, [weight.Length], dtype);
                var y = F.CrossEntropy(x, t, w, p.IgnoreIndex, p.Reduction, p.Smoothing);
                Reference.Close(expected, ActivationTests.ToDoubles(y), dtype == DType.F64 ? 1e-13 : 2e-5, dtype == DType.F64 ? 1e-14 : 2e-5, $"{p} {dtype}");
            }
        }
    }

    [Fact]
    public void NllLossMatchesTheDirectFormula() => Reference.Check(Problems, p =>
    {
        using var scope = Tensor.Scope();
        var (logits, target, weight) = Data(p);
        var logp = LogProbabilities(logits, p.Shape);
        var expected = CrossEntropyReference(logp, p.Shape, target, weight, p.IgnoreIndex, 0, p.Reduction);
        var t = Tensor.FromArray(target, PositionShape(p.Shape));
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            var x = Reference.Strided(logp, p.Shape, dtype, p.Layout);
            var w = weight is null ? null : Reference.Make(weight, [weight.Length], dtype);
            Reference.Close(expected, ActivationTests.ToDoubles(F.NllLoss(x, t, w, p.IgnoreIndex, p.Reduction)), dtype == DType.F64 ? 1e-13 : 2e-5, 1e-5, $"{p} {dtype}");
        }
        return true;
    }, maxTest: 60);

    [Fact]
    public void SoftTargetsMatchTheDirectFormula() => Reference.Check(Problems, p =>
    {
        using var scope = Tensor.Scope();
        var (logits, _, weight) = Data(p);
        var rng = new System.Random(p.Seed + 1);
        var probs = Reference.RandomF32Doubles(rng, logits.Length, 0, 1);
        var logp = LogProbabilities(logits, p.Shape);
        int classes = p.Shape[ClassDim(p.Shape)];
        long inner = logits.Length / classes / (p.Shape.Length == 1 ? 1 : p.Shape[0]);
        long positions = logits.Length / classes;
        var none = new double[positions];
        for (long f = 0; f < logits.Length; f++)
        {
            long o = f / (classes * inner), c = f / inner % classes, j = f % inner;
            double q = p.Smoothing > 0 ? probs[f] * (1 - p.Smoothing) + p.Smoothing / classes : probs[f];
            none[o * inner + j] -= (weight?[c] ?? 1) * q * logp[f];
        }
        double[] expected = p.Reduction switch { "none" => none, "sum" => [none.Sum()], _ => [none.Sum() / positions] };
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            var x = Reference.Strided(logits, p.Shape, dtype, p.Layout);
            var target = Reference.Strided(probs, p.Shape, dtype, p.Layout);
            var w = weight is null ? null : Reference.Make(weight, [weight.Length], dtype);
            var y = F.CrossEntropy(x, target, w, reduction: p.Reduction, labelSmoothing: p.Smoothing);
            Reference.Close(expected, ActivationTests.ToDoubles(y), dtype == DType.F64 ? 1e-13 : 2e-5, 2e-5, $"{p} {dtype}");
        }
        return true;
    }, maxTest: 60);

    [Fact]
    public void KnownValueAndGradientIsSoftmaxMinusOneHotOverN()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 0, 0, 0 }, [2, 3]).RequiresGradInPlace();
        var loss = F.CrossEntropy(x, Tensor.FromArray(new long[] { 2, 0 }));
        double first = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3; // 0.4076059644443803
        Assert.Equal((first + Math.Log(3)) / 2, loss.Item(), 1e-14);
        Assert.Equal("cross_entropy", loss.GradFn!.Op);
        Assert.Single(Tape.NodesOf(loss));
        loss.Backward();
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        double[] expected = [Math.Exp(1) / z / 2, Math.Exp(2) / z / 2, (Math.Exp(3) / z - 1) / 2, (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6];
        Reference.Close(expected, x.Grad!.ToArray<double>(), 1e-14, 1e-16);
    }

    [Fact]
    public void UnbatchedInputTakesAScalarTarget()
    {
        using var scope = Tensor.Scope();
        var y = F.CrossEntropy(Tensor.FromArray(new float[] { 1, 2, 3 }), Tensor.FromArray(new long[] { 2 }).Reshape());
        Assert.Equal(0.40760596444438, y.Item(), 6);
    }

    [Fact]
    public void AllIgnoredGivesNaNForMeanAndZeroForSum()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([3, 4], DType.F64).RequiresGradInPlace();
        var t = Tensor.Full([3], -100, DType.I64);
        Assert.True(double.IsNaN(F.CrossEntropy(x, t).Item()));
        var sum = F.CrossEntropy(x, t, reduction: "sum", labelSmoothing: 0.2);
        Assert.Equal(0.0, sum.Item());
        sum.Backward();
        Assert.All(x.Grad!.ToArray<double>(), v => Assert.Equal(0.0, v));
    }

    private static void Fails<TException>(Action call, params string[] parts) where TException : Exception
    {
        var e = Assert.Throws<TException>(call);
        foreach (var part in parts) Assert.Contains(part, e.Message);
    }

    [Fact]
    public void BadTargetsNameTheOpAndTheShapes()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([4, 5]);
        Fails<IndexOutOfRangeException>(() => F.CrossEntropy(x, Tensor.FromArray(new long[] { 0, 5, 1, 1 })), "cross_entropy", "Target 5 is out of bounds", "[4, 5]", "[4]");
        Fails<IndexOutOfRangeException>(() => F.NllLoss(x, Tensor.FromArray(new long[] { 0, -1, 1, 1 })), "nll_loss", "Target -1 is out of bounds");
        Fails<ArgumentException>(() => F.CrossEntropy(x, Tensor.Zeros([4])), "cross_entropy", "expected scalar type Long", "torch.float32", "[4, 5]", "[4]");
        Fails<ArgumentException>(() => F.CrossEntropy(x, Tensor.Zeros([3], DType.I64)), "cross_entropy", "expected input batch_size (4) to match target batch_size (3)");
        Fails<ArgumentException>(() => F.CrossEntropy(Tensor.Zeros([2, 5, 3]), Tensor.Zeros([2, 4], DType.I64)), "cross_entropy", "expected target size [2, 3], got [2, 4]");
        Fails<ArgumentException>(() => F.CrossEntropy(x, Tensor.Zeros([4, 5], DType.I64)), "cross_entropy", "floating point type for target with class probabilities", "torch.int64");
        Fails<ArgumentException>(() => F.CrossEntropy(x, Tensor.Zeros([4, 5]), ignoreIndex: 1), "cross_entropy", "ignore_index is not supported for floating point target");
        Fails<ArgumentException>(() => F.CrossEntropy(x, Tensor.Zeros([4, 5], DType.F64)), "cross_entropy", "torch.float64", "torch.float32");
    }

    [Fact]
    public void BadArgumentsNameTheOpAndTheShapes()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([4, 5]);
        var t = Tensor.Zeros([4], DType.I64);
        Fails<ArgumentException>(() => F.CrossEntropy(x, t, Tensor.Ones([4])), "cross_entropy", "weight tensor should be defined either for all 5 classes or no classes", "[4]");
        Fails<ArgumentException>(() => F.CrossEntropy(x, t, labelSmoothing: 1.5), "cross_entropy", "label_smoothing must be between 0.0 and 1.0. Got: 1.5");
        Fails<ArgumentException>(() => F.CrossEntropy(x, t, reduction: "avg"), "cross_entropy", "avg is not a valid value for reduction");
        Fails<ArgumentException>(() => F.CrossEntropy(Tensor.Scalar(1), Tensor.Scalar(0, DType.I64)), "cross_entropy", "expected 1 or more dimensions");
        Fails<ArgumentException>(() => F.NllLoss(Tensor.Zeros([4, 5], DType.I64), t), "nll_loss", "floating point", "torch.int64");
    }

    /// <summary>
    /// Cross-entropy with class indices and with class probabilities, and nll_loss, on (C), (N, C) with few classes (a
    /// thread per position) and many (a warp per position), and (N, C, d1, d2) (a thread per position, strided), with
    /// and without class weights, label smoothing and an ignore index, under every reduction: outputs and gradients.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaMatchesCpu()
    {
        foreach (var shape in new[] { new[] { 13 }, new[] { 64, 10 }, new[] { 40, 37 }, new[] { 6, 7, 3, 5 } })
        {
            int classDim = ClassDim(shape), classes = shape[classDim];
            var positions = PositionShape(shape);
            Tensor[] Inputs(DType dtype) =>
            [
                Tensor.Randn(shape, dtype, generator: new Generator(3)).Affine(2, 0),
                Tensor.RandInt(0, classes, positions, generator: new Generator(4)),
                Tensor.Rand([classes], dtype, generator: new Generator(5)).Affine(1.5, 0.25),
                Tensor.Randn(shape, dtype, generator: new Generator(6)),
            ];
            foreach (var reduction in new[] { "mean", "sum", "none" })
            {
                string what = $"{Layout.Format(shape)} {reduction}";
                DeviceParityCases.Check($"cross_entropy {what}", Inputs, t => F.CrossEntropy(t[0], t[1], reduction: reduction));
                DeviceParityCases.Check($"cross_entropy weighted smoothed ignoring 2 {what}", Inputs,
                    t => F.CrossEntropy(t[0], t[1], t[2], ignoreIndex: 2, reduction: reduction, labelSmoothing: 0.15));
                DeviceParityCases.Check($"nll_loss weighted ignoring 1 {what}", Inputs,
                    t => F.NllLoss(F.LogSoftmax(t[0], classDim), t[1], t[2], ignoreIndex: 1, reduction: reduction));
                DeviceParityCases.Check($"cross_entropy soft {what}", Inputs,
                    t => F.CrossEntropy(t[0], F.Softmax(t[3], classDim), reduction: reduction));
                DeviceParityCases.Check($"cross_entropy soft weighted smoothed {what}", Inputs,
                    t => F.CrossEntropy(t[0], F.Softmax(t[3], classDim), t[2], reduction: reduction, labelSmoothing: 0.3));
            }
        }
    }

    /// <summary>
    /// On CUDA a bad class index is checked by the loss kernel, not read to the host: the call returns, and the next
    /// read (here of the loss, then of a gradient, then a synchronisation) throws the CPU's exception with the CPU's
    /// message, naming the first bad target. The bad position reads nothing out of bounds; the device goes on.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaBadTargetIsReportedAtTheNextReadWithTheCpuMessage()
    {
        using var scope = Tensor.Scope();
        var cuda = Device.Cuda(0);
        var x = Tensor.Randn([4, 5], DType.F32, generator: new Generator(1));
        var bad = Tensor.FromArray(new long[] { 0, 7, 1, 9 });
        var cpuError = Assert.Throws<IndexOutOfRangeException>(() => F.CrossEntropy(x, bad));

        var loss = F.CrossEntropy(x.ToDevice(cuda), bad.ToDevice(cuda));
        var gpuError = Assert.Throws<IndexOutOfRangeException>(() => loss.ToArray<float>());
        Assert.Equal(cpuError.Message, gpuError.Message);
        Assert.Equal(0, Engine.Cuda.Runtime.CudaDevice.For(cuda).Checks.Pending);
        loss.ToArray<float>();   // reported once

        var leaf = x.ToDevice(cuda).RequiresGradInPlace();
        var smoothed = F.CrossEntropy(leaf, bad.ToDevice(cuda), reduction: "sum", labelSmoothing: 0.1);
        smoothed.Backward();
        Assert.Throws<IndexOutOfRangeException>(() => leaf.Grad!.ToArray<float>());
        var grad = leaf.Grad!.ToArray<float>();
        Assert.All(grad.Skip(5).Take(5).Concat(grad.Skip(15)), v => Assert.Equal(0f, v));

        F.NllLoss(x.ToDevice(cuda), Tensor.FromArray(new long[] { 0, -1, 1, -100 }).ToDevice(cuda), reduction: "none");
        var e = Assert.Throws<IndexOutOfRangeException>(() => Engine.Backends.Devices.Synchronize(cuda));
        Assert.Contains("nll_loss: Target -1 is out of bounds", e.Message);

        var good = Tensor.FromArray(new long[] { 0, 4, -100, 1 });
        Assert.Equal(F.CrossEntropy(x, good).Item<float>(), F.CrossEntropy(x.ToDevice(cuda), good.ToDevice(cuda)).Item<float>(), 6);
    }

    /// <summary>
    /// More than 65,535 positions, more than one grid of warps holds (classes contiguous) or of threads (classes
    /// strided), so each warp or thread loops over positions.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaLossLoopsOverPositionsBeyondOneGrid()
    {
        const int rows = 70_000, columns = 550_000;
        Assert.True(rows > FamilyLaunch.MaxBlocks * 8 && 2 * columns > FamilyLaunch.MaxBlocks * FamilyLaunch.Block);
        DeviceParityCases.CheckF32("cross_entropy rows", [rows, 16],
            x => F.CrossEntropy(x, Tensor.RandInt(0, 16, [rows], device: x.Device, generator: new Generator(8)), labelSmoothing: 0.1));
        DeviceParityCases.CheckF32("cross_entropy columns", [2, 3, columns],
            x => F.CrossEntropy(x, Tensor.RandInt(0, 3, [2, columns], device: x.Device, generator: new Generator(9)), reduction: "sum"));
    }
}

/// <summary>Changes the process-wide thread count, so it runs alone.</summary>
[Collection(SerialCollection.Name)]
public class LossThreadCountTests
{
    [Fact]
    public void CrossEntropyBitsDoNotDependOnTheThreadCount()
    {
        int before = CpuParallel.ThreadCount;
        try
        {
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([512, 100], DType.F32, generator: new Engine.Randomness.Generator(8)).RequiresGradInPlace();
            var t = Tensor.RandInt(0, 100, [512], generator: new Engine.Randomness.Generator(9));
            float[][] Run()
            {
                x.ZeroGrad();
                var y = F.CrossEntropy(x, t, labelSmoothing: 0.1);
                y.Backward();
                return [[y.Item<float>()], x.Grad!.ToArray<float>()];
            }
            CpuParallel.ThreadCount = 1;
            var one = Run();
            CpuParallel.ThreadCount = 2;
            var two = Run();
            Assert.Equal(one[0], two[0]);
            Assert.Equal(one[1], two[1]);
        }
        finally { CpuParallel.ThreadCount = before; }
    }
}
