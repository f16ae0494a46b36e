using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>conv2d against plain loops: forward and gradients over random shapes and hyper-parameters.</summary>
public class ConvTests
{
    private sealed record Operands(Tensor X, Tensor W, Tensor? B);

    private static Operands Make(ConvSpec s, DType dtype, ulong seed, bool permuted)
    {
        var x = Randn(s.InputShape, dtype, seed, permuted);
        var w = Randn(s.WeightShape, dtype, seed + 1, permuted);
        var b = s.Bias ? Randn([s.Cout], dtype, seed + 2) : null;
        return new(x, w, b);
    }

    private static void CheckForward(ConvSpec s, DType dtype, ulong seed, bool permuted)
    {
        using var scope = Tensor.Scope();
        var (x, w, b) = Make(s, dtype, seed, permuted);
        var y = s.Run(x, w, b);
        Assert.Equal(s.OutputShape, y.Shape);
        double[] xs = x.ToArray<double>(), ws = w.ToArray<double>(), bs = b?.ToArray<double>() ?? [];
        var expected = ConvReference.Forward(s, xs, ws, b is null ? null : bs);
        var scale = ConvReference.Forward(s, Abs(xs), Abs(ws), b is null ? null : Abs(bs));
        AssertClose(expected, y.ToArray<double>(), scale, Tolerance(dtype), $"{s} {dtype}");
    }

