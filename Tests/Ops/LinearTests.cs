using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>The fused linear layer: forward against reference loops, backward against matmul's tape, errors, determinism.</summary>
public class LinearTests
{
    /// <summary>y[r, o] = Σ_k x[r, k]·w[o, k] + b[o] over the flattened leading dimensions of x.</summary>
    private static double[] LinearRef(double[] x, int inF, double[] w, int outF, double[]? b)
    {
        long rows = inF == 0 ? x.Length : x.Length / inF;
        if (inF == 0) rows = 0;
        var y = new double[rows * outF];
        for (long r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double acc = b is null ? 0 : b.Length == 1 ? b[0] : b[o];
                for (int k = 0; k < inF; k++) acc += x[r * inF + k] * w[o * inF + k];
                y[r * outF + o] = acc;
            }
        return y;
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void LinearMatchesReferenceLoops(DType dtype)
    {
        for (int trial = 0; trial < 60; trial++)
        {
            var rng = new System.Random(trial);
            var lead = NormTests.RandomShape(rng, 0, 3, 5);
            int inF = rng.Next(1, 9), outF = rng.Next(1, 9);
            int[] shape = [.. lead, inF];
            var x = RandomF32Doubles(rng, Count(shape));
            var w = RandomF32Doubles(rng, outF * inF);
            int biasForm = rng.Next(4); // none, (out), (1), 0-d
            var b = biasForm == 0 ? null : RandomF32Doubles(rng, biasForm == 1 ? outF : 1);
            var xKind = AllKinds[rng.Next(AllKinds.Length)]; var wKind = AllKinds[rng.Next(AllKinds.Length)];
            using var scope = Tensor.Scope();
            var bt = b is null ? null : Make(b, biasForm switch { 1 => [outF], 2 => [1], _ => [] }, dtype);
            var y = F.Linear(Strided(x, shape, dtype, xKind), Strided(w, [outF, inF], dtype, wKind), bt);
            Assert.Equal([.. lead, outF], y.Shape);
            double tol = dtype == DType.F64 ? 1e-12 : 1e-5;
            Close(LinearRef(x, inF, w, outF, b), y.ToArray<double>(), tol, tol, $"trial {trial}: {Layout.Format(shape)} x ({outF}, {inF}) ({xKind}/{wKind}, bias form {biasForm})");
        }
    }

    [Fact]
    public void LinearReadsBroadcastAndSlicedRowsInPlace()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(2);
        var w = Make(RandomF32Doubles(rng, 4 * 3), [4, 3], DType.F64);
        var v = Make(RandomF32Doubles(rng, 3), [3], DType.F64);
        var expanded = v.Expand([2, 5, 3]); // every row the same, zero strides
        var y = F.Linear(expanded, w);
        var one = F.Linear(v, w).ToArray<double>();
        Assert.Equal(Enumerable.Range(0, 10).SelectMany(_ => one), y.ToArray<double>());

        var big = Make(RandomF32Doubles(rng, 6 * 8 * 3), [6, 8, 3], DType.F64);
        var rows = big.Narrow(1, 2, 5); // leading dimensions that do not merge into one stride
        Close(F.Linear(rows.Contiguous(), w).ToArray<double>(), F.Linear(rows, w).ToArray<double>(), 1e-15, 1e-15);
    }

    public static TheoryData<int[], int, DType, bool> LargeCases() => new()
    {
        { [3, 50, 70], 40, DType.F64, true },
        { [3, 50, 70], 40, DType.F32, true },
        { [60, 200], 150, DType.F64, false },
        { [7, 1, 9], 600, DType.F32, true },
    };

    [Theory]
    [MemberData(nameof(LargeCases))]
    public void ForwardAndBackwardMatchMatMulPlusBias(int[] shape, int outF, DType dtype, bool permuted)
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(outF);
        int inF = shape[^1];
        var xv = RandomF32Doubles(rng, Count(shape)); var wv = RandomF32Doubles(rng, outF * inF); var bv = RandomF32Doubles(rng, outF);
        int[] outShape = [.. shape[..^1], outF];
        var gv = RandomF32Doubles(rng, Count(outShape));

