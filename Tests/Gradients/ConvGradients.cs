using Engine.Ops;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tests.Gradients;

/// <summary>
/// Gradients of conv2d for random shapes and hyper-parameters. The groups follow from the shapes
/// (in-channels / weight.size(1)); stride, padding (explicit, 'same' or 'valid') and dilation come from the
/// case's choice, so a shrunk case replays exactly.
/// </summary>
public class ConvGradients
{
    private static readonly Gen<int> Small = Gen.Frequency((2, Gen.Constant(1)), (5, Gen.Choose(2, 3)));
    private static readonly Gen<int> Batch = Gen.Frequency((1, Gen.Constant(0)), (6, Gen.Constant(1)), (6, Gen.Constant(2)));

    /// <summary>[input, weight] or [input, weight, bias]: batched or not, grouped or dense.</summary>
    private static readonly Gen<int[][]> Shapes =
        from groups in Gen.Elements(1, 1, 1, 2, 3)
        from cinG in Small
        from coutG in Small
        from kh in Gen.Choose(1, 3)
        from kw in Gen.Choose(1, 3)
        from h in Gen.Choose(1, 5)
        from w in Gen.Choose(1, 5)
        from n in Batch
        from batched in Gen.Elements(true, true, false)
        from bias in Gen.Elements(true, false)
        let x = batched ? new[] { n, groups * cinG, h, w } : new[] { groups * cinG, h, w }
        let wt = new[] { groups * coutG, cinG, kh, kw }
        where Layout.Count(x) <= MaxElements && Layout.Count(wt) <= 36
        select bias ? new[] { x, wt, new[] { groups * coutG } } : new[] { x, wt };

    /// <summary>Depthwise: one filter (or two, with a channel multiplier) per input channel, kernels up to 5x5.</summary>
    private static readonly Gen<int[][]> DepthwiseShapes =
        from c in Gen.Choose(2, 4)
        from multiplier in Gen.Elements(1, 1, 2)
        from kh in Gen.Choose(1, 5)
        from kw in Gen.Choose(1, 5)
        from h in Gen.Choose(1, 7)
        from w in Gen.Choose(1, 7)
        from n in Batch
        from bias in Gen.Elements(true, false)
        let x = new[] { n, c, h, w }
        let wt = new[] { c * multiplier, 1, kh, kw }
        where Layout.Count(x) <= MaxElements && Layout.Count(wt) <= 40
        select bias ? new[] { x, wt, new[] { c * multiplier } } : new[] { x, wt };

    /// <summary>Stride, padding and dilation read off the choice; 0 is the plainest (stride 1, no padding, no dilation).</summary>
    internal static (Size2d Stride, Padding2d Padding, Size2d Dilation) Hyper(int choice)
    {
        var stride = new Size2d(1 + choice % 2, 1 + choice / 2 % 3);
        var dilation = new Size2d(1 + choice / 6 % 2, 1 + choice / 12 % 2);
        Padding2d padding = (choice / 24 % 3, choice / 72 % 2);
        switch (choice / 144 % 5)
        {
            case 3: return (1, "same", dilation);
            case 4: return (stride, "valid", dilation);
            default: return (stride, padding, dilation);
        }
    }

    private static bool Valid(Case c)
    {
        var ops = c.Operands;
        if (ops.Length is < 2 or > 3) return false;
        int[] x = ops[0].Shape, w = ops[1].Shape;
        if (x.Length is not (3 or 4) || w.Length != 4 || w[1] == 0 || x[^3] % w[1] != 0) return false;
        int groups = x[^3] / w[1];
        if (groups == 0 || w[0] % groups != 0 || w[2] == 0 || w[3] == 0) return false;
        if (ops.Length == 3 && (ops[2].Shape.Length != 1 || ops[2].Shape[0] != w[0])) return false;
        var (stride, padding, dilation) = Hyper(c.Choice);
        var (ph, pw) = padding.Mode switch
        {
            "same" => (dilation.H * (w[2] - 1), dilation.W * (w[3] - 1)),
            "valid" => (0, 0),
            _ => (2 * padding.Size.H, 2 * padding.Size.W),
        };
        return x[^2] + ph >= dilation.H * (w[2] - 1) + 1 && x[^1] + pw >= dilation.W * (w[3] - 1) + 1;
    }

    private static Tensor Conv(Tensor[] x, Case c)
    {
        var (stride, padding, dilation) = Hyper(c.Choice);
        return Functional.Conv2d(x[0], x[1], x.Length > 2 ? x[2] : null, stride, padding, dilation, groups: x[0].Size(-3) / x[1].Size(1));
    }

    [Fact]
    public void Conv2d() => GradientProperty.Check(Arbitrary(Of(Shapes), Valid), Conv);

