using Engine.Tests.Core;
using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>Forward values of the norms against reference loops; backward against the tape of composed core operations.</summary>
public class NormTests
{
    private static double Tol(DType dtype) => dtype == DType.F64 ? 1e-12 : 2e-6;

    /// <summary>Sizes 1 to <paramref name="maxSize"/>, with 1 often, so size-1 dimensions are common.</summary>
    internal static int[] RandomShape(System.Random rng, int minRank, int maxRank, int maxSize) =>
        Enumerable.Range(0, rng.Next(minRank, maxRank + 1)).Select(_ => rng.Next(4) == 0 ? 1 : rng.Next(1, maxSize + 1)).ToArray();

    internal static double RandomEps(System.Random rng) => new[] { 1e-5, 1e-3, 0.1, 1.0 }[rng.Next(4)];

    /// <summary>Parameter values, or null for an absent parameter (half the time).</summary>
    private static double[]? MaybeValues(System.Random rng, long n) => rng.Next(2) == 0 ? null : RandomF32Doubles(rng, n, -2, 2);

    private static Tensor? Param(double[]? values, int[] shape, DType dtype, System.Random rng) =>
        values is null ? null : Strided(values, shape, dtype, AllKinds[rng.Next(AllKinds.Length)]);

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void LayerNormMatchesReferenceLoops(DType dtype)
    {
        for (int trial = 0; trial < 60; trial++)
        {
            var rng = new System.Random(trial);
            var shape = RandomShape(rng, 1, 4, 6);
            var normalized = shape[^rng.Next(1, shape.Length + 1)..];
            int d = (int)Count(normalized);
            var x = RandomF32Doubles(rng, Count(shape));
            var w = MaybeValues(rng, d); var b = MaybeValues(rng, d);
            double eps = RandomEps(rng);
            var kind = AllKinds[rng.Next(AllKinds.Length)];
            using var scope = Tensor.Scope();
            var y = F.LayerNorm(Strided(x, shape, dtype, kind), normalized, Param(w, normalized, dtype, rng), Param(b, normalized, dtype, rng), eps);
            Assert.Equal(shape, y.Shape);
            Close(NormReference.LayerNorm(x, d, w, b, eps).Y, y.ToArray<double>(), Tol(dtype), Tol(dtype),
                $"trial {trial}: layer_norm {Layout.Format(shape)} over {Layout.Format(normalized)} ({kind}, eps {eps})");
        }
    }

    [Theory]
    [InlineData(DType.F32, false)]
    [InlineData(DType.F64, false)]
    [InlineData(DType.F32, true)]
    [InlineData(DType.F64, true)]
    public void ChannelsFirstLayerNormsMatchReferenceLoops(DType dtype, bool epsOnStd)
    {
        for (int trial = 0; trial < 60; trial++)
        {
            var rng = new System.Random(trial);
            var shape = RandomShape(rng, 2, 4, 6);
            int n = shape[0], c = shape[1];
            long s = Count(shape[2..]);
            var x = RandomF32Doubles(rng, Count(shape));
            var w = MaybeValues(rng, c); var b = MaybeValues(rng, c);
            double eps = RandomEps(rng);
            var kind = AllKinds[rng.Next(AllKinds.Length)];
            using var scope = Tensor.Scope();
            var xt = Strided(x, shape, dtype, kind);
            var wt = Param(w, [c], dtype, rng); var bt = Param(b, [c], dtype, rng);
            var y = epsOnStd ? F.LayerNorm2dEpsOnStd(xt, wt, bt, eps) : F.LayerNorm2d(xt, wt, bt, eps);
            var spread = epsOnStd ? NormReference.EpsOnStd(eps) : NormReference.EpsOnVariance(eps);
            Close(NormReference.ChannelsFirst(x, n, c, s, w, b, spread).Y, y.ToArray<double>(), Tol(dtype), Tol(dtype),
                $"trial {trial}: {Layout.Format(shape)} ({kind}, eps {eps})");
        }
    }