        double[][] Run(Func<Tensor, Tensor, Tensor, Tensor> f, DType dt)
        {
            var x = Strided(xv, shape, dt, permuted ? Kind.Permuted : Kind.Contiguous); x.RequiresGrad = true;
            var w = Strided(wv, [outF, inF], dt, Kind.Permuted); w.RequiresGrad = true;
            var b = Make(bv, [outF], dt); b.RequiresGrad = true;
            var y = f(x, w, b);
            y.Backward(Strided(gv, outShape, dt, Kind.Permuted));
            return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
        }

        var expected = Run((x, w, b) => NormComposite.Linear(x, w, b), DType.F64);
        var actual = Run((x, w, b) => F.Linear(x, w, b), dtype);
        string[] names = ["output", "input gradient", "weight gradient", "bias gradient"];
        for (int i = 0; i < expected.Length; i++)
        {
            double scale = Math.Max(1, expected[i].Max(Math.Abs));
            double tol = dtype == DType.F64 ? 1e-12 : 1e-5;
            Close(expected[i], actual[i], tol, tol * scale, names[i]);
        }
    }

    [Fact]
    public void LinearIsOneNodeAndDifferentiatesOnlyWhatIsNeeded()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([4, 3], DType.F64);
        var w = Tensor.Randn([5, 3], DType.F64); w.RequiresGrad = true;
        var b = Tensor.Randn([5], DType.F64);
        var y = F.Linear(x, w, b);
        Assert.Equal("linear", Assert.Single(Engine.Autograd.Tape.NodesOf(y)).Op);
        y.Sum().Backward();
        Assert.Null(x.Grad);
        Assert.Null(b.Grad);
        // d(sum y)/dW[o, k] = Σ_r x[r, k]
        var colSums = x.Sum(0).ToArray<double>();
        Close([.. Enumerable.Range(0, 5).SelectMany(_ => colSums)], w.Grad!.ToArray<double>(), 1e-14, 1e-14);
    }

    [Fact]
    public void LinearRejectsShapesThatDoNotMultiply()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([4, 3]);
        void Throws(Action act, params string[] fragments)
        {
            var e = Assert.ThrowsAny<ArgumentException>(act);
            foreach (var f in fragments) Assert.Contains(f, e.Message);
        }
        Throws(() => F.Linear(x, Tensor.Zeros([6, 5])), "linear", "mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)", "[4, 3]", "[6, 5]");
        Throws(() => F.Linear(x, Tensor.Zeros([3])), "linear", "[4, 3]", "[3]");
        Throws(() => F.Linear(Tensor.Zeros([]), Tensor.Zeros([2, 1])), "linear", "[]", "[2, 1]");
        Throws(() => F.Linear(x, Tensor.Zeros([6, 3]), Tensor.Zeros([7])), "linear", "bias of shape [7]", "[6, 3]");
        Throws(() => F.Linear(x, Tensor.Zeros([6, 3], DType.F64)), "linear", "weight", "float64", "float32");
    }

    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void LinearOnCudaMatchesCpu() =>
        NormGpuParityTests.Parity(t => F.Linear(t[0], t[1], t[2]), [3, 4, 5], [6, 5], [6]);
}

/// <summary>The linear layer gives the same bits for any thread count.</summary>
[Collection(Support.SerialCollection.Name)]
public class LinearDeterminismTests
{
    [Fact]
    public void SameBitsForAnyThreadCount()
    {
        double[][] Run(int threads)
        {
            int previous = Engine.Cpu.CpuParallel.ThreadCount;
            try
            {
                Engine.Cpu.CpuParallel.ThreadCount = threads;
                using var scope = Tensor.Scope();
                var gen = new Engine.Randomness.Generator(5);
                var x = Tensor.Randn([16, 20, 48], DType.F32, generator: gen); x.RequiresGrad = true;
                var w = Tensor.Randn([600, 48], DType.F32, generator: gen); w.RequiresGrad = true;
                var b = Tensor.Randn([600], DType.F32, generator: gen); b.RequiresGrad = true;
                var y = F.Linear(x, w, b);
                y.Backward(Tensor.Randn([16, 20, 600], DType.F32, generator: gen));
                return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
            }
            finally
            {
                Engine.Cpu.CpuParallel.ThreadCount = previous;
            }
        }
        var one = Run(1);
        foreach (var threads in new[] { 2, 3 })
        {
            var other = Run(threads);
            for (int i = 0; i < one.Length; i++) Bitwise(one[i], other[i], $"result {i}, 1 vs {threads} threads");
        }
    }
}
