using System.Runtime.Intrinsics;
using Engine.Ops;
using Engine.Randomness;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The kernels with a 512-bit and a 256-bit form (<see cref="VectorWidth"/>) run both in one process and
/// must agree: bit for bit where the two do the same lane operations in the same order, within a few ulps
/// where the wider form sums in another order. Vector512 runs in software where AVX-512 is missing, so
/// the 512-bit form is checked on every machine. They switch a global, so they run alone.
/// </summary>
[Collection(Support.SerialCollection.Name)]
public class VectorWidthTests
{
    /// <summary>Runs <paramref name="step"/> with the 512-bit kernels and then with the 256-bit ones.</summary>
    internal static (double[][] Wide, double[][] Narrow) BothWidths(Func<double[][]> step)
    {
        bool saved = VectorWidth.Use512;
        try
        {
            VectorWidth.Use512 = true;
            var wide = step();
            VectorWidth.Use512 = false;
            return (wide, step());
        }
        finally
        {
            VectorWidth.Use512 = saved;
        }
    }

    /// <summary>Forward and input gradient of <paramref name="op"/> on <paramref name="x"/> with gradient <paramref name="g"/>.</summary>
    private static double[][] ForwardBackward(Func<Tensor, Tensor> op, Tensor x, Tensor g)
    {
        using var scope = Tensor.Scope();
        var leaf = x.Detach().RequiresGradInPlace();
        var y = op(leaf);
        y.Backward(g);
        return [ActivationTests.ToDoubles(y), ActivationTests.ToDoubles(leaf.Grad!)];
    }

    [Fact]
    public void MachineReportsItsWidth() =>
        Assert.Equal(Vector512.IsHardwareAccelerated, VectorWidth.Use512);

    /// <summary>
    /// The F32 GELU gives the same bits at both widths: the forward's vrangeps, vscalefps and vfixupimmps (AVX-512) and the
    /// backward's two vfixupimmps (its s and m) against the 256-bit minimum, exponent bits, compares and blends, over [-15, 15] (the subnormal values from x = -13.2 and
    /// the clamp at 14.5 included) and the special values; run under DOTNET_EnableAVX512=0 it checks the 512-bit
    /// path's software steps instead.
    /// </summary>
    [Theory]
    [InlineData(16 * 1000)]
    [InlineData(16 * 3 + 11)] // a tail the 256-bit loop and the padded lanes finish
    [InlineData(16 + 8)] // a tail of one whole 256-bit vector
    [InlineData(15)]
    [InlineData(7)]
    public void GeluF32GivesTheSameBitsAtBothWidths(int n)
    {
        using var scope = Tensor.Scope();
        var values = Enumerable.Range(0, n).Select(i => (float)(-15 + 30.0 * i / n)).Concat([float.NaN, 0f, -0f, 30f, -30f,
            float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e-40f, -1e-40f, 1f, -1f, MathF.BitDecrement(1f), -MathF.BitDecrement(1f), 13.5f, -13.5f, -13.2f,
            -13.1f, -13.9f, 14.5f, -14.5f, MathF.BitDecrement(14.5f), -MathF.BitDecrement(14.5f), 15f, -15f]).ToArray();
        var x = Tensor.FromArray(values);
        var g = Tensor.Randn([values.Length], DType.F32, Device.Cpu, new Generator(3));
        var (wide, narrow) = BothWidths(() => ForwardBackward(t => F.Gelu(t), x, g));
        SameBits(wide[0], narrow[0], "gelu f32 forward");
        SameBits(wide[1], narrow[1], "gelu f32 backward");
    }

    /// <summary>The F32 SiLU (SiluVector.Cpu.cs, with ExpF32) gives the same bits at both widths, tails and specials included.</summary>
    [Theory]
    [InlineData(16 * 1000)]
    [InlineData(16 * 3 + 11)]
    [InlineData(7)]
    public void SiluF32GivesTheSameBitsAtBothWidths(int n)
    {
        using var scope = Tensor.Scope();
        var values = Enumerable.Range(0, n).Select(i => (float)(-100 + 200.0 * i / n)).Concat([float.NaN, 0f, -0f, 88.7f, -88.7f, 89f, -89f, 104f, -104f,
            float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e-40f, -1e-40f]).ToArray();
        var x = Tensor.FromArray(values);
        var g = Tensor.Randn([values.Length], DType.F32, Device.Cpu, new Generator(4));
        var (wide, narrow) = BothWidths(() => ForwardBackward(F.Silu, x, g));
        SameBits(wide[0], narrow[0], "silu f32 forward");
        SameBits(wide[1], narrow[1], "silu f32 backward");
    }

