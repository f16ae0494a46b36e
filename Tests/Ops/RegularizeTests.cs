using Engine.Cpu;
using Engine.Ops;
using Engine.Randomness;
using Engine.Tests.Core;
using Engine.Tests.Support;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>Dropout and drop-path: masks from the counter-based generator, scaling, identities, errors.</summary>
public class RegularizeTests
{
    /// <summary>A transposed input takes the three-pass form (rand, mask, multiply); a contiguous one the CPU's fused pass.</summary>
    [Theory]
    [InlineData(DType.F32, 0.3, true)]
    [InlineData(DType.F64, 0.5, true)]
    [InlineData(DType.F32, 0.9, true)]
    [InlineData(DType.F32, 0.3, false)]
    [InlineData(DType.F64, 0.5, false)]
    public void DropoutMaskIsRandOfTheSameSeedBelowKeep(DType dtype, double p, bool transposed)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([40, 50], dtype, generator: new Generator(1)).Add(5);
        var input = transposed ? x.T : x.T.Contiguous();
        var y = F.Dropout(input, p, generator: new Generator(42));
        var u = ActivationTests.ToDoubles(Tensor.Rand([50, 40], dtype, generator: new Generator(42)));
        var xs = ActivationTests.ToDoubles(x.T.Contiguous());
        var ys = ActivationTests.ToDoubles(y);
        double keep = dtype == DType.F32 ? (float)(1 - p) : 1 - p, scale = dtype == DType.F32 ? (float)(1 / (1 - p)) : 1 / (1 - p);
        int dropped = 0;
        for (int i = 0; i < ys.Length; i++)
        {
            double expected = u[i] < keep ? (dtype == DType.F32 ? (float)xs[i] * (float)scale : xs[i] * scale) : 0;
            Assert.Equal(expected, ys[i]);
            if (ys[i] == 0) dropped++;
        }
        Assert.InRange(dropped / 2000.0, p - 0.05, p + 0.05);
    }

    [Fact]
    public void DropoutIdentitiesAndZeros()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([3, 4]);
        Assert.Same(x, F.Dropout(x, 0.5, training: false));
        Assert.Same(x, F.Dropout(x, 0.0));
        Assert.All(F.Dropout(x, 1.0).ToArray<float>(), v => Assert.Equal(0f, v));
        var empty = Tensor.Zeros([0, 3]);
        Assert.Same(empty, F.Dropout(empty));
    }

    [Fact]
    public void DropoutBackwardMultipliesByTheSavedMask()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([6, 7], DType.F64).RequiresGradInPlace();
        var y = F.Dropout(x, 0.4, generator: new Generator(3));
        Assert.Equal("dropout", y.GradFn!.Op);
        var g = Tensor.Randn([6, 7], DType.F64);
        y.Backward(g);
        var mask = Tensor.Rand([6, 7], DType.F64, generator: new Generator(3)).ToArray<double>().Select(u => u < 0.6 ? 1 / 0.6 : 0).ToArray();
        Reference.Bitwise(g.ToArray<double>().Select((v, i) => v * mask[i]).ToArray(), x.Grad!.ToArray<double>());
    }

    /// <summary>
    /// The CPU's fused pass against rand, mask and multiply done separately, bit for bit: lengths that end inside a
    /// vector and cross the 1024-element steps, special values (x * 0 of an infinity or a NaN is NaN, as the multiply
    /// gives), a generator already advanced, the output with and without a recorded backward, and the gradient.
    /// </summary>
    [Theory]
    [InlineData(DType.F32, 3 * 1024 + 37)]
    [InlineData(DType.F64, 2 * 1024 + 5)]
    [InlineData(DType.F32, 13)]
    public void FusedDropoutIsRandMaskAndMultiply(DType dtype, int n)
    {
        using var scope = Tensor.Scope();
        var values = ActivationTests.ToDoubles(Tensor.Randn([n], DType.F64, generator: new Generator(4)));
        values[0] = double.NaN; values[1] = double.PositiveInfinity; values[2] = double.NegativeInfinity; values[3] = -0.0;
        var x = Reference.Make(values, [n], dtype);
        var gen = new Generator(8);
        Tensor.Rand([7], dtype, generator: gen); // the mask starts at a later block
        ulong start = gen.Offset;
        var plain = F.Dropout(x, 0.3, generator: gen);
        var leaf = x.Detach().RequiresGradInPlace();
        gen.Offset = start;
        var recorded = F.Dropout(leaf, 0.3, generator: gen);
        var g = Tensor.Randn([n], dtype, generator: new Generator(5));
        recorded.Backward(g);

        var reference = new Generator(8);
        Tensor.Rand([7], dtype, generator: reference);
        var u = Tensor.Rand([n], dtype, generator: reference);
        Assert.Equal(reference.Offset, gen.Offset);
        double keep = dtype == DType.F32 ? (float)0.7 : 0.7, scale = dtype == DType.F32 ? (float)(1 / 0.7) : 1 / 0.7;
        var mask = Reference.Make(ActivationTests.ToDoubles(u).Select(v => v < keep ? scale : 0).ToArray(), [n], dtype);
        var expected = ActivationTests.ToDoubles(x.Mul(mask));
        VectorWidthTests.SameBits(expected, ActivationTests.ToDoubles(plain), "dropout without a tape");
        VectorWidthTests.SameBits(expected, ActivationTests.ToDoubles(recorded), "dropout with a tape");
        VectorWidthTests.SameBits(ActivationTests.ToDoubles(g.Mul(mask)), ActivationTests.ToDoubles(leaf.Grad!), "dropout gradient");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DropPathDropsWholeSamples(bool scaleByKeep)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([64, 3, 2, 2], DType.F64, generator: new Generator(2)).Add(10);
        var y = F.DropPath(x, 0.25, training: true, scaleByKeep: scaleByKeep, generator: new Generator(7));
        var u = Tensor.Rand([64, 1, 1, 1], DType.F64, generator: new Generator(7)).ToArray<double>();
        var xs = x.ToArray<double>();
        var ys = y.ToArray<double>();
        for (int i = 0; i < ys.Length; i++)
            Assert.Equal(u[i / 12] < 0.75 ? xs[i] * (scaleByKeep ? 1 / 0.75 : 1) : 0, ys[i]);
        Assert.Same(x, F.DropPath(x, 0.25, training: false));
        Assert.Same(x, F.DropPath(x, 0.0, training: true));
        Assert.All(F.DropPath(x, 1.0, training: true).ToArray<double>(), v => Assert.Equal(0, v));
    }

    [Fact]
    public void SameSeedSameMaskAndTheGeneratorAdvances()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Ones([1000]);
        var a = F.Dropout(x, 0.5, generator: new Generator(11)).ToArray<float>();
        var b = F.Dropout(x, 0.5, generator: new Generator(11)).ToArray<float>();
        Assert.Equal(a, b);
        var g = new Generator(11);
        F.Dropout(x, 0.5, generator: g);
        Assert.NotEqual(a, F.Dropout(x, 0.5, generator: g).ToArray<float>());
    }

    [Fact]
    public void BadProbabilitiesNameTheOpAndTheShape()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 5]);
        foreach (var p in new[] { -0.1, 1.5, double.NaN })
        {
            var e = Assert.Throws<ArgumentException>(() => F.Dropout(x, p));
            Assert.Contains("dropout: dropout probability has to be between 0 and 1", e.Message);
            Assert.Contains("[2, 5]", e.Message);
            e = Assert.Throws<ArgumentException>(() => F.DropPath(x, p, training: true));
            Assert.Contains("drop_path", e.Message);
        }
        var r = Assert.Throws<ArgumentException>(() => F.DropPath(Tensor.Scalar(1), 0.5, training: true));
        Assert.Contains("drop_path", r.Message);
        Assert.Contains("[]", r.Message);
        r = Assert.Throws<ArgumentException>(() => F.Dropout(Tensor.Zeros([3], DType.I64)));
        Assert.Contains("torch.int64", r.Message);
    }

    /// <summary>
    /// The same generator gives the same masks on both devices, bit for bit: dropout and drop-path outputs and their
    /// gradients (the upstream gradient times the saved mask) are equal bits on the CPU and on CUDA, for contiguous and
    /// transposed inputs, and the generator advances the same way on both.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaMasksAreTheCpuMasks()
    {
        Tensor[] Input(DType dtype) => [Tensor.Randn([33, 65], dtype, generator: new Generator(1))];
        foreach (var p in new[] { 0.1, 0.3, 0.9 })
        {
            DeviceParityCases.Check($"dropout {p}", Input, x => F.Dropout(x[0], p, generator: new Generator(5)), bitwise: true);
            DeviceParityCases.Check($"dropout {p} transposed", Input, x => F.Dropout(x[0].T, p, generator: new Generator(5)), bitwise: true);
            DeviceParityCases.Check($"drop_path {p}", Input, x => F.DropPath(x[0], p, training: true, generator: new Generator(6)), bitwise: true);
            DeviceParityCases.Check($"drop_path {p} unscaled", Input,
                x => F.DropPath(x[0], p, training: true, scaleByKeep: false, generator: new Generator(6)), bitwise: true);
        }
        // One generator drawing twice: the second mask comes from the advanced stream on both devices.
        DeviceParityCases.Check("dropout twice", Input, x =>
        {
            var generator = new Generator(7);
            return F.Dropout(F.Dropout(x[0], 0.2, generator: generator), 0.4, generator: generator);
        }, bitwise: true);
    }

    /// <summary>More elements than one grid of threads covers (<see cref="FamilyLaunch.MaxBlocks"/> blocks of 256), so each thread of the mask kernel loops.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaMaskLoopsOverElementsBeyondOneGrid()
    {
        using var scope = Tensor.Scope();
        const int n = 1_100_000;
        Assert.True(n > FamilyLaunch.MaxBlocks * FamilyLaunch.Block);
        using var ones = Tensor.Ones([n], DType.F32, Device.Cpu);
        var cpu = F.Dropout(ones, 0.5, generator: new Generator(9)).ToArray<float>();
        var cuda = F.Dropout(ones.ToDevice(Device.Cuda(0)), 0.5, generator: new Generator(9)).ToArray<float>();
        Assert.Equal(cpu, cuda);
        Assert.InRange(cpu.Count(v => v == 0) / (double)n, 0.498, 0.502);
    }
}

/// <summary>Changes the process-wide thread count, so it runs alone.</summary>
[Collection(SerialCollection.Name)]
public class RegularizeThreadCountTests
{
    [Fact]
    public void MasksDoNotDependOnTheThreadCount()
    {
        int before = CpuParallel.ThreadCount;
        try
        {
            using var scope = Tensor.Scope();
            var x = Tensor.Ones([300_000]);
            CpuParallel.ThreadCount = 1;
            var one = F.Dropout(x, 0.5, generator: new Generator(9)).ToArray<float>();
            CpuParallel.ThreadCount = 2;
            var two = F.Dropout(x, 0.5, generator: new Generator(9)).ToArray<float>();
            Assert.Equal(one, two);
        }
        finally { CpuParallel.ThreadCount = before; }
    }
}
