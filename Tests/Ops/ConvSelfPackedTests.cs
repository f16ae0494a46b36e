using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>
/// The self-packed conv2d paths (column matrix packed straight from the input, batch as one product, input
/// gradient of stride-1 convolutions as a convolution) against the stored column-matrix path they replace.
/// </summary>
public class ConvSelfPackedTests
{
    /// <summary>Output and the three gradients, through the column-matrix path or the self-packed one.</summary>
    private static double[][] Run(ConvSpec s, DType dtype, ulong seed, bool columnMatrix)
    {
        var previous = ConvGemm.Path;
        try
        {
            ConvGemm.Path = columnMatrix ? ConvGemm.PathChoice.ColumnMatrix : ConvGemm.PathChoice.SelfPacked;
            using var scope = Tensor.Scope();
            var x = Randn(s.InputShape, dtype, seed).RequiresGradInPlace();
            var w = Randn(s.WeightShape, dtype, seed + 1).RequiresGradInPlace();
            var b = Randn([s.Cout], dtype, seed + 2).RequiresGradInPlace();
            var y = s.Run(x, w, b);
            y.Backward(Randn(y.Shape, dtype, seed + 3));
            return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
        }
        finally
        {
            ConvGemm.Path = previous;
        }
    }

    private static readonly string[] Names = ["output", "input gradient", "weight gradient", "bias gradient"];

    [Fact]
    public void MatchesTheColumnMatrixPathInF64ForRandomShapes()
    {
        var rng = new System.Random(31);
        for (int i = 0; i < 150; i++)
        {
            var s = ConvSpec.Random(rng);
            if (s.Groups == s.Cin && s.Groups > 1) continue; // depthwise: its own kernel, neither path
            var reference = Run(s, DType.F64, (ulong)i, columnMatrix: true);
            var packed = Run(s, DType.F64, (ulong)i, columnMatrix: false);
            for (int k = 0; k < Names.Length; k++)
                for (int e = 0; e < reference[k].Length; e++)
                    Assert.True(Math.Abs(reference[k][e] - packed[k][e]) <= 1e-12 * (1 + Math.Abs(reference[k][e])),
                        $"{s}: {Names[k]} element {e} is {packed[k][e]:R}, the column-matrix path gives {reference[k][e]:R}");
        }
    }

    public static TheoryData<ConvSpec> Shapes() => new()
    {
        new(3, true, 16, 9, 11, 20, 3, 3, 1, 1, 1, 1),                       // stride 1: input gradient as a convolution
        new(2, true, 12, 10, 7, 8, 3, 2, 1, 1, 2, 0, DH: 2, DW: 1, Groups: 2), // dilation, uneven kernel, groups
        new(5, true, 8, 7, 7, 24, 1, 1),                                     // pointwise, planes across panels
        new(2, true, 6, 13, 13, 10, 3, 3, 2, 2, 1, 1),                       // stride 2: column-matrix input gradient
        new(1, false, 4, 1, 1, 3, 1, 1),                                     // a single pixel
        new(3, true, 5, 6, 6, 7, 3, 3, Mode: "same"),                        // odd padding split
        new(2, true, 4, 5, 5, 6, 1, 1, PadH: 1, PadW: 1),                    // padding beyond the kernel's reach
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheColumnMatrixPathInF32(ConvSpec s)
    {
        var reference = Run(s, DType.F32, 7, columnMatrix: true);
        var packed = Run(s, DType.F32, 7, columnMatrix: false);
        for (int k = 0; k < Names.Length; k++)
            for (int e = 0; e < reference[k].Length; e++)
                Assert.True(Math.Abs(reference[k][e] - packed[k][e]) <= 2e-5 * (1 + Math.Abs(reference[k][e])),
                    $"{s}: {Names[k]} element {e} is {packed[k][e]:R}, the column-matrix path gives {reference[k][e]:R}");
    }

    [Fact]
    public void MaskedRowCopiesGiveTheScalarCopiesBits()
    {
        // The masked vector copies of stride-1 rows (padding columns, ragged run ends) against whole vectors plus a
        // scalar tail: pure copies, so the forward output and both gradients keep their bits, F32 and F64.
        var rng = new System.Random(47);
        var specs = new List<ConvSpec>
        {
            new(3, true, 8, 9, 37, 16, 3, 3, 1, 1, 1, 1),            // runs of 37: two vectors and a ragged end
            new(2, true, 4, 6, 5, 6, 3, 5, 1, 1, 0, 3, DW: 2),       // padding wider than the row's valid part
            new(2, true, 6, 7, 21, 8, 3, 3, 1, 1, 2, 2, Groups: 2),  // groups, rows across panels
        };
        while (specs.Count < 40)
        {
            var s = ConvSpec.Random(rng);
            if (s.SW == 1 && !(s.Groups == s.Cin && s.Groups > 1)) specs.Add(s);
        }
        foreach (var s in specs)
            foreach (var dtype in new[] { DType.F32, DType.F64 })
            {
                var masked = Run(s, dtype, 5, columnMatrix: false);
                double[][] scalar;
                try
                {
                    ConvOperands.ScalarEdges = true;
                    scalar = Run(s, dtype, 5, columnMatrix: false);
                }
                finally
                {
                    ConvOperands.ScalarEdges = false;
                }
                for (int k = 0; k < 3; k++) Bitwise(scalar[k], masked[k], $"{s} {dtype}: {Names[k]}");
            }
    }

    [Fact]
    public void ForwardGivesTheColumnMatrixPathsBits()
    {
        // Large enough that the column-matrix path takes the packed GEMM too: the same sums in the same order.
        var s = new ConvSpec(4, true, 32, 20, 20, 40, 3, 3, 1, 1, 1, 1);
        Bitwise(Run(s, DType.F32, 3, columnMatrix: true)[0], Run(s, DType.F32, 3, columnMatrix: false)[0], $"{s}: output");
    }
}

/// <summary>The self-packed paths give the same bits for one and two threads (changes the thread count, so runs alone).</summary>
[Collection(SerialCollection.Name)]
public class ConvSelfPackedDeterminismTests
{
    [Fact]
    public void OneAndTwoThreadsGiveTheSameBits()
    {
        ConvSpec[] specs =
        [
            new(8, true, 24, 16, 16, 40, 3, 3, 1, 1, 1, 1, Bias: true),
            new(6, true, 16, 12, 12, 32, 3, 3, 1, 1, 2, 2, DH: 2, DW: 2, Groups: 2, Bias: true),
            new(16, true, 64, 8, 8, 96, 1, 1, Bias: true),
            new(8, true, 3, 64, 64, 96, 4, 4, 4, 4, Bias: true), // patches: a tiny weight, the workers split the columns
        ];
        foreach (var s in specs)
        {
            var one = Run(1, s);
            var two = Run(2, s);
            for (int k = 0; k < one.Length; k++) Bitwise(one[k], two[k], $"{s}: result {k}");
        }
    }

    private static double[][] Run(int threads, ConvSpec s)
    {
        int previous = CpuParallel.ThreadCount;
        var path = ConvGemm.Path;
        try
        {
            CpuParallel.ThreadCount = threads;
            ConvGemm.Path = ConvGemm.PathChoice.SelfPacked;
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
            ConvGemm.Path = path;
        }
    }
}
