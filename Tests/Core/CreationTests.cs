using Xunit;

namespace Engine.Tests.Core;

public class CreationTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    [InlineData(DType.Bool)]
    public void ZerosOnesFullHaveShapeDTypeAndValues(DType dtype)
    {
        using var scope = Tensor.Scope();
        int[] shape = [2, 3, 4];
        var z = Tensor.Zeros(shape, dtype);
        var o = Tensor.Ones(shape, dtype);
        var f = Tensor.Full(shape, 7, dtype);
        foreach (var t in new[] { z, o, f })
        {
            Assert.Equal(shape, t.Shape);
            Assert.Equal(dtype, t.DType);
            Assert.Equal(Device.Cpu, t.Device);
            Assert.Equal(24, t.NumEl);
            Assert.True(t.IsContiguous);
            Assert.Equal(new long[] { 12, 4, 1 }, t.Strides);
        }
        Assert.All(z.ToArray<double>(), v => Assert.Equal(0.0, v));
        Assert.All(o.ToArray<double>(), v => Assert.Equal(1.0, v));
        // Bool stores "non-zero" as true.
        Assert.All(f.ToArray<double>(), v => Assert.Equal(dtype == DType.Bool ? 1.0 : 7.0, v));
    }

    [Fact]
    public void FullKeepsTheExactValuePerDType()
    {
        using var scope = Tensor.Scope();
        Assert.Equal(0.1, Tensor.Full([3], 0.1, DType.F64).ToArray<double>()[2]);
        Assert.Equal(0.1f, Tensor.Full([3], 0.1, DType.F32).ToArray<float>()[1]);
        Assert.Equal(-3L, Tensor.Full([2], -3, DType.I64).ToArray<long>()[0]);
        Assert.Equal(new[] { false, false }, Tensor.Full([2], 0, DType.Bool).ToArray<bool>());
    }

    [Fact]
    public void ScalarIsRankZeroWithOneElement()
    {
        using var scope = Tensor.Scope();
        var s = Tensor.Scalar(2.5, DType.F64);
        Assert.Equal(0, s.Rank);
        Assert.Empty(s.Shape);
        Assert.Equal(1, s.NumEl);
        Assert.Equal(2.5, s.Item());
        Assert.Equal(2.5, s.Item<double>());
        Assert.Equal(2.5f, s.Item<float>());
        Assert.Equal(new[] { 2.5 }, s.ToArray<double>());
        var i = Tensor.Scalar(-4, DType.I64);
        Assert.Equal(-4.0, i.Item());
        Assert.Equal(-4L, i.Item<long>());
        Assert.Equal(1.0, Tensor.Scalar(1, DType.Bool).Item());
    }

    [Fact]
    public void ItemRejectsTensorsWithMoreOrFewerThanOneElement()
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([2, 2]).Item());
        Assert.Contains("item", e.Message);
        Assert.Contains("[2, 2]", e.Message);
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([0]).Item<float>());
    }

    [Fact]
    public void ArangeIntegerSteps()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.Arange(5, DType.I64);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, a.ToArray<long>());
        Assert.Equal(DType.I64, a.DType);
        var b = Tensor.Arange(-2, 3, 2, DType.F64);
        Assert.Equal(new double[] { -2, 0, 2 }, b.ToArray<double>());
        Assert.Equal(new[] { 3 }, b.Shape);
    }

    [Fact]
    public void ArangeFloatStepsMatchStartPlusIStep()
    {
        using var scope = Tensor.Scope();
        // Size is ceil((end - start) / step); element i is start + i * step, computed in double.
        (double Start, double End, double Step)[] cases = [(0, 1, 0.1), (1, 2, 0.3), (-1, 1, 0.25), (0.5, 3.7, 0.7)];
        foreach (var (start, end, step) in cases)
        {
            var t = Tensor.Arange(start, end, step, DType.F64);
            int n = (int)Math.Ceiling((end - start) / step);
            var expected = Enumerable.Range(0, n).Select(i => start + i * step).ToArray();
            Assert.Equal(expected, t.ToArray<double>());
            Assert.All(t.ToArray<double>(), v => Assert.True(v < end));
        }
        Assert.Equal(4, Tensor.Arange(1, 2, 0.3, DType.F64).NumEl); // 1, 1.3, 1.6, 1.9
        Assert.Equal(new[] { 0.5f, 0.75f }, Tensor.Arange(0.5, 1, 0.25, DType.F32).ToArray<float>());
    }

    [Fact]
    public void ArangeNegativeStepCountsDown()
    {
        using var scope = Tensor.Scope();
        Assert.Equal(new double[] { 5, 3.5, 2, 0.5 }, Tensor.Arange(5, 0, -1.5, DType.F64).ToArray<double>());
        Assert.Equal(new long[] { 3, 2, 1, 0, -1 }, Tensor.Arange(3, -2, -1, DType.I64).ToArray<long>());
    }

    [Fact]
    public void ArangeEmptyAndErrors()
    {
        using var scope = Tensor.Scope();
        Assert.Equal(new[] { 0 }, Tensor.Arange(2, 2, 1).Shape);
        var e = Assert.Throws<ArgumentException>(() => Tensor.Arange(0, 5, -1));
        Assert.Contains("arange", e.Message);
        Assert.Contains("inconsistent signs", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Arange(5, 0, 1));
        var z = Assert.Throws<ArgumentException>(() => Tensor.Arange(0, 5, 0));
        Assert.Contains("step must be nonzero", z.Message);
    }

    [Fact]
    public void LinspaceEndpointsAreExactAndInteriorIsEven()
    {
        using var scope = Tensor.Scope();
        (double Start, double End, int Steps)[] cases = [(0, 1, 5), (-1.3, 2.7, 7), (0.1, 0.7, 10), (10, -3, 4), (1e-3, 3.3, 101)];
        foreach (var (start, end, steps) in cases)
        {
            var v = Tensor.Linspace(start, end, steps, DType.F64).ToArray<double>();
            Assert.Equal(steps, v.Length);
            Assert.Equal(start, v[0]);
            Assert.Equal(end, v[^1]);
            double step = (end - start) / (steps - 1);
            for (int i = 0; i < steps; i++)
                Assert.True(Math.Abs(v[i] - (start + i * step)) <= 1e-14 * Math.Max(1, Math.Abs(end) + Math.Abs(start)), $"element {i}: {v[i]:R}");
            for (int i = 1; i < steps; i++)
                Assert.True(end > start ? v[i] > v[i - 1] : v[i] < v[i - 1]);
        }
        Assert.Equal(new[] { 0f, 0.25f, 0.5f, 0.75f, 1f }, Tensor.Linspace(0, 1, 5).ToArray<float>());
    }

    [Fact]
    public void LinspaceWithOneStepIsStartAndZeroStepsIsEmpty()
    {
        using var scope = Tensor.Scope();
        // torch.linspace(3, 10, 1) == tensor([3.])
        Assert.Equal(new double[] { 3 }, Tensor.Linspace(3, 10, 1, DType.F64).ToArray<double>());
        var empty = Tensor.Linspace(3, 10, 0, DType.F64);
        Assert.Equal(new[] { 0 }, empty.Shape);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Linspace(0, 1, -1));
    }

    [Fact]
    public void FromArraySpansCopyAndShape()
    {
        using var scope = Tensor.Scope();
        var data = new double[] { 1, 2, 3, 4, 5, 6 };
        var t = Tensor.FromArray(data, [2, 3]);
        data[0] = 100; // the tensor owns a copy
        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 6 }, t.ToArray<double>());
        Assert.Equal(new[] { 2, 3 }, t.Shape);
        Assert.Equal(DType.F64, t.DType);

        var f = Tensor.FromArray(new float[] { 1.5f, -2f });
        Assert.Equal(DType.F32, f.DType);
        Assert.Equal(new[] { 2 }, f.Shape);
        Assert.Equal(new[] { 1.5f, -2f }, f.ToArray<float>());

        var l = Tensor.FromArray(new long[] { long.MaxValue, long.MinValue, 0 });
        Assert.Equal(DType.I64, l.DType);
        Assert.Equal(new[] { long.MaxValue, long.MinValue, 0 }, l.ToArray<long>());

        var b = Tensor.FromArray(new[] { true, false, true }, [3, 1]);
        Assert.Equal(DType.Bool, b.DType);
        Assert.Equal(new[] { true, false, true }, b.ToArray<bool>());
        Assert.Equal(new[] { 3, 1 }, b.Shape);
    }

    [Fact]
    public void FromMultiDimensionalArraysKeepsRowMajorOrder()
    {
        using var scope = Tensor.Scope();
        var m = new float[,] { { 1, 2, 3 }, { 4, 5, 6 } };
        var t = Tensor.FromArray(m);
        Assert.Equal(new[] { 2, 3 }, t.Shape);
        Assert.Equal(DType.F32, t.DType);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, t.ToArray<float>());

        var c = new double[2, 3, 2];
        var expected = new List<double>();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 2; k++)
                {
                    c[i, j, k] = 100 * i + 10 * j + k;
                    expected.Add(c[i, j, k]);
                }
        var tc = Tensor.FromArray(c);
        Assert.Equal(new[] { 2, 3, 2 }, tc.Shape);
        Assert.Equal(expected, tc.ToArray<double>());

        var li = Tensor.FromArray(new long[,] { { 7, 8 }, { 9, 10 } });
        Assert.Equal(DType.I64, li.DType);
        Assert.Equal(new long[] { 7, 8, 9, 10 }, li.ToArray<long>());

        var bb = Tensor.FromArray(new bool[,] { { true }, { false } });
        Assert.Equal(new[] { 2, 1 }, bb.Shape);
        Assert.Equal(new[] { true, false }, bb.ToArray<bool>());

        var one = Tensor.FromArray((Array)new double[] { 4, 5 });
        Assert.Equal(new[] { 2 }, one.Shape);

        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new int[,] { { 1 } }));
        Assert.Contains("from_array", e.Message);
    }

    [Fact]
    public void FromArrayRejectsALengthThatDoesNotFillTheShape()
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new double[] { 1, 2, 3, 4, 5 }, [2, 3]));
        Assert.Contains("from_array", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("5", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new float[] { 1 }, [2]));
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new long[] { 1, 2 }, []));
    }

    [Fact]
    public void NegativeSizesAreRejected()
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, -1]));
        Assert.Contains("zeros", e.Message);
        Assert.Contains("[2, -1]", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Full([-3], 1));
        Assert.Throws<ArgumentException>(() => Tensor.Empty([-1]));
    }

    [Fact]
    public void ZeroSizeDimensions()
    {
        using var scope = Tensor.Scope();
        var t = Tensor.Zeros([2, 0, 3], DType.F64);
        Assert.Equal(3, t.Rank);
        Assert.Equal(0, t.NumEl);
        Assert.Empty(t.ToArray<double>());
        Assert.True(t.IsContiguous);
        var o = Tensor.Ones([0], DType.I64);
        Assert.Empty(o.ToArray<long>());
        var f = Tensor.FromArray(Array.Empty<float>(), [0, 4]);
        Assert.Equal(new[] { 0, 4 }, f.Shape);
        var r = Tensor.Rand([3, 0]);
        Assert.Equal(0, r.NumEl);
    }

    [Fact]
    public void RankZeroFromArray()
    {
        using var scope = Tensor.Scope();
        var t = Tensor.FromArray(new double[] { 42 }, []);
        Assert.Equal(0, t.Rank);
        Assert.Equal(42.0, t.Item());
        Assert.True(t.IsContiguous);
        Assert.Empty(t.Strides);
    }

    [Fact]
    public void LikeConstructorsCopyShapeDTypeAndDevice()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Full([2, 5], 3, DType.F64);
        var z = Tensor.ZerosLike(x);
        var o = Tensor.OnesLike(x);
        Assert.Equal(x.Shape, z.Shape);
        Assert.Equal(DType.F64, z.DType);
        Assert.Equal(x.Shape, o.Shape);
        Assert.Equal(DType.F64, o.DType);
        Assert.All(o.ToArray<double>(), v => Assert.Equal(1.0, v));
        // The "like" tensors are new storage, not views.
        Assert.False(ReferenceEquals(x.Storage, z.Storage));
    }

    [Fact]
    public void ToDTypeFloatRoundTrips()
    {
        using var scope = Tensor.Scope();
        var rng = new System.Random(11);
        var f32Values = Reference.RandomF32Doubles(rng, 64, -1e6, 1e6);
        var a = Reference.Make(f32Values, [8, 8], DType.F32);
        var back = a.ToDType(DType.F64).ToDType(DType.F32);
        Assert.Equal(DType.F32, back.DType);
        Assert.Equal(a.ToArray<float>(), back.ToArray<float>());

        // F64 -> F32 rounds to nearest, as a (float) cast does.
        var d = Reference.RandomDoubles(rng, 50);
        var narrowed = Tensor.FromArray(d).ToDType(DType.F32).ToArray<float>();
        Assert.Equal(d.Select(v => (float)v).ToArray(), narrowed);
        Assert.Same(a, a.ToDType(DType.F32));
    }

    [Fact]
    public void ToDTypeIntegersTruncateTowardZero()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 2.7, -2.7, 0.5, -0.5, 3, -1e12 });
        Assert.Equal(new long[] { 2, -2, 0, 0, 3, -1_000_000_000_000 }, x.ToDType(DType.I64).ToArray<long>());
        var big = Tensor.FromArray(new long[] { 1L << 52, -(1L << 40) + 3, 7 });
        Assert.Equal(new double[] { 1L << 52, -(1L << 40) + 3, 7 }, big.ToDType(DType.F64).ToArray<double>());
        Assert.Equal(new long[] { 1L << 52, -(1L << 40) + 3, 7 }, big.ToDType(DType.F64).ToDType(DType.I64).ToArray<long>());
        Assert.Equal(new float[] { 7 }, Tensor.FromArray(new long[] { 7 }).ToDType(DType.F32).ToArray<float>());
    }

    [Fact]
    public void ToDTypeBoolIsNonZero()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 0, -0.0, 0.25, -3, double.NaN, double.PositiveInfinity });
        // torch.tensor([0., -0., .25, -3., nan, inf]).bool() -> [False, False, True, True, True, True]
        Assert.Equal(new[] { false, false, true, true, true, true }, x.ToDType(DType.Bool).ToArray<bool>());
        var b = Tensor.FromArray(new[] { true, false, true });
        Assert.Equal(new float[] { 1, 0, 1 }, b.ToDType(DType.F32).ToArray<float>());
        Assert.Equal(new long[] { 1, 0, 1 }, b.ToDType(DType.I64).ToArray<long>());
        Assert.Equal(new[] { true, false, true }, b.ToDType(DType.F64).ToDType(DType.Bool).ToArray<bool>());
        var i = Tensor.FromArray(new long[] { 0, 5, -1 });
        Assert.Equal(new[] { false, true, true }, i.ToDType(DType.Bool).ToArray<bool>());
        Assert.Equal(new long[] { 0, 1, 1 }, i.ToDType(DType.Bool).ToDType(DType.I64).ToArray<long>());
    }

    [Fact]
    public void ToDTypeReadsNonContiguousInputs()
    {
        using var scope = Tensor.Scope();
        var values = Enumerable.Range(0, 12).Select(v => v * 1.5 - 4).ToArray();
        foreach (var kind in Reference.AllKinds)
        {
            var t = Reference.Strided(values, [3, 4], DType.F64, kind);
            Assert.Equal(values.Select(v => (float)v).ToArray(), t.ToDType(DType.F32).ToArray<float>());
            Assert.Equal(values.Select(v => (long)v).ToArray(), t.ToDType(DType.I64).ToArray<long>());
            Assert.True(t.ToDType(DType.F32).IsContiguous);
        }
    }

    [Fact]
    public void ToArrayConvertsBetweenElementTypes()
    {
        using var scope = Tensor.Scope();
        var t = Tensor.FromArray(new float[] { 1.5f, -2.25f });
        Assert.Equal(new double[] { 1.5, -2.25 }, t.ToArray<double>());
        Assert.Equal(new long[] { 1, -2 }, t.ToArray<long>());
        Assert.Equal(new[] { true, true }, t.ToArray<bool>());
        Assert.Throws<NotSupportedException>(() => t.ToArray<int>());
    }

    [Fact]
    public void ToDeviceOnTheSameDeviceIsIdentityAndAbsentDevicesAreRefused()
    {
        using var scope = Tensor.Scope();
        var t = Tensor.Zeros([2]);
        Assert.Same(t, t.ToDevice(Device.Cpu));
        // Without CUDA the device is not supported at all; with it (a GPU or the emulator), cuda:7 does not exist.
        var e = Assert.ThrowsAny<Exception>(() => t.ToDevice(Device.Cuda(7)));
        Assert.True(e is NotSupportedException or ArgumentException, e.GetType().Name);
        Assert.Contains("cuda:7", e.Message);
        Assert.ThrowsAny<Exception>(() => Tensor.Zeros([2], device: Device.Cuda(7)));
    }

    [Fact]
    public void DevicesParseAndPrint()
    {
        Assert.Equal(Device.Cpu, Device.Parse("cpu"));
        Assert.Equal(Device.Cuda(0), Device.Parse("CUDA"));
        Assert.Equal(Device.Cuda(3), Device.Parse(" cuda:3 "));
        Assert.Equal("cuda:3", Device.Cuda(3).ToString());
        Assert.Equal("cpu", Device.Cpu.ToString());
        Assert.Throws<ArgumentException>(() => Device.Parse("cuda:-1"));
        Assert.Throws<ArgumentException>(() => Device.Parse("tpu"));
    }
}

