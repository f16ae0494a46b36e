using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>
/// The stride-1 depthwise row kernel (<see cref="DepthwiseStride1Cpu"/>) against the plain double loops of
/// <see cref="ConvReference"/> on random shapes (planes from 1x1 to 40 wide, so that rows end in a 512-bit block, a
/// 256-bit block, a scalar tail or only a tail), at both vector widths; and against the general phase-split kernel
/// (<see cref="DepthwiseConvCpu"/>), whose forward and input gradient it promises to reproduce bit for bit. These
/// switch <see cref="VectorWidth.Use512"/>, so they run alone.
/// </summary>
[Collection(SerialCollection.Name)]
public class DepthwiseStride1Tests
{
    private static readonly int[] Widths = [1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 31, 33, 40];

    /// <summary>A random stride-1 depthwise convolution: kernels 1 to 7 (some not square), dilation, padding or 'same'/'valid'.</summary>
    internal static ConvSpec RandomSpec(System.Random r)
    {
        while (true)
        {
            int c = r.Next(2, 5), k = new[] { 1, 2, 3, 3, 3, 5, 7 }[r.Next(7)];
            int kw = r.Next(4) == 0 ? r.Next(1, 6) : k;
            string? mode = r.Next(6) switch { 0 => "same", 1 => "valid", _ => null };
            var s = new ConvSpec(r.Next(1, 4), r.Next(6) != 0, c, r.Next(1, 12), Widths[r.Next(Widths.Length)], c * r.Next(1, 3), k, kw,
                PadH: r.Next(0, 4), PadW: r.Next(0, 4), DH: r.Next(1, 3), DW: r.Next(1, 3), Groups: c, Bias: r.Next(2) == 0, Mode: mode);
            if (!s.Batched) s = s with { N = 1 };
            if (s.Valid) return s;
        }
    }