    [Fact]
    public void EpsOnStdAddsEpsToTheStandardDeviation()
    {
        // Two channels holding -1 and 1: mean 0, biased std 1; with eps = 1 the outputs are ∓1/2 (eps on the
        // variance would give ∓1/sqrt(2)).
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray([-1.0, 1.0], [1, 2, 1, 1]);
        Assert.Equal(new[] { -0.5, 0.5 }, F.LayerNorm2dEpsOnStd(x, eps: 1).ToArray<double>());
        Assert.Equal(new[] { -1 / Math.Sqrt(2), 1 / Math.Sqrt(2) }, F.LayerNorm2d(x, eps: 1).ToArray<double>());
    }

    [Fact]
    public void LayerNorm2dEqualsLayerNormOverChannelsLast()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(3);
        var x = Make(RandomF32Doubles(rng, 2 * 5 * 3 * 4), [2, 5, 3, 4], DType.F64);
        var w = Make(RandomF32Doubles(rng, 5), [5], DType.F64);
        var b = Make(RandomF32Doubles(rng, 5), [5], DType.F64);
        var expected = F.LayerNorm(x.Permute(0, 2, 3, 1), [5], w, b).Permute(0, 3, 1, 2);
        Close(expected.ToArray<double>(), F.LayerNorm2d(x, w, b).ToArray<double>(), 1e-14, 1e-14);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void GroupNormMatchesReferenceLoops(DType dtype)
    {
        for (int trial = 0; trial < 60; trial++)
        {
            var rng = new System.Random(trial);
            var shape = RandomShape(rng, 2, 4, 6);
            int n = shape[0], c = shape[1];
            long s = Count(shape[2..]);
            var divisors = Enumerable.Range(1, c).Where(g => c % g == 0).ToArray();
            int groups = divisors[rng.Next(divisors.Length)];
            // A lone value per (sample, group) overall is refused, as in PyTorch (checked in NormErrorTests).
            if ((long)n * (c / groups) * s == 1) continue;
            var x = RandomF32Doubles(rng, Count(shape));
            var w = MaybeValues(rng, c); var b = MaybeValues(rng, c);
            double eps = RandomEps(rng);
            var kind = AllKinds[rng.Next(AllKinds.Length)];
            using var scope = Tensor.Scope();
            var y = F.GroupNorm(Strided(x, shape, dtype, kind), groups, Param(w, [c], dtype, rng), Param(b, [c], dtype, rng), eps);
            Close(NormReference.Group(x, n, c, s, groups, w, b, eps).Y, y.ToArray<double>(), Tol(dtype), Tol(dtype),
                $"trial {trial}: group_norm {Layout.Format(shape)}, {groups} groups ({kind}, eps {eps})");
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void BatchNormTrainingMatchesReferenceAndUpdatesTheRunningStatistics(DType dtype)
    {
        for (int trial = 0; trial < 60; trial++)
        {
            var rng = new System.Random(trial);
            var shape = RandomShape(rng, 2, 4, 5);
            int n = shape[0], c = shape[1];
            long s = Count(shape[2..]);
            if (n * s == 1) shape[0] = n = 2;
            var x = RandomF32Doubles(rng, Count(shape));
            var w = MaybeValues(rng, c); var b = MaybeValues(rng, c);
            var runMean = RandomF32Doubles(rng, c); var runVar = RandomF32Doubles(rng, c, 0.5, 2);
            double eps = RandomEps(rng), momentum = rng.NextDouble();
            var kind = AllKinds[rng.Next(AllKinds.Length)];
            using var scope = Tensor.Scope();
            var rm = Strided(runMean, [c], dtype, AllKinds[rng.Next(AllKinds.Length)]);
            var rv = Strided(runVar, [c], dtype, AllKinds[rng.Next(AllKinds.Length)]);
            int rmVersion = rm.Storage.Version, rvVersion = rv.Storage.Version;
            var y = F.BatchNorm(Strided(x, shape, dtype, kind), rm, rv, Param(w, [c], dtype, rng), Param(b, [c], dtype, rng), training: true, momentum, eps);

            var expected = NormReference.BatchTraining(x, c, s, w, b, eps);
            string what = $"trial {trial}: batch_norm {Layout.Format(shape)} ({kind}, eps {eps}, momentum {momentum})";
            Close(expected.Y, y.ToArray<double>(), Tol(dtype), Tol(dtype), what);
            long count = n * s;
            var mean = runMean.Select((r, i) => (1 - momentum) * r + momentum * expected.Mean[i]).ToArray();
            var variance = runVar.Select((r, i) => (1 - momentum) * r + momentum * expected.Var[i] * count / (count - 1)).ToArray();
            Close(mean, rm.ToArray<double>(), Tol(dtype), Tol(dtype), what + ", running mean");
            Close(variance, rv.ToArray<double>(), Tol(dtype), Tol(dtype), what + ", running var");
            Assert.True(rm.Storage.Version > rmVersion && rv.Storage.Version > rvVersion, "the running statistics' versions must change");
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void BatchNormEvaluationUsesTheRunningStatisticsAndLeavesThemAlone(DType dtype)
    {
        for (int trial = 0; trial < 40; trial++)
        {
            var rng = new System.Random(trial);
            var shape = RandomShape(rng, 2, 4, 5);
            int c = shape[1];
            long s = Count(shape[2..]);
            var x = RandomF32Doubles(rng, Count(shape));
            var w = MaybeValues(rng, c); var b = MaybeValues(rng, c);
            var runMean = RandomF32Doubles(rng, c); var runVar = RandomF32Doubles(rng, c, 0.5, 2);
            double eps = RandomEps(rng);
            using var scope = Tensor.Scope();
            var rm = Make(runMean, [c], dtype);
            var rv = Make(runVar, [c], dtype);
            int version = rm.Storage.Version;
            var y = F.BatchNorm(Strided(x, shape, dtype, AllKinds[rng.Next(AllKinds.Length)]), rm, rv, Param(w, [c], dtype, rng), Param(b, [c], dtype, rng), training: false, eps: eps);
            Close(NormReference.BatchEval(x, c, s, runMean, runVar, w, b, eps), y.ToArray<double>(), Tol(dtype), Tol(dtype), $"trial {trial}");
            Assert.Equal(runMean, rm.ToArray<double>());
            Assert.Equal(runVar, rv.ToArray<double>());
            Assert.Equal(version, rm.Storage.Version);
        }
    }

    [Fact]
    public void BatchNormTrainingWithoutRunningStatisticsAndWithAnEmptyBatch()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(5);
        var x = RandomF32Doubles(rng, 4 * 3 * 2);
        var y = F.BatchNorm(Make(x, [4, 3, 2], DType.F64), null, null, training: true);
        Close(NormReference.BatchTraining(x, 3, 2, null, null, 1e-5).Y, y.ToArray<double>(), 1e-12, 1e-12);

        var rm = Tensor.Zeros([3], DType.F64); var rv = Tensor.Ones([3], DType.F64);
        var empty = F.BatchNorm(Tensor.Zeros([0, 3, 2], DType.F64), rm, rv, training: true);
        Assert.Equal([0, 3, 2], empty.Shape);
        Assert.Equal(new[] { 0.0, 0, 0 }, rm.ToArray<double>());
        Assert.Equal(new[] { 1.0, 1, 1 }, rv.ToArray<double>());
    }

    /// <summary>
    /// momentum = None, as PyTorch: the running statistics become the plain average of the batches' (the weight of
    /// batch k is 1/k, from the counter, which the operator increments), whatever they started from.
    /// </summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void BatchNormWithoutMomentumKeepsTheCumulativeAverage(DType dtype)
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(4);
        int c = 3, steps = 4;
        var rm = Make([0.5, -1, 2], [c], dtype); var rv = Make([3.0, 0.25, 1], [c], dtype);
        var counter = Tensor.Full([], 0, DType.I64);
        var means = new double[c]; var variances = new double[c];
        for (int k = 0; k < steps; k++)
        {
            var x = RandomF32Doubles(rng, 5 * c * 2, -1 - k, 2 + k);
            using var y = F.BatchNorm(Make(x, [5, c, 2], dtype), rm, rv, training: true, momentum: null, numBatchesTracked: counter);
            var batch = NormReference.BatchTraining(x, c, 2, null, null, 1e-5);
            for (int ch = 0; ch < c; ch++) { means[ch] += batch.Mean[ch] / steps; variances[ch] += batch.Var[ch] * 10 / 9 / steps; }
        }
        Assert.Equal(steps, counter.Item());
        Close(means, rm.ToArray<double>(), Tol(dtype), Tol(dtype), "running mean");
        Close(variances, rv.ToArray<double>(), Tol(dtype), Tol(dtype), "running var");
    }

    [Theory]
    [InlineData(new[] { 2, 3, 4, 5 })]
    [InlineData(new[] { 2, 3, 4 })]
    [InlineData(new[] { 2, 3 })]
    public void BatchNorm2dIsBatchNormOnTwoToFourDimensions(int[] shape)
    {
        using var scope = Tensor.Scope();
        var x = Make(RandomF32Doubles(new System.Random(1), Count(shape)), shape, DType.F64);
        Assert.Equal(F.BatchNorm(x, null, null, training: true).ToArray<double>(), F.BatchNorm2d(x, null, null, training: true).ToArray<double>());
    }

    /// <summary>
    /// Statistics in double: F32 rows whose mean is large against their spread keep their precision
    /// (float sums, or E[x²] - E[x]², would lose most digits here).
    /// </summary>
    [Fact]
    public void StatisticsKeepTheirPrecisionWhenTheMeanIsLarge()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(9);
        var x = RandomF32Doubles(rng, 8 * 4096, -1, 1).Select(v => (double)(float)(1000 + v)).ToArray();
        var ln = F.LayerNorm(Make(x, [8, 4096], DType.F32), [4096]);
        Close(NormReference.LayerNorm(x, 4096, null, null, 1e-5).Y, ln.ToArray<double>(), 1e-5, 1e-5, "layer_norm");
        var bn = F.BatchNorm(Make(x, [4096, 8], DType.F32), null, null, training: true);
        Close(NormReference.BatchTraining(x, 8, 1, null, null, 1e-5).Y, bn.ToArray<double>(), 1e-5, 1e-5, "batch_norm");
    }

    public enum Norm { LayerNorm, LayerNorm2d, LayerNorm2dEpsOnStd, GroupNorm, BatchNormTraining, BatchNormEval }

    /// <summary>The fused op and its composed reference on the same inputs.</summary>
    internal static (Func<Tensor, Tensor?, Tensor?, Tensor> Fused, Func<Tensor, Tensor?, Tensor?, Tensor> Composite, int[] ParamShape)
        Pair(Norm norm, int[] shape, double eps, int choice)
    {
        int c = shape.Length > 1 ? shape[1] : 0;
        switch (norm)
        {
            case Norm.LayerNorm:
                var ns = shape[^(1 + choice % shape.Length)..];
                return ((x, w, b) => F.LayerNorm(x, ns, w, b, eps), (x, w, b) => NormComposite.LayerNorm(x, ns, w, b, eps), ns);
            case Norm.LayerNorm2d:
                return ((x, w, b) => F.LayerNorm2d(x, w, b, eps), (x, w, b) => NormComposite.ChannelsFirst(x, w, b, eps, false), [c]);
            case Norm.LayerNorm2dEpsOnStd:
                return ((x, w, b) => F.LayerNorm2dEpsOnStd(x, w, b, eps), (x, w, b) => NormComposite.ChannelsFirst(x, w, b, eps, true), [c]);
            case Norm.GroupNorm:
                var divisors = Enumerable.Range(1, Math.Max(c, 1)).Where(g => c % g == 0).ToArray();
                int groups = divisors[choice % divisors.Length];
                return ((x, w, b) => F.GroupNorm(x, groups, w, b, eps), (x, w, b) => NormComposite.Group(x, groups, w, b, eps), [c]);
            case Norm.BatchNormTraining:
                return ((x, w, b) => F.BatchNorm(x, null, null, w, b, training: true, eps: eps), (x, w, b) => NormComposite.BatchTraining(x, w, b, eps), [c]);
            default:
                var rng = new System.Random(choice);
                var mean = RandomDoubles(rng, c);
                var variance = RandomDoubles(rng, c, 0.5, 2);
                return ((x, w, b) =>
                {
                    using var hm = Make(mean, [c], x.DType); using var hv = Make(variance, [c], x.DType);
                    using var m = hm.ToDevice(x.Device); using var v = hv.ToDevice(x.Device);
                    return F.BatchNorm(x, m, v, w, b, training: false, eps: eps);
                }, (x, w, b) =>
                {
                    using var m = Make(mean, [c], x.DType); using var v = Make(variance, [c], x.DType);
                    return NormComposite.BatchEval(x, m, v, w, b, eps);
                }, [c]);
        }
    }

    /// <summary>Shapes that cross the kernels' tile boundaries and partial-sum blocks, beyond what finite differences can afford.</summary>
    public static TheoryData<Norm, int[], DType> LargeCases()
    {
        var data = new TheoryData<Norm, int[], DType>();
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            data.Add(Norm.LayerNorm, [67, 1100], dtype);
            data.Add(Norm.LayerNorm, [3, 5, 7, 300], dtype);
            data.Add(Norm.LayerNorm2d, [3, 7, 20, 30], dtype);
            data.Add(Norm.LayerNorm2dEpsOnStd, [3, 7, 20, 30], dtype);
            data.Add(Norm.GroupNorm, [3, 6, 700], dtype);
            data.Add(Norm.BatchNormTraining, [5, 3, 600], dtype);
            data.Add(Norm.BatchNormEval, [5, 3, 20, 31], dtype);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(LargeCases))]
    public void ForwardAndBackwardMatchTheComposedOperations(Norm norm, int[] shape, DType dtype)
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(shape.Sum());
        var (fused, composite, paramShape) = Pair(norm, shape, 1e-5, 1);
        var xv = RandomF32Doubles(rng, Count(shape));
        var wv = RandomF32Doubles(rng, Count(paramShape)); var bv = RandomF32Doubles(rng, Count(paramShape));
        var gv = RandomF32Doubles(rng, Count(shape));