[Collection(Reference.GlobalState)]
public class DefaultDTypeTests
{
    [Fact]
    public void DefaultDTypeIsF32AndGovernsFloatCreation()
    {
        using var scope = Tensor.Scope();
        Assert.Equal(DType.F32, Tensor.DefaultDType);
        Assert.Equal(DType.F32, Tensor.Zeros([1]).DType);
        var previous = Tensor.DefaultDType;
        try
        {
            Tensor.DefaultDType = DType.F64;
            Assert.Equal(DType.F64, Tensor.Zeros([2]).DType);
            Assert.Equal(DType.F64, Tensor.Ones([2]).DType);
            Assert.Equal(DType.F64, Tensor.Full([2], 3).DType);
            Assert.Equal(DType.F64, Tensor.Scalar(1).DType);
            Assert.Equal(DType.F64, Tensor.Arange(3).DType);
            Assert.Equal(DType.F64, Tensor.Linspace(0, 1, 3).DType);
            Assert.Equal(DType.F64, Tensor.Rand([2]).DType);
            Assert.Equal(DType.F64, Tensor.Randn([2]).DType);
            Assert.Equal(DType.I64, Tensor.RandInt(0, 3, [2]).DType);
            // Explicit dtypes and typed arrays are unaffected.
            Assert.Equal(DType.F32, Tensor.Zeros([2], DType.F32).DType);
            Assert.Equal(DType.F32, Tensor.FromArray(new float[] { 1 }).DType);
        }
        finally
        {
            Tensor.DefaultDType = previous;
        }
    }
}

[CollectionDefinition(Reference.GlobalState, DisableParallelization = true)]
public class GlobalStateCollection;