    private static void CheckBackward(ConvSpec s, DType dtype, ulong seed, bool permuted)
    {
        using var scope = Tensor.Scope();
        var (x, w, b) = Make(s, dtype, seed, permuted);
        x.RequiresGrad = true;
        w.RequiresGrad = true;
        if (b is not null) b.RequiresGrad = true;
        var y = s.Run(x, w, b);
        var gy = Randn(y.Shape, dtype, seed + 3);
        y.Backward(gy);
        double[] xs = x.ToArray<double>(), ws = w.ToArray<double>(), gys = gy.ToArray<double>();
        var (gx, gw, gb) = ConvReference.Backward(s, xs, ws, gys);
        var (sx, sw, sb) = ConvReference.Backward(s, Abs(xs), Abs(ws), Abs(gys));
        double tol = Tolerance(dtype);
        AssertClose(gx, x.Grad!.ToArray<double>(), sx, tol, $"{s} {dtype} input gradient");
        AssertClose(gw, w.Grad!.ToArray<double>(), sw, tol, $"{s} {dtype} weight gradient");
        if (b is not null) AssertClose(gb, b.Grad!.ToArray<double>(), sb, tol, $"{s} {dtype} bias gradient");
    }

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    public void ForwardMatchesReferenceLoopsForRandomShapesAndHyperParameters(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 11 : 12);
        for (int i = 0; i < 300; i++) CheckForward(ConvSpec.Random(rng), dtype, (ulong)i, permuted: i % 3 == 0);
    }

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    public void GradientsMatchReferenceLoopsForRandomShapesAndHyperParameters(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 21 : 22);
        for (int i = 0; i < 200; i++) CheckBackward(ConvSpec.Random(rng), dtype, (ulong)i, permuted: i % 3 == 1);
    }

    /// <summary>Every convolution the backbone specs use, at the sizes they use it.</summary>
    public static TheoryData<ConvSpec> BackboneConvs() => new()
    {
        new(2, true, 3, 32, 32, 16, 3, 3, 2, 2, 1, 1),                       // stem 3x3 s2 p1
        new(2, true, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, Bias: true),          // dense 3x3 s1 p1
        new(2, true, 3, 32, 32, 16, 7, 7, 2, 2, 3, 3),                       // 7x7 s2 p3 stem
        new(2, true, 16, 16, 16, 32, 1, 1, Bias: true),                      // pointwise
        new(3, true, 64, 2, 2, 80, 1, 1),                                    // pointwise on a tiny map
        new(2, true, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, Groups: 32),          // depthwise 3x3 s1
        new(2, true, 32, 15, 15, 32, 3, 3, 2, 2, 1, 1, Groups: 32),          // depthwise 3x3 s2, odd map
        new(2, true, 24, 14, 14, 24, 7, 7, 1, 1, 3, 3, Groups: 24, Bias: true), // depthwise 7x7
        new(2, true, 3, 32, 32, 32, 2, 2, 2, 2),                             // patchify 2x2 s2
        new(2, true, 3, 32, 32, 24, 4, 4, 4, 4, Bias: true),                 // patch embedding 4x4 s4
        new(2, true, 3, 30, 30, 16, 7, 7, 7, 7, Bias: true),                 // 7x7 s7, floor drops the remainder
        new(2, true, 3, 32, 32, 24, 7, 7, 4, 4, 3, 3, Bias: true),           // 7x7 s4 p3
        new(2, true, 16, 8, 8, 32, 3, 3, 2, 2, 1, 1, Bias: true),            // downsampling
        new(3, true, 64, 1, 1, 64, 3, 3, 2, 2, 1, 1),                        // downsampling to 1x1
    };

    [Theory]
    [MemberData(nameof(BackboneConvs))]
    public void BackboneConvolutionsMatchReferenceLoops(ConvSpec s)
    {
        CheckForward(s, DType.F32, 5, permuted: false);
        CheckBackward(s, DType.F64, 6, permuted: false);
    }

    [Fact]
    public void SmallKnownExample()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Arange(16, DType.F32).Reshape(1, 1, 4, 4);
        var w = Tensor.Ones([1, 1, 3, 3]);
        Assert.Equal([45f, 54f, 81f, 90f], Functional.Conv2d(x, w).ToArray<float>());
        // Padding 1, stride 2: windows centred on (0,0), (0,2), (2,0), (2,2).
        Assert.Equal([10f, 24f, 51f, 90f], Functional.Conv2d(x, w, stride: 2, padding: 1).ToArray<float>());
    }

    [Fact]
    public void SamePaddingWithAnOddTotalPadsTheBottomAndRightOneMore()
    {
        using var scope = Tensor.Scope();
        var x = Randn([2, 3, 6, 7], DType.F64, 1);
        var w = Randn([4, 3, 4, 2], DType.F64, 2);
        var same = Functional.Conv2d(x, w, padding: "same", dilation: (1, 2));
        Assert.Equal([2, 4, 6, 7], same.Shape);
        // Totals: rows 3 (top 1, bottom 2), columns 2 (1 and 1).
        var explicitPad = Functional.Conv2d(x.Pad([1, 1, 1, 2]), w, dilation: (1, 2));
        Assert.Equal(explicitPad.ToArray<double>(), same.ToArray<double>());
        Assert.Equal(Functional.Conv2d(x, w).ToArray<double>(), Functional.Conv2d(x, w, padding: Padding2d.Valid).ToArray<double>());
    }

    [Fact]
    public void UnbatchedInputEqualsABatchOfOne()
    {
        using var scope = Tensor.Scope();
        var x = Randn([3, 9, 8], DType.F64, 3);
        var w = Randn([6, 1, 3, 3], DType.F64, 4);
        var y = Functional.Conv2d(x, w, groups: 3, stride: (2, 1), padding: (1, 0));
        var batched = Functional.Conv2d(x.Unsqueeze(0), w, groups: 3, stride: (2, 1), padding: (1, 0));
        Assert.Equal([6, 5, 6], y.Shape);
        Assert.Equal(batched.ToArray<double>(), y.ToArray<double>());
    }

    [Fact]
    public void EmptyBatchGivesAnEmptyOutputAndZeroWeightGradients()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([0, 4, 5, 5], DType.F64).RequiresGradInPlace();
        var w = Randn([6, 2, 3, 3], DType.F64, 1).RequiresGradInPlace();
        var b = Randn([6], DType.F64, 2).RequiresGradInPlace();
        var y = Functional.Conv2d(x, w, b, groups: 2);
        Assert.Equal([0, 6, 3, 3], y.Shape);
        y.Sum().Backward();
        Assert.All(w.Grad!.ToArray<double>(), v => Assert.Equal(0.0, v));
        Assert.All(b.Grad!.ToArray<double>(), v => Assert.Equal(0.0, v));
        Assert.Equal([0, 4, 5, 5], x.Grad!.Shape);
    }

    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    public void OnlyTheInputsThatRequireGradGetOne(bool input, bool weight, bool bias)
    {
        foreach (var groups in new[] { 1, 4 })
        {
            using var scope = Tensor.Scope();
            var x = Randn([2, 4, 5, 5], DType.F64, 1).RequiresGradInPlace(input);
            var w = Randn([4, 4 / groups, 3, 3], DType.F64, 2).RequiresGradInPlace(weight);
            var b = Randn([4], DType.F64, 3).RequiresGradInPlace(bias);
            Functional.Conv2d(x, w, b, padding: 1, groups: groups).Sum().Backward();
            Assert.Equal(input, x.Grad is not null);
            Assert.Equal(weight, w.Grad is not null);
            Assert.Equal(bias, b.Grad is not null);
            if (bias) Assert.All(b.Grad!.ToArray<double>(), v => Assert.Equal(50.0, v, 12));
        }
    }

    [Fact]
    public void RecordsOneNodeNamedConv2d()
    {
        using var scope = Tensor.Scope();
        var x = Randn([1, 2, 4, 4], DType.F32, 1).RequiresGradInPlace();
        var w = Randn([3, 2, 3, 3], DType.F32, 2);
        var y = Functional.Conv2d(x, w, Tensor.Zeros([3]));
        Assert.Equal("conv2d", y.GradFn!.Op);
        Assert.Single(Engine.Autograd.Tape.NodesOf(y));
        using (Engine.Autograd.Tape.NoGrad()) Assert.Null(Functional.Conv2d(x, w).GradFn);
    }

    // ---- bad inputs: PyTorch's checks, with the op's name and the shapes in the message ----

    private static void Throws(Func<Tensor> f, params string[] parts)
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => f());
        Assert.Contains("conv2d", e.Message);
        foreach (var p in parts) Assert.Contains(p, e.Message);
    }

    private static Tensor Z(params int[] shape) => Tensor.Zeros(shape);

    [Fact]
    public void ChannelMismatchNamesBothShapes() =>
        Throws(() => Functional.Conv2d(Z(2, 4, 8, 8), Z(16, 3, 3, 3)), "[2, 4, 8, 8]", "[16, 3, 3, 3]", "3 channels", "4 channels");

    [Fact]
    public void GroupsMustDivideTheOutputChannels() =>
        Throws(() => Functional.Conv2d(Z(1, 4, 8, 8), Z(3, 2, 3, 3), groups: 2), "groups=2", "[3, 2, 3, 3]", "divisible by 2");

    [Fact]
    public void GroupsMustDivideTheInputChannels() =>
        Throws(() => Functional.Conv2d(Z(1, 5, 8, 8), Z(4, 2, 3, 3), groups: 2), "groups=2", "[1, 5, 8, 8]", "[4, 2, 3, 3]");

    [Fact]
    public void KernelLargerThanThePaddedInput() =>
        Throws(() => Functional.Conv2d(Z(1, 1, 2, 5), Z(1, 1, 3, 3), dilation: 1, padding: (0, 1)), "(2 x 7)", "(3 x 3)", "[1, 1, 2, 5]", "[1, 1, 3, 3]");

    [Fact]
    public void DilatedKernelLargerThanTheInput() =>
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Z(1, 1, 3, 3), dilation: 2), "(4 x 4)", "(5 x 5)");

    [Fact]
    public void NegativePadding() =>
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Z(1, 1, 3, 3), padding: (-1, 0)), "negative padding", "(-1, 0)", "[1, 1, 4, 4]");

    [Fact]
    public void SameWithStrideTwo() =>
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Z(1, 1, 3, 3), stride: 2, padding: "same"), "padding='same'", "strided", "(2, 2)");

    [Fact]
    public void UnknownPaddingString() =>
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Z(1, 1, 3, 3), padding: "full"), "'full'", "[1, 1, 4, 4]");

    [Fact]
    public void InputOfWrongRank()
    {
        Throws(() => Functional.Conv2d(Z(4, 4), Z(1, 1, 3, 3)), "3D (unbatched) or 4D (batched)", "[4, 4]");
        Throws(() => Functional.Conv2d(Z(1, 1, 1, 4, 4), Z(1, 1, 3, 3)), "[1, 1, 1, 4, 4]");
    }

    [Fact]
    public void WeightOfWrongRank() =>
        Throws(() => Functional.Conv2d(Z(1, 3, 4, 4), Z(8, 3, 3)), "[8, 3, 3]", "[1, 3, 4, 4]", "4-dimensional weight");

    [Fact]
    public void BiasOfWrongShape() =>
        Throws(() => Functional.Conv2d(Z(1, 3, 4, 4), Z(8, 3, 3, 3), Z(7)), "[7]", "[8, 3, 3, 3]", "8 elements");

    [Fact]
    public void NonPositiveStrideDilationOrGroups()
    {
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Z(1, 1, 3, 3), stride: (0, 1)), "stride", "(0, 1)");
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Z(1, 1, 3, 3), dilation: 0), "dilation", "(0, 0)");
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Z(1, 1, 3, 3), groups: 0), "groups=0");
    }

    [Fact]
    public void MixedDTypes() =>
        Throws(() => Functional.Conv2d(Z(1, 1, 4, 4), Tensor.Zeros([1, 1, 3, 3], DType.F64)), "torch.float32", "torch.float64", "[1, 1, 4, 4]", "[1, 1, 3, 3]");

    [Fact]
    public void IntegerInput() =>
        Throws(() => Functional.Conv2d(Tensor.Zeros([1, 1, 4, 4], DType.I64), Z(1, 1, 3, 3)), "torch.int64", "[1, 1, 4, 4]");

    // ---- GPU parity: the same numbers on Cuda(0) as on the CPU ----

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaMatchesCpu()
    {
        var specs = new ConvSpec[]
        {
            new(2, true, 8, 9, 10, 6, 3, 3, 2, 1, 1, 1, Bias: true),
            new(2, true, 8, 9, 10, 16, 3, 3, 1, 1, 1, 1, Groups: 8, Bias: true),
            new(3, true, 8, 5, 5, 4, 1, 1),
            new(2, true, 6, 12, 12, 6, 5, 5, 1, 1, Groups: 2, Mode: "same"),
        };
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            foreach (var s in specs)
            {
                using var scope = Tensor.Scope();
                var cpu = Make(s, dtype, 7, permuted: false);
                var gy = Randn(s.OutputShape, dtype, 9);
                var (yCpu, gCpu) = RunWithGrads(s, cpu, gy);
                // Fresh leaves: the CPU run made cpu's tensors require grad, and a move of one of those is not a leaf.
                var gpu = new Operands(cpu.X.Detach().ToDevice(Device.Cuda(0)), cpu.W.Detach().ToDevice(Device.Cuda(0)), cpu.B?.Detach().ToDevice(Device.Cuda(0)));
                var (yGpu, gGpu) = RunWithGrads(s, gpu, gy.ToDevice(Device.Cuda(0)));
                double tol = dtype == DType.F32 ? 1e-4 : 1e-10;
                AssertNear(yCpu, yGpu, tol, $"{s} {dtype} output");
                for (int k = 0; k < gCpu.Length; k++) AssertNear(gCpu[k], gGpu[k], tol, $"{s} {dtype} gradient {k}");
            }
    }

    private static (double[] Y, double[][] Grads) RunWithGrads(ConvSpec s, Operands o, Tensor gy)
    {
        var leaves = new[] { o.X, o.W, o.B }.OfType<Tensor>().Select(t => t.RequiresGradInPlace()).ToArray();
        var y = s.Run(o.X, o.W, o.B);
        y.Backward(gy);
        return (y.ToArray<double>(), leaves.Select(t => t.Grad!.ToArray<double>()).ToArray());
    }

    private static void AssertNear(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"{what}: element {i} is {actual[i]:R}, CPU gives {expected[i]:R}");
    }
}