        (double[] Y, double[][] Grads) Run(Func<Tensor, Tensor?, Tensor?, Tensor> f, DType dt)
        {
            var x = Strided(xv, shape, dt, Kind.Permuted); x.RequiresGrad = true;
            var w = Make(wv, paramShape, dt); w.RequiresGrad = true;
            var b = Make(bv, paramShape, dt); b.RequiresGrad = true;
            var y = f(x, w, b);
            y.Backward(Make(gv, shape, dt));
            return (y.ToArray<double>(), [x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()]);
        }

        // The composite runs in F64 in both cases: the reference for F32 is the exact answer.
        var expected = Run(composite, DType.F64);
        var actual = Run(fused, dtype);
        double tol = dtype == DType.F64 ? 1e-10 : 1e-4;
        Close(expected.Y, actual.Y, tol, tol, $"{norm} output");
        string[] names = ["input", "weight", "bias"];
        for (int i = 0; i < 3; i++)
        {
            // Affine gradients are sums over many rows: compare relative to their size.
            double scale = Math.Max(1, expected.Grads[i].Max(Math.Abs));
            Close(expected.Grads[i], actual.Grads[i], tol, tol * scale, $"{norm} gradient of {names[i]}");
        }
    }

    [Fact]
    public void GradientsAreOnlyComputedForInputsThatNeedThem()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([4, 6], DType.F64);
        var w = Tensor.Randn([6], DType.F64); w.RequiresGrad = true;
        var y = F.LayerNorm(x, [6], w);
        y.Sum().Backward();
        Assert.Null(x.Grad);
        Assert.NotNull(w.Grad);
        Assert.Equal("layer_norm", y.GradFn!.Op);
        Assert.Single(Engine.Autograd.Tape.NodesOf(y));
    }
}