    /// <summary>Forward, input, weight and bias gradients of <paramref name="s"/> (the bias gradient empty without a bias).</summary>
    private static double[][] Run(ConvSpec s, DType dtype, ulong seed)
    {
        using var scope = Tensor.Scope();
        var x = Randn(s.InputShape, dtype, seed).RequiresGradInPlace();
        var w = Randn(s.WeightShape, dtype, seed + 1).RequiresGradInPlace();
        var b = s.Bias ? Randn([s.Cout], dtype, seed + 2).RequiresGradInPlace() : null;
        var y = s.Run(x, w, b);
        y.Backward(Randn(y.Shape, dtype, seed + 3));
        return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b?.Grad!.ToArray<double>() ?? []];
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void RandomShapesMatchTheReferenceAtBothWidths(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 31 : 32);
        for (int i = 0; i < 60; i++)
        {
            var s = RandomSpec(rng);
            ulong seed = (ulong)(100 + i);
            var (wide, narrow) = VectorWidthTests.BothWidths(() => Run(s, dtype, seed));
            double[] xs = Randn(s.InputShape, dtype, seed).ToArray<double>(), ws = Randn(s.WeightShape, dtype, seed + 1).ToArray<double>();
            double[] bs = s.Bias ? Randn([s.Cout], dtype, seed + 2).ToArray<double>() : [];
            double[] gys = Randn(s.OutputShape, dtype, seed + 3).ToArray<double>();
            var y = ConvReference.Forward(s, xs, ws, s.Bias ? bs : null);
            var ys = ConvReference.Forward(s, Abs(xs), Abs(ws), s.Bias ? Abs(bs) : null);
            var (gx, gw, gb) = ConvReference.Backward(s, xs, ws, gys);
            var (sx, sw, sb) = ConvReference.Backward(s, Abs(xs), Abs(ws), Abs(gys));
            double tol = Tolerance(dtype);
            foreach (var (got, width) in new[] { (wide, "512-bit"), (narrow, "256-bit") })
            {
                AssertClose(y, got[0], ys, tol, $"{s} {dtype} {width} forward");
                AssertClose(gx, got[1], sx, tol, $"{s} {dtype} {width} input gradient");
                AssertClose(gw, got[2], sw, tol, $"{s} {dtype} {width} weight gradient");
                if (s.Bias) AssertClose(gb, got[3], sb, tol, $"{s} {dtype} bias gradient");
            }
            VectorWidthTests.SameBits(wide[0], narrow[0], $"{s} {dtype} forward");
            VectorWidthTests.SameBits(wide[1], narrow[1], $"{s} {dtype} input gradient");
        }
    }

    /// <summary>The row kernel's forward and input gradient are the general kernel's, bit for bit, at both widths.</summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public unsafe void ForwardAndInputGradientGiveTheGeneralKernelsBits(DType dtype)
    {
        var rng = new System.Random(dtype == DType.F32 ? 41 : 42);
        for (int i = 0; i < 40; i++)
        {
            var s = RandomSpec(rng);
            using var scope = Tensor.Scope();
            var x = Randn(s.InputShape, dtype, (ulong)i);
            var w = Randn(s.WeightShape, dtype, (ulong)i + 1);
            var b = s.Bias ? Randn([s.Cout], dtype, (ulong)i + 2) : null;
            var g = ConvGeometry.Of(x, w, b, (s.SH, s.SW), s.Mode is null ? (Padding2d)(s.PadH, s.PadW) : s.Mode, (s.DH, s.DW), s.Groups);
            Assert.True(DepthwiseStride1Cpu.Handles(g));
            var gy = Randn(s.OutputShape, dtype, (ulong)i + 3);
            var (wide, narrow) = VectorWidthTests.BothWidths(() => [.. Kernels(g, x, w, b, gy, dtype, stride1: true), .. Kernels(g, x, w, b, gy, dtype, stride1: false)]);
            for (int k = 0; k < 2; k++)
            {
                var byWidth = k == 0 ? wide : narrow;
                string what = k == 0 ? "512-bit" : "256-bit";
                VectorWidthTests.SameBits(byWidth[2], byWidth[0], $"{s} {dtype} {what} forward, row kernel vs general");
                VectorWidthTests.SameBits(byWidth[3], byWidth[1], $"{s} {dtype} {what} input gradient, row kernel vs general");
            }
        }
    }

    /// <summary>The forward and the input gradient of one kernel, called directly (conv2d would pick the row kernel).</summary>
    private static unsafe double[][] Kernels(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor gy, DType dtype, bool stride1)
    {
        using var scope = Tensor.Scope();
        var y = Tensor.Empty(g.OutputShape, dtype);
        var gx = Tensor.Empty(g.InputShape, dtype);
        if (dtype == DType.F32) Call<float>(g, x, w, b, gy, y, gx, stride1);
        else Call<double>(g, x, w, b, gy, y, gx, stride1);
        return [y.ToArray<double>(), gx.ToArray<double>()];
    }

    private static unsafe void Call<T>(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor gy, Tensor y, Tensor gx, bool stride1)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        T* xp = ConvPoolKernels.Ptr<T>(x), wp = ConvPoolKernels.Ptr<T>(w), bp = ConvPoolKernels.Ptr<T>(b);
        T* yp = ConvPoolKernels.Ptr<T>(y), gyp = ConvPoolKernels.Ptr<T>(gy), gxp = ConvPoolKernels.Ptr<T>(gx);
        if (stride1)
        {
            DepthwiseStride1Cpu.Forward(g, xp, wp, bp, yp);
            DepthwiseStride1Cpu.Backward(g, xp, wp, gyp, gxp, null, null);
        }
        else
        {
            DepthwiseConvCpu.Forward(g, xp, wp, bp, yp);
            DepthwiseConvCpu.Backward(g, xp, wp, gyp, gxp, null, null);
        }
    }

    /// <summary>Only the bias needs a gradient: the input is not saved, and the bias gradient is still the sum.</summary>
    [Fact]
    public void BiasGradientWithoutAWeightGradient()
    {
        using var scope = Tensor.Scope();
        var s = new ConvSpec(3, true, 4, 5, 19, 8, 3, 3, PadH: 1, PadW: 1, Groups: 4, Bias: true);
        var x = Randn(s.InputShape, DType.F64, 1);
        var w = Randn(s.WeightShape, DType.F64, 2);
        var b = Randn([s.Cout], DType.F64, 3).RequiresGradInPlace();
        var y = s.Run(x, w, b);
        var gy = Randn(y.Shape, DType.F64, 4);
        y.Backward(gy);
        var (_, _, gb) = ConvReference.Backward(s, x.ToArray<double>(), w.ToArray<double>(), gy.ToArray<double>());
        var (_, _, scale) = ConvReference.Backward(s, Abs(x.ToArray<double>()), Abs(w.ToArray<double>()), Abs(gy.ToArray<double>()));
        Assert.Null(x.Grad);
        Assert.Null(w.Grad);
        AssertClose(gb, b.Grad!.ToArray<double>(), scale, 1e-13, "bias gradient");
    }
}
