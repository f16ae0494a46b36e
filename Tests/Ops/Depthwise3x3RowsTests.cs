using System.Runtime.Intrinsics;
using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>
/// The depthwise 3x3 padding-1 kernel for planes at most one 512-bit vector wide (<see cref="Depthwise3x3Rows"/>):
/// through conv2d, its forward and input gradient against the row kernel's bits (<see cref="DepthwiseStride1Cpu"/>,
/// called directly), its weight and bias gradients against the plain double loops of <see cref="ConvReference"/>, on
/// random shapes (widths 1 up to a full vector, heights and batches from 1, channel multipliers 1 and 2, with and
/// without a bias, batched or not); its bits across thread counts; and the geometries it leaves to the other kernels.
/// These switch <see cref="VectorWidth.Use512"/> and the thread count, so they run alone.
/// </summary>
[Collection(SerialCollection.Name)]
public class Depthwise3x3RowsTests
{
    private static bool Has512 => Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported;

    private static int Lanes(DType dtype) => dtype == DType.F32 ? 16 : 8;

    /// <summary>A random depthwise 3x3 convolution with padding 1 (or 'same') on a plane at most a vector wide.</summary>
    private static ConvSpec RandomSpec(System.Random r, DType dtype)
    {
        int lanes = Lanes(dtype);
        int[] widths = [1, 2, 3, lanes / 2 - 1, lanes / 2, lanes - 1, lanes];
        int c = r.Next(2, 5), n = r.Next(1, 4);
        bool batched = r.Next(5) != 0;
        return new ConvSpec(batched ? n : 1, batched, c, new[] { 1, 2, 3, 5, 16 }[r.Next(5)], widths[r.Next(widths.Length)],
            c * r.Next(1, 3), 3, 3, PadH: 1, PadW: 1, Groups: c, Bias: r.Next(2) == 0, Mode: r.Next(4) == 0 ? "same" : null);
    }