/// <summary>Bad arguments: each error names the operation and the shapes involved.</summary>
public class NormErrorTests
{
    private static void Throws(Action act, params string[] fragments)
    {
        var e = Assert.ThrowsAny<ArgumentException>(act);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void LayerNormRejectsShapesThatDoNotMatch()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3, 4]);
        Throws(() => F.LayerNorm(x, [3]), "layer_norm", "normalizedShape = [3]", "[*, 3]", "[2, 3, 4]");
        Throws(() => F.LayerNorm(x, [2, 3, 4, 5]), "layer_norm", "[2, 3, 4]");
        Throws(() => F.LayerNorm(x, []), "layer_norm", "at least 1-dimensional");
        Throws(() => F.LayerNorm(x, [4], Tensor.Ones([5])), "layer_norm", "weight of shape [5]", "normalizedShape = [4]", "[2, 3, 4]");
        Throws(() => F.LayerNorm(x, [3, 4], Tensor.Ones([3, 4]), Tensor.Ones([12])), "layer_norm", "bias of shape [12]", "normalizedShape = [3, 4]");
        Throws(() => F.LayerNorm(x, [4], Tensor.Ones([4], DType.F64)), "layer_norm", "weight", "float64", "float32");
        Throws(() => F.LayerNorm(Tensor.Zeros([2, 4], DType.I64), [4]), "layer_norm", "int64", "[2, 4]");
    }

    [Fact]
    public void ChannelsFirstLayerNormsRejectBadParameters()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3, 4, 4]);
        Throws(() => F.LayerNorm2d(x, Tensor.Ones([4])), "layer_norm2d", "weight of shape [4]", "[2, 3, 4, 4]");
        Throws(() => F.LayerNorm2dEpsOnStd(x, null, Tensor.Ones([3, 1])), "layer_norm2d_eps_on_std", "bias of shape [3, 1]", "[2, 3, 4, 4]");
        Throws(() => F.LayerNorm2d(Tensor.Zeros([5])), "layer_norm2d", "[5]");
    }

    [Fact]
    public void GroupNormRejectsGroupsThatDoNotDivideTheChannels()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 6, 5]);
        Throws(() => F.GroupNorm(x, 4), "group_norm", "divisible by numGroups", "[2, 6, 5]", "numGroups = 4");
        Throws(() => F.GroupNorm(x, 0), "group_norm", "greater than 0, got 0", "[2, 6, 5]");
        Throws(() => F.GroupNorm(x, 3, Tensor.Ones([3])), "group_norm", "weight of shape [3]", "[2, 6, 5]");
        Throws(() => F.GroupNorm(Tensor.Zeros([6]), 3), "group_norm", "at least 2 dimensions", "[6]");
    }

    /// <summary>
    /// F.group_norm's check, as PyTorch words it: N·(C/G)·(spatial sizes) must not be 1 (the group of a lone
    /// sample would normalise to 0 and return the bias). It is that product, not the values per group: (2, 3)
    /// in 3 groups passes, as in PyTorch.
    /// </summary>
    [Fact]
    public void GroupNormNeedsMoreThanOneValuePerGroupAndSample()
    {
        using var scope = Tensor.Scope();
        Throws(() => F.GroupNorm(Tensor.Zeros([1, 3]), 3, Tensor.Ones([3]), Tensor.Zeros([3])),
            "group_norm", "Expected more than 1 value per channel when training", "[1, 3]");
        Throws(() => F.GroupNorm(Tensor.Zeros([1, 4, 1, 1]), 4), "group_norm", "Expected more than 1 value per channel", "[1, 4, 1, 1]");
        Assert.Equal([2, 3], F.GroupNorm(Tensor.Zeros([2, 3]), 3).Shape);
        Assert.Equal([1, 6], F.GroupNorm(Tensor.Zeros([1, 6]), 3).Shape);
        Assert.Equal([1, 3, 2], F.GroupNorm(Tensor.Zeros([1, 3, 2]), 3).Shape);
        Assert.Equal([0, 3], F.GroupNorm(Tensor.Zeros([0, 3]), 3).Shape);
    }

    [Fact]
    public void BatchNormTrainingNeedsMoreThanOneValuePerChannel()
    {
        using var scope = Tensor.Scope();
        Throws(() => F.BatchNorm(Tensor.Zeros([1, 3]), null, null, training: true),
            "batch_norm", "Expected more than 1 value per channel when training, got input size [1, 3]");
        Throws(() => F.BatchNorm2d(Tensor.Zeros([1, 3, 1, 1]), Tensor.Zeros([3]), Tensor.Ones([3]), training: true),
            "batch_norm", "Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]");
        // One value per channel is fine in evaluation.
        using var y = F.BatchNorm(Tensor.Zeros([1, 3]), Tensor.Zeros([3]), Tensor.Ones([3]));
    }

    [Fact]
    public void BatchNormRejectsMissingOrMisshapenStatisticsAndParameters()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([4, 3, 2, 2]);
        Throws(() => F.BatchNorm(x, null, Tensor.Ones([3])), "batch_norm", "runningMean must be defined in evaluation mode", "[4, 3, 2, 2]");
        Throws(() => F.BatchNorm(x, Tensor.Zeros([3]), null), "batch_norm", "runningVar must be defined in evaluation mode", "[4, 3, 2, 2]");
        Throws(() => F.BatchNorm(x, Tensor.Zeros([4]), Tensor.Ones([3])), "batch_norm", "runningMean should contain 3 elements not 4", "[4, 3, 2, 2]");
        Throws(() => F.BatchNorm(x, null, null, Tensor.Ones([2]), training: true), "batch_norm", "weight should contain 3 elements not 2");
        Throws(() => F.BatchNorm(x, null, null, null, Tensor.Ones([5]), training: true), "batch_norm", "bias should contain 3 elements not 5");
        Throws(() => F.BatchNorm(Tensor.Zeros([7]), null, null, training: true), "batch_norm", "[7]");
        Throws(() => F.BatchNorm2d(Tensor.Zeros([4, 3, 5, 2, 2]), null, null, training: true), "batch_norm2d", "expected 2D, 3D or 4D input (got 5D input", "[4, 3, 5, 2, 2]");
        Throws(() => F.BatchNorm(x, Tensor.Zeros([3]), Tensor.Ones([3]), training: true, momentum: null), "batch_norm", "momentum = None", "numBatchesTracked", "[4, 3, 2, 2]");
        Throws(() => F.BatchNorm(x, null, null, training: true, numBatchesTracked: Tensor.Zeros([2], DType.I64)), "batch_norm", "numBatchesTracked", "one int64 element", "[2]");
        Throws(() => F.BatchNorm(x, null, null, training: true, numBatchesTracked: Tensor.Zeros([])), "batch_norm", "numBatchesTracked", "float32");
    }
}

