using Engine.Ops;
using Engine.Tests.Ops;
using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tests.Gradients;

/// <summary>
/// Gradients of the poolings for random shapes (3-D or 4-D, any layout) and hyper-parameters read off the
/// case's choice: kernel, stride (sometimes the default), padding, dilation, ceil mode, count_include_pad, divisor.
/// </summary>
public class PoolGradients
{
    /// <summary>The pooling a case describes; choice 0 is a 1x1 window with stride 1.</summary>
    internal static PoolSpec Spec(int[] shape, int choice, bool dilation)
    {
        int c = choice;
        int kh = 1 + c % 3, kw = 1 + c / 3 % 3;
        bool defaultStride = c / 9 % 4 == 3;
        int sh = defaultStride ? kh : 1 + c / 9 % 4 % 3, sw = defaultStride ? kw : 1 + c / 36 % 2;
        int ph = Math.Min(c / 72 % 2, kh / 2), pw = Math.Min(c / 144 % 2, kw / 2);
        bool batched = shape.Length == 4;
        return new PoolSpec(batched ? shape[0] : 1, batched, shape[^3], shape[^2], shape[^1], kh, kw, sh, sw, ph, pw,
            dilation ? 1 + c / 288 % 2 : 1, dilation ? 1 + c / 576 % 2 : 1, CeilMode: c / 5 % 2 == 1, CountIncludePad: c / 7 % 2 == 0,
            DivisorOverride: c % 11 == 10 ? 3 : null, DefaultStride: defaultStride);
    }

    private static bool Pools(int[] s) => s.Length is 3 or 4 && s[^1] > 0 && s[^2] > 0 && s[^3] > 0;

    private static bool ValidAvg(Case c) => Pools(c.Operands[0].Shape) && Spec(c.Operands[0].Shape, c.Choice, false).Valid;
    // A window of padding only gives -inf, where a finite difference is NaN; a bad-input test covers it.
    private static bool ValidMax(Case c) => Pools(c.Operands[0].Shape) && Spec(c.Operands[0].Shape, c.Choice, true) is { Valid: true, EveryWindowTouchesTheInput: true };

    [Fact]
    public void AvgPool2d() => GradientProperty.Check(Arbitrary(Single(3, 4), ValidAvg), (x, c) =>
    {
        var s = Spec(x[0].Shape, c.Choice, false);
        return Functional.AvgPool2d(x[0], (s.KH, s.KW), s.DefaultStride ? null : (s.SH, s.SW), (s.PH, s.PW), s.CeilMode, s.CountIncludePad, s.DivisorOverride);
    });

    [Fact]
    public void MaxPool2d() => GradientProperty.Check(Arbitrary(Single(3, 4), ValidMax), (x, c) =>
    {
        var s = Spec(x[0].Shape, c.Choice, true);
        return Functional.MaxPool2d(x[0], (s.KH, s.KW), s.DefaultStride ? null : (s.SH, s.SW), (s.PH, s.PW), (s.DH, s.DW), s.CeilMode);
    }, values: _ => Values.Distinct);

    [Fact]
    public void AdaptiveAvgPool2d() => GradientProperty.Check(Arbitrary(Single(3, 4), c => Pools(c.Operands[0].Shape)), (x, c) =>
    {
        int h = x[0].Size(-2), w = x[0].Size(-1);
        return Functional.AdaptiveAvgPool2d(x[0], (1 + c.Choice % (h + 2), 1 + c.Choice / 7 % (w + 2)));
    });

    [Fact]
    public void GlobalAvgPool2d() => GradientProperty.Check(Arbitrary(Single(3, 4), c => Pools(c.Operands[0].Shape)),
        (x, c) => Functional.GlobalAvgPool2d(x[0], keepDim: c.Choice % 2 == 0));
}