    /// <summary>
    /// The same property through the self-packed GEMM path (the column matrix packed straight from the input; the
    /// stride-1 input gradient as the flipped-kernel convolution), forced: by shape it is only taken for long rows
    /// and 32+ output channels, which these small cases never reach. The switch is per thread, as the property runs.
    /// </summary>
    [Fact]
    public void Conv2dThroughTheSelfPackedPath()
    {
        var previous = ConvGemm.Path;
        ConvGemm.Path = ConvGemm.PathChoice.SelfPacked;
        try { GradientProperty.Check(Arbitrary(Of(Shapes), Valid), Conv); }
        finally { ConvGemm.Path = previous; }
    }

    /// <summary>
    /// Patch convolutions (stride = kernel, no padding: <see cref="PatchOperands"/>), inputs not always a whole number of
    /// patches; the stride is read off the weight by <see cref="PatchConv"/>.
    /// </summary>
    private static readonly Gen<int[][]> PatchShapes =
        from groups in Gen.Elements(1, 1, 2)
        from cinG in Small
        from coutG in Small
        from kh in Gen.Choose(1, 2)
        from kw in Gen.Choose(2, 3)
        from ho in Gen.Choose(1, 2)
        from wo in Gen.Choose(1, 2)
        from extraH in Gen.Choose(0, kh - 1)
        from extraW in Gen.Choose(0, 1)
        from n in Batch
        from bias in Gen.Elements(true, false)
        let x = new[] { n, groups * cinG, kh * ho + extraH, kw * wo + extraW }
        let wt = new[] { groups * coutG, cinG, kh, kw }
        where Layout.Count(x) <= MaxElements && Layout.Count(wt) <= 36
        select bias ? new[] { x, wt, new[] { groups * coutG } } : new[] { x, wt };

    private static bool PatchValid(Case c)
    {
        var ops = c.Operands;
        if (ops.Length is < 2 or > 3) return false;
        int[] x = ops[0].Shape, w = ops[1].Shape;
        if (x.Length != 4 || w.Length != 4 || w[1] == 0 || x[1] % w[1] != 0 || x[1] == 0) return false;
        int groups = x[1] / w[1];
        if (w[0] % groups != 0 || w[2] == 0 || w[3] == 0 || x[2] < w[2] || x[3] < w[3]) return false;
        return ops.Length == 2 || (ops[2].Shape.Length == 1 && ops[2].Shape[0] == w[0]);
    }

    private static Tensor PatchConv(Tensor[] x, Case c) =>
        Functional.Conv2d(x[0], x[1], x.Length > 2 ? x[2] : null, (x[1].Size(2), x[1].Size(3)), 0, 1, groups: x[0].Size(1) / x[1].Size(1));

    /// <summary>The property through the patch path, forced (by shape it is taken for rows of 16+ patches only).</summary>
    [Fact]
    public void Conv2dThroughThePatchPath()
    {
        var previous = ConvGemm.Path;
        ConvGemm.Path = ConvGemm.PathChoice.SelfPacked;
        try { GradientProperty.Check(Arbitrary(Of(PatchShapes), PatchValid), PatchConv); }
        finally { ConvGemm.Path = previous; }
    }

    [Fact]
    public void DepthwiseConv2d() => GradientProperty.Check(Arbitrary(Of(DepthwiseShapes), Valid), Conv);

    /// <summary>
    /// Depthwise 3x3 with padding 1 on planes up to 9 wide: up to 8 (a 512-bit vector of doubles) they take
    /// <see cref="Depthwise3x3Rows"/>, 9 the row kernel; with a channel multiplier and without a batch (n = 0) too.
    /// </summary>
    private static readonly Gen<int[][]> Depthwise3x3Shapes =
        from c in Gen.Choose(2, 3)
        from multiplier in Gen.Elements(1, 1, 2)
        from h in Gen.Choose(1, 4)
        from w in Gen.Elements(1, 2, 5, 8, 8, 9)
        from n in Batch
        from bias in Gen.Elements(true, false)
        let x = new[] { n, c, h, w }
        let wt = new[] { c * multiplier, 1, 3, 3 }
        where Layout.Count(x) <= MaxElements
        select bias ? new[] { x, wt, new[] { c * multiplier } } : new[] { x, wt };

    private static Tensor Depthwise3x3(Tensor[] x, Case c) =>
        Functional.Conv2d(x[0], x[1], x.Length > 2 ? x[2] : null, 1, c.Choice % 2 == 0 ? (Padding2d)1 : "same", 1, groups: x[0].Size(1));

    [Fact]
    public void DepthwiseConv2dThreeByThreePaddingOne() =>
        GradientProperty.Check(Arbitrary(Of(Depthwise3x3Shapes), c => c.Operands.Length is 2 or 3), Depthwise3x3);

    [Fact]
    public void HyperParametersCoverEveryPaddingMode()
    {
        var modes = Enumerable.Range(0, 1001).Select(c => Hyper(c).Padding.Mode ?? "explicit").Distinct().Order().ToArray();
        Assert.Equal(["explicit", "same", "valid"], modes);
        Assert.Equal((new Size2d(1, 1), (Padding2d)(0, 0), new Size2d(1, 1)), Hyper(0));
    }
}