/// <summary>The fused norms give the same bits for any thread count (they change the global thread count, so they run alone).</summary>
[Collection(Support.SerialCollection.Name)]
public class NormDeterminismTests
{
    [Theory]
    [InlineData(NormTests.Norm.LayerNorm, new[] { 96, 300 })]
    [InlineData(NormTests.Norm.LayerNorm2d, new[] { 4, 10, 30, 30 })]
    [InlineData(NormTests.Norm.LayerNorm2dEpsOnStd, new[] { 4, 10, 30, 30 })]
    [InlineData(NormTests.Norm.GroupNorm, new[] { 8, 8, 32, 32 })]
    [InlineData(NormTests.Norm.BatchNormTraining, new[] { 8, 6, 20, 20 })]
    [InlineData(NormTests.Norm.BatchNormEval, new[] { 8, 6, 20, 20 })]
    public void SameBitsForAnyThreadCount(NormTests.Norm norm, int[] shape)
    {
        var (fused, _, paramShape) = NormTests.Pair(norm, shape, 1e-5, 3);
        double[][] Run(int threads)
        {
            int previous = Engine.Cpu.CpuParallel.ThreadCount;
            try
            {
                Engine.Cpu.CpuParallel.ThreadCount = threads;
                using var scope = Tensor.Scope();
                var gen = new Engine.Randomness.Generator(7);
                var x = Tensor.Randn(shape, DType.F32, generator: gen); x.RequiresGrad = true;
                var w = Tensor.Randn(paramShape, DType.F32, generator: gen); w.RequiresGrad = true;
                var b = Tensor.Randn(paramShape, DType.F32, generator: gen); b.RequiresGrad = true;
                var y = fused(x, w, b);
                y.Backward(Tensor.Randn(shape, DType.F32, generator: gen));
                return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
            }
            finally
            {
                Engine.Cpu.CpuParallel.ThreadCount = previous;
            }
        }
        var one = Run(1);
        foreach (var threads in new[] { 2, 3, 8 })
        {
            var other = Run(threads);
            for (int i = 0; i < one.Length; i++) Bitwise(one[i], other[i], $"{norm}: result {i}, 1 vs {threads} threads");
        }
    }
}