/// <summary>The convolution gives the same bits for one and two threads (it changes the thread count, so it runs alone).</summary>
[Collection(SerialCollection.Name)]
public class ConvDeterminismTests
{
    private static double[][] ForwardBackward(int threads, ConvSpec s)
    {
        int previous = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            using var scope = Tensor.Scope();
            var x = Randn(s.InputShape, DType.F32, 1).RequiresGradInPlace();
            var w = Randn(s.WeightShape, DType.F32, 2).RequiresGradInPlace();
            var b = Randn([s.Cout], DType.F32, 3).RequiresGradInPlace();
            var y = s.Run(x, w, b);
            y.Backward(Randn(y.Shape, DType.F32, 4));
            return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
        }
        finally
        {
            CpuParallel.ThreadCount = previous;
        }
    }

    public static TheoryData<ConvSpec> Specs() => new()
    {
        new(4, true, 32, 24, 24, 32, 3, 3, 1, 1, 1, 1, Bias: true),              // one image per chunk
        new(16, true, 32, 6, 6, 48, 3, 3, 2, 2, 1, 1, Bias: true),               // several images per chunk
        new(8, true, 64, 12, 12, 64, 1, 1, Bias: true),                          // pointwise
        new(4, true, 64, 24, 24, 64, 3, 3, 2, 2, 1, 1, Groups: 64, Bias: true),  // depthwise
        new(4, true, 64, 17, 21, 64, 3, 3, 1, 1, 1, 1, Groups: 64, Bias: true),  // depthwise, stride 1 (the row kernel)
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void OneAndTwoThreadsGiveTheSameBits(ConvSpec s)
    {
        var one = ForwardBackward(1, s);
        var two = ForwardBackward(2, s);
        string[] names = ["output", "input gradient", "weight gradient", "bias gradient"];
        for (int k = 0; k < one.Length; k++) Bitwise(one[k], two[k], $"{s}: {names[k]}");
    }
}