    private static ConvGeometry Geometry(ConvSpec s, DType dtype)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros(s.InputShape, dtype);
        var w = Tensor.Zeros(s.WeightShape, dtype);
        return ConvGeometry.Of(x, w, null, (s.SH, s.SW), s.Mode is null ? (Padding2d)(s.PadH, s.PadW) : s.Mode, (s.DH, s.DW), s.Groups);
    }

    private static bool Handles(ConvSpec s, DType dtype) =>
        dtype == DType.F32 ? Depthwise3x3Rows.Handles<float>(Geometry(s, dtype)) : Depthwise3x3Rows.Handles<double>(Geometry(s, dtype));

    /// <summary>Forward, input, weight and bias gradients of <paramref name="s"/> through conv2d.</summary>
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

    /// <summary>The row kernel's forward and input gradient, called directly.</summary>
    private static double[][] RowKernel(ConvSpec s, DType dtype, ulong seed)
    {
        using var scope = Tensor.Scope();
        var x = Randn(s.InputShape, dtype, seed);
        var w = Randn(s.WeightShape, dtype, seed + 1);
        var b = s.Bias ? Randn([s.Cout], dtype, seed + 2) : null;
        var gy = Randn(s.OutputShape, dtype, seed + 3);
        var g = ConvGeometry.Of(x, w, b, (s.SH, s.SW), s.Mode is null ? (Padding2d)(s.PadH, s.PadW) : s.Mode, (s.DH, s.DW), s.Groups);
        var y = Tensor.Empty(g.OutputShape, dtype);
        var gx = Tensor.Empty(g.InputShape, dtype);
        if (dtype == DType.F32) Call<float>(g, x, w, b, gy, y, gx);
        else Call<double>(g, x, w, b, gy, y, gx);
        return [y.ToArray<double>(), gx.ToArray<double>()];
    }

    private static unsafe void Call<T>(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor gy, Tensor y, Tensor gx)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        DepthwiseStride1Cpu.Forward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(b), ConvPoolKernels.Ptr<T>(y));
        DepthwiseStride1Cpu.Backward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(gy), ConvPoolKernels.Ptr<T>(gx), null, null);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void RandomShapesGiveTheRowKernelsBitsAndTheReferenceGradients(DType dtype)
    {
        if (!Has512) return; // the kernel runs only where 512-bit vectors do
        var rng = new System.Random(dtype == DType.F32 ? 51 : 52);
        for (int i = 0; i < 60; i++)
        {
            var s = RandomSpec(rng, dtype);
            ulong seed = (ulong)(200 + i);
            Assert.True(Handles(s, dtype), $"{s} {dtype} should take the 3x3 kernel");
            var got = Run(s, dtype, seed);
            var rows = RowKernel(s, dtype, seed);
            Bitwise(rows[0], got[0], $"{s} {dtype} forward, 3x3 kernel vs row kernel");
            Bitwise(rows[1], got[1], $"{s} {dtype} input gradient, 3x3 kernel vs row kernel");

            double[] xs = Randn(s.InputShape, dtype, seed).ToArray<double>(), ws = Randn(s.WeightShape, dtype, seed + 1).ToArray<double>();
            double[] gys = Randn(s.OutputShape, dtype, seed + 3).ToArray<double>();
            var y = ConvReference.Forward(s, xs, ws, s.Bias ? Randn([s.Cout], dtype, seed + 2).ToArray<double>() : null);
            var (gx, gw, gb) = ConvReference.Backward(s, xs, ws, gys);
            var (sx, sw, sb) = ConvReference.Backward(s, Abs(xs), Abs(ws), Abs(gys));
            double tol = Tolerance(dtype);
            AssertClose(y, got[0], ConvReference.Forward(s, Abs(xs), Abs(ws), s.Bias ? Abs(Randn([s.Cout], dtype, seed + 2).ToArray<double>()) : null), tol, $"{s} {dtype} forward");
            AssertClose(gx, got[1], sx, tol, $"{s} {dtype} input gradient");
            AssertClose(gw, got[2], sw, tol, $"{s} {dtype} weight gradient");
            if (s.Bias) AssertClose(gb, got[3], sb, tol, $"{s} {dtype} bias gradient");
        }
    }

    /// <summary>All four results, the weight gradient's sums included, are the same bits on one thread and on two.</summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void BitsDoNotDependOnTheThreadCount(DType dtype)
    {
        var s = new ConvSpec(5, true, 24, 9, Lanes(dtype) - 3, 48, 3, 3, PadH: 1, PadW: 1, Groups: 24, Bias: true);
        if (Has512) Assert.True(Handles(s, dtype));
        int before = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = 1;
            var one = Run(s, dtype, 7);
            CpuParallel.ThreadCount = 2;
            var two = Run(s, dtype, 7);
            for (int k = 0; k < 4; k++) Bitwise(one[k], two[k], $"{s} {dtype} result {k}, 1 vs 2 threads");
        }
        finally { CpuParallel.ThreadCount = before; }
    }

    /// <summary>The bench's shape (a 16-float plane, 128 channels): the weight gradient too is the row kernel's.</summary>
    [Fact]
    public void FullVectorPlanesMatchTheReference()
    {
        var s = new ConvSpec(3, true, 16, 16, 16, 16, 3, 3, PadH: 1, PadW: 1, Groups: 16, Bias: true);
        if (Has512) Assert.True(Handles(s, DType.F32));
        var got = Run(s, DType.F32, 11);
        double[] xs = Randn(s.InputShape, DType.F32, 11).ToArray<double>(), ws = Randn(s.WeightShape, DType.F32, 12).ToArray<double>();
        double[] gys = Randn(s.OutputShape, DType.F32, 14).ToArray<double>();
        var (_, gw, gb) = ConvReference.Backward(s, xs, ws, gys);
        var (_, sw, sb) = ConvReference.Backward(s, Abs(xs), Abs(ws), Abs(gys));
        AssertClose(gw, got[2], sw, 1e-5, "weight gradient");
        AssertClose(gb, got[3], sb, 1e-5, "bias gradient");
    }

    /// <summary>Geometries one step outside the kernel's: they go to the row kernel (or the general one).</summary>
    [Theory]
    [InlineData(DType.F32, 17, 1, 1, 1, 1, 3, 3, 4)]  // a plane wider than a vector
    [InlineData(DType.F64, 9, 1, 1, 1, 1, 3, 3, 4)]
    [InlineData(DType.F32, 16, 0, 0, 1, 1, 3, 3, 4)]  // no padding
    [InlineData(DType.F32, 16, 2, 2, 1, 1, 3, 3, 4)]  // padding 2
    [InlineData(DType.F32, 16, 1, 0, 1, 1, 3, 3, 4)]  // padding only along H
    [InlineData(DType.F32, 16, 1, 1, 2, 1, 3, 3, 4)]  // stride 2
    [InlineData(DType.F32, 16, 2, 2, 1, 2, 3, 3, 4)]  // dilation 2
    [InlineData(DType.F32, 16, 2, 2, 1, 1, 5, 5, 4)]  // 5x5
    [InlineData(DType.F32, 16, 1, 0, 1, 1, 3, 1, 4)]  // 3x1
    [InlineData(DType.F32, 16, 1, 1, 1, 1, 3, 3, 1)]  // dense (one group)
    public void OtherGeometriesSkipTheKernel(DType dtype, int width, int padH, int padW, int stride, int dilation, int kh, int kw, int groups)
    {
        var s = new ConvSpec(2, true, 4, 6, width, 4, kh, kw, SH: stride, SW: stride, PadH: padH, PadW: padW, DH: dilation, DW: dilation, Groups: groups);
        Assert.False(Handles(s, dtype), $"{s} {dtype}");
    }

    /// <summary>With the 256-bit kernels the 3x3 kernel stands aside, and the row kernel gives the same bits.</summary>
    [Fact]
    public void TheNarrowWidthSkipsTheKernelWithTheSameBits()
    {
        var s = new ConvSpec(2, true, 3, 5, 13, 6, 3, 3, PadH: 1, PadW: 1, Groups: 3, Bias: true);
        var (wide, narrow) = VectorWidthTests.BothWidths(() =>
        {
            var handled = Handles(s, DType.F32);
            return [.. Run(s, DType.F32, 3), [handled ? 1 : 0]];
        });
        Assert.Equal(0, narrow[4][0]);
        if (Has512) Assert.Equal(1, wide[4][0]);
        Bitwise(wide[0], narrow[0], "forward, 3x3 kernel vs 256-bit row kernel");
        Bitwise(wide[1], narrow[1], "input gradient, 3x3 kernel vs 256-bit row kernel");
    }
}