    /// <summary>
    /// The float-row layer norm sums in double with another lane split at 512 bits: the forward and all three
    /// gradients agree within float rounding, for rows of whole blocks, an 8-float tail and a scalar tail.
    /// </summary>
    [Theory]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(37)]
    [InlineData(256)]
    [InlineData(1100)]
    public void LayerNormF32AgreesAtBothWidths(int d)
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(5);
        var x = Tensor.Randn([67, d], DType.F32, Device.Cpu, gen) * 3 + 100;
        var w = Tensor.Randn([d], DType.F32, Device.Cpu, gen);
        var b = Tensor.Randn([d], DType.F32, Device.Cpu, gen);
        var g = Tensor.Randn([67, d], DType.F32, Device.Cpu, gen);
        var (wide, narrow) = BothWidths(() =>
        {
            using var inner = Tensor.Scope();
            var leaves = new[] { x.Detach().RequiresGradInPlace(), w.Detach().RequiresGradInPlace(), b.Detach().RequiresGradInPlace() };
            var y = F.LayerNorm(leaves[0], [d], leaves[1], leaves[2]);
            y.Backward(g);
            return [ActivationTests.ToDoubles(y), .. leaves.Select(l => ActivationTests.ToDoubles(l.Grad!))];
        });
        string[] what = ["y", "dx", "dw", "db"];
        for (int k = 0; k < 4; k++)
            Engine.Tests.Core.Reference.Close(narrow[k], wide[k], 2e-6, 2e-6, $"layer_norm d={d} {what[k]}");
    }

    /// <summary>
    /// The depthwise convolution's fused taps: the forward and the input gradient give the same bits at both widths
    /// (the same fused multiply-adds in the same order); the weight and bias gradients, summed in another lane
    /// order at 512 bits, agree within rounding. Stride 1 and 2, channel multiplier 1 and 2, both dtypes.
    /// </summary>
    [Theory]
    [InlineData(1, 1, DType.F32)]
    [InlineData(2, 1, DType.F32)]
    [InlineData(1, 2, DType.F32)]
    [InlineData(1, 1, DType.F64)]
    [InlineData(2, 2, DType.F64)]
    public void DepthwiseConvAgreesAtBothWidths(int stride, int multiplier, DType dtype)
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(11);
        var x = Tensor.Randn([2, 5, 13, 21], dtype, Device.Cpu, gen);
        var w = Tensor.Randn([5 * multiplier, 1, 3, 3], dtype, Device.Cpu, gen);
        var b = Tensor.Randn([5 * multiplier], dtype, Device.Cpu, gen);
        var (wide, narrow) = BothWidths(() =>
        {
            using var inner = Tensor.Scope();
            var leaves = new[] { x.Detach().RequiresGradInPlace(), w.Detach().RequiresGradInPlace(), b.Detach().RequiresGradInPlace() };
            var y = F.Conv2d(leaves[0], leaves[1], leaves[2], stride: stride, padding: 1, groups: 5);
            y.Backward(Tensor.Randn(y.Layout.Shape, dtype, Device.Cpu, new Generator(12)));
            return [ActivationTests.ToDoubles(y), .. leaves.Select(l => ActivationTests.ToDoubles(l.Grad!))];
        });
        SameBits(wide[0], narrow[0], "depthwise forward");
        SameBits(wide[1], narrow[1], "depthwise input gradient");
        double tol = dtype == DType.F32 ? 1e-5 : 1e-13;
        Engine.Tests.Core.Reference.Close(narrow[2], wide[2], tol, tol, "depthwise weight gradient");
        Engine.Tests.Core.Reference.Close(narrow[3], wide[3], tol, tol, "depthwise bias gradient");
    }

    /// <summary>
    /// The channels-last depthwise convolution does the same products and sums per element at both widths: the
    /// forward and all three gradients give the same bits (37 channels: a 512-bit block, a 256-bit block and a tail).
    /// </summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void ChannelsLastDepthwiseGivesTheSameBitsAtBothWidths(DType dtype)
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(13);
        var x = Tensor.Randn([2, 6, 9, 37], dtype, Device.Cpu, gen);
        var w = Tensor.Randn([37, 1, 3, 3], dtype, Device.Cpu, gen);
        var b = Tensor.Randn([37], dtype, Device.Cpu, gen);
        var g = Tensor.Randn([2, 6, 9, 37], dtype, Device.Cpu, gen);
        var (wide, narrow) = BothWidths(() =>
        {
            using var inner = Tensor.Scope();
            var leaves = new[] { x.Detach().RequiresGradInPlace(), w.Detach().RequiresGradInPlace(), b.Detach().RequiresGradInPlace() };
            var y = F.DepthwiseConv2dChannelsLast(leaves[0], leaves[1], leaves[2]);
            y.Backward(g);
            return [ActivationTests.ToDoubles(y), .. leaves.Select(l => ActivationTests.ToDoubles(l.Grad!))];
        });
        string[] what = ["forward", "input gradient", "weight gradient", "bias gradient"];
        for (int k = 0; k < 4; k++) SameBits(wide[k], narrow[k], $"channels-last depthwise {dtype} {what[k]}");
    }

    /// <summary>
    /// The norms' element-by-element helpers (<c>Wide</c>: widening, narrowing, the channels-first lane forms) give the
    /// same bits at both widths: the channels-first layer norms (both eps placements, 300 positions: a whole tile of
    /// 256 and a tail), F32, forward and gradients. (The F32 layer norm and the F32 group norm's forward sum in float
    /// lanes of the width's size, so their two widths agree within rounding only: <see cref="LayerNormF32AgreesAtBothWidths"/>,
    /// <see cref="GroupNormF32AgreesAtBothWidths"/>.)
    /// </summary>
    [Theory]
    [InlineData("layer_norm2d")]
    [InlineData("layer_norm2d_eps_on_std")]
    public void NormsGiveTheSameBitsAtBothWidths(string norm)
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(17);
        int[] shape = [2, 12, 15, 20];
        int c = 12;
        var x = Tensor.Randn(shape, DType.F32, Device.Cpu, gen) * 2 + 5;
        var w = Tensor.Randn([c], DType.F32, Device.Cpu, gen);
        var b = Tensor.Randn([c], DType.F32, Device.Cpu, gen);
        var g = Tensor.Randn(shape, DType.F32, Device.Cpu, gen);
        Func<Tensor, Tensor, Tensor, Tensor> op = norm switch
        {
            "layer_norm2d" => (t, wt, bt) => F.LayerNorm2d(t, wt, bt),
            _ => (t, wt, bt) => F.LayerNorm2dEpsOnStd(t, wt, bt),
        };
        var (wide, narrow) = BothWidths(() =>
        {
            using var inner = Tensor.Scope();
            var leaves = new[] { x.Detach().RequiresGradInPlace(), w.Detach().RequiresGradInPlace(), b.Detach().RequiresGradInPlace() };
            var y = op(leaves[0], leaves[1], leaves[2]);
            y.Backward(g);
            return [ActivationTests.ToDoubles(y), .. leaves.Select(l => ActivationTests.ToDoubles(l.Grad!))];
        });
        string[] what = ["forward", "input gradient", "weight gradient", "bias gradient"];
        for (int k = 0; k < 4; k++) SameBits(wide[k], narrow[k], $"{norm} {what[k]}");
    }

    /// <summary>
    /// Dropout's fused CPU pass makes its Philox blocks 8 (512-bit) or 4 (256-bit) at a time and masks 16 or 8 lanes at
    /// a time: the output and the gradient are the same bits, for lengths with vector and scalar tails.
    /// </summary>
    [Theory]
    [InlineData(DType.F32, 4099)]
    [InlineData(DType.F64, 1030)]
    public void DropoutGivesTheSameBitsAtBothWidths(DType dtype, int n)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([n], dtype, Device.Cpu, new Generator(21));
        var g = Tensor.Randn([n], dtype, Device.Cpu, new Generator(22));
        var (wide, narrow) = BothWidths(() => ForwardBackward(t => F.Dropout(t, 0.25, generator: new Generator(23)), x, g));
        SameBits(wide[0], narrow[0], "dropout forward");
        SameBits(wide[1], narrow[1], "dropout gradient");
        Assert.InRange(wide[0].Count(v => v == 0) / (double)n, 0.2, 0.3);
    }

    [Fact]
    public void GroupNormF32AgreesAtBothWidths()
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(19);
        var x = Tensor.Randn([2, 12, 15, 20], DType.F32, Device.Cpu, gen) * 3 + 100;
        var w = Tensor.Randn([12], DType.F32, Device.Cpu, gen);
        var b = Tensor.Randn([12], DType.F32, Device.Cpu, gen);
        var g = Tensor.Randn([2, 12, 15, 20], DType.F32, Device.Cpu, gen);
        var (wide, narrow) = BothWidths(() =>
        {
            using var inner = Tensor.Scope();
            var leaves = new[] { x.Detach().RequiresGradInPlace(), w.Detach().RequiresGradInPlace(), b.Detach().RequiresGradInPlace() };
            var y = F.GroupNorm(leaves[0], 3, leaves[1], leaves[2]);
            y.Backward(g);
            return [ActivationTests.ToDoubles(y), .. leaves.Select(l => ActivationTests.ToDoubles(l.Grad!))];
        });
        string[] what = ["y", "dx", "dw", "db"];
        for (int k = 0; k < 4; k++)
            Engine.Tests.Core.Reference.Close(narrow[k], wide[k], 2e-6, 2e-6 * Math.Max(1, narrow[k].Max(Math.Abs)), $"group_norm {what[k]}");
    }

    /// <summary>Bit for bit, except that any NaN matches any NaN (the sign of a NaN follows the operand order the JIT picks).</summary>
    internal static void SameBits(double[] a, double[] b, string what)
    {
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
            if (!(double.IsNaN(a[i]) && double.IsNaN(b[i])) && BitConverter.DoubleToInt64Bits(a[i]) != BitConverter.DoubleToInt64Bits(b[i]))
                Assert.Fail($"{what}: element {i} differs: {a[i]:R} (512-bit) vs {b[i]:R} (256-bit)");
    }
}
