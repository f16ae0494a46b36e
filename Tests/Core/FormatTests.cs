using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// ToString prints the values exactly as PyTorch 1.13 prints them (torch/_tensor_str.py, default print
/// options), then the engine's suffixes: shape, dtype and device. Each expected value part below is what
/// PyTorch prints for the same data.
/// </summary>
public class FormatTests
{
    private const string F32 = "dtype=torch.float32, device=cpu";
    private const string F64 = "dtype=torch.float64, device=cpu";

    private static string Str(double[] values, params int[] shape)
    {
        using var t = Tensor.FromArray(values, shape.Length == 0 && values.Length != 1 ? [values.Length] : shape);
        return t.ToString();
    }

    [Fact]
    public void IntegralFloatsPrintWithATrailingPoint()
    {
        using var scope = Tensor.Scope();
        Assert.Equal("tensor([1., 2., 3.], shape=[3], " + F32 + ")", Tensor.FromArray(new float[] { 1, 2, 3 }).ToString());
        Assert.Equal("tensor([-1.,  0., 10.], shape=[3], " + F64 + ")", Str([-1, 0, 10]));
        Assert.Equal("tensor([0., 0.], shape=[2], " + F64 + ")", Str([0, 0]));
        Assert.Equal("tensor([-0.], shape=[1], " + F64 + ")", Str([-0.0], 1));
    }

    [Fact]
    public void FractionsPrintWithFourDecimals()
    {
        using var scope = Tensor.Scope();
        Assert.Equal("tensor([1.5000, 2.2500], shape=[2], " + F64 + ")", Str([1.5, 2.25]));
        Assert.Equal("tensor([ 0.1000, -0.3333], shape=[2], " + F64 + ")", Str([0.1, -1.0 / 3]));
        // F32 values are printed from their exact float value.
        Assert.Equal("tensor([0.1000, 0.2000], shape=[2], " + F32 + ")", Tensor.FromArray(new float[] { 0.1f, 0.2f }).ToString());
        // Python rounds correctly, ties to even: 0.03125 -> 0.0312, 0.09375 -> 0.0938.
        Assert.Equal("tensor([0.0312, 0.0938, 1.0000], shape=[3], " + F64 + ")", Str([0.03125, 0.09375, 1]));
        Assert.Equal("tensor(3.5000, shape=[], " + F64 + ")", Str([3.5]));
    }

    [Fact]
    public void ScientificNotationWhenTheRangeIsWide()
    {
        using var scope = Tensor.Scope();
        // max / min > 1000 among the non-zero finite values.
        Assert.Equal("tensor([1.0000e-01, 1.0000e+03], shape=[2], " + F64 + ")", Str([0.1, 1000]));
        // Also for integral values: torch.tensor([1., 10000.]).
        Assert.Equal("tensor([1.0000e+00, 1.0000e+04], shape=[2], " + F64 + ")", Str([1, 10000]));
        // The smallest value below 1e-4.
        Assert.Equal("tensor([1.0000e-05, 2.0000e-05], shape=[2], " + F64 + ")", Str([1e-5, 2e-5]));
        // The largest above 1e8; exactly 1e8 is still printed plainly.
        Assert.Equal("tensor([1.2346e+09], shape=[1], " + F64 + ")", Str([1234567890], 1));
        Assert.Equal("tensor([100000000.], shape=[1], " + F64 + ")", Str([1e8], 1));
        // Every element is padded to the widest (a three-digit exponent here).
        Assert.Equal("tensor([-1.5000e+100,   2.0000e+00], shape=[2], dtype=torch.float64,\n       device=cpu)", Str([-1.5e100, 2]));
        Assert.Equal("tensor([0.0000e+00, 1.0000e-05], shape=[2], " + F64 + ")", Str([0, 1e-5]));
    }

    [Fact]
    public void NonFiniteValuesDoNotWidenTheColumns()
    {
        using var scope = Tensor.Scope();
        double nan = double.NaN, inf = double.PositiveInfinity;
        // torch.tensor([1., nan, inf]) -> tensor([1., nan, inf])
        Assert.Equal("tensor([1., nan, inf], shape=[3], " + F64 + ")", Str([1, nan, inf]));
        Assert.Equal("tensor([0.5000,    nan,   -inf], shape=[3], " + F64 + ")", Str([0.5, nan, -inf]));
        Assert.Equal("tensor([nan, inf], shape=[2], " + F64 + ")", Str([nan, inf]));
        Assert.Equal("tensor([0., nan], shape=[2], " + F64 + ")", Str([0, nan]));
    }

    [Fact]
    public void MatricesAlignColumns()
    {
        using var scope = Tensor.Scope();
        var m = Tensor.FromArray(new double[] { 1, -2, 30, 4.5 }, [2, 2]);
        Assert.Equal(
            "tensor([[ 1.0000, -2.0000],\n" +
            "        [30.0000,  4.5000]], shape=[2, 2], " + F64 + ")", m.ToString());
        var c = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6, 7, 8 }, [2, 2, 2]);
        Assert.Equal(
            "tensor([[[1., 2.],\n" +
            "         [3., 4.]],\n" +
            "\n" +
            "        [[5., 6.],\n" +
            "         [7., 8.]]], shape=[2, 2, 2], " + F64 + ")", c.ToString());
        // A non-contiguous view prints its own logical order.
        Assert.Equal(
            "tensor([[1., 3., 5., 7.],\n" +
            "        [2., 4., 6., 8.]], shape=[2, 4], " + F64 + ")", c.Reshape(4, 2).T.ToString());
    }

    [Fact]
    public void IntegerAndBoolTensors()
    {
        using var scope = Tensor.Scope();
        Assert.Equal(
            "tensor([[  1, -20],\n" +
            "        [300,   4]], shape=[2, 2], dtype=torch.int64, device=cpu)",
            Tensor.FromArray(new long[] { 1, -20, 300, 4 }, [2, 2]).ToString());
        Assert.Equal("tensor([ True, False], shape=[2], dtype=torch.bool, device=cpu)", Tensor.FromArray(new[] { true, false }).ToString());
        Assert.Equal("tensor(7, shape=[], dtype=torch.int64, device=cpu)", Tensor.Scalar(7, DType.I64).ToString());
        // int64 values beyond 2^53 print exactly.
        Assert.Equal("tensor([9223372036854775807], shape=[1], dtype=torch.int64, device=cpu)", Tensor.FromArray(new[] { long.MaxValue }).ToString());
    }

    [Fact]
    public void LongRowsWrapAtEightyColumns()
    {
        using var scope = Tensor.Scope();
        // torch.arange(30.)
        Assert.Equal(
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n" +
            "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n" +
            "        28., 29.], shape=[30], " + F32 + ")", Tensor.Arange(30).ToString());
        // A suffix that would pass column 80 goes on its own line, indented like the values.
        Assert.Equal(
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.],\n" +
            "       shape=[14], " + F32 + ")", Tensor.Arange(14).ToString());
    }

    [Fact]
    public void MoreThanAThousandElementsAreSummarised()
    {
        using var scope = Tensor.Scope();
        // torch.arange(2000.): the mode is chosen from the edge items only (0..2 and 1997..1999: ratio > 1000).
        Assert.Equal(
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n" +
            "        1.9990e+03], shape=[2000], " + F32 + ")", Tensor.Arange(2000).ToString());
        // torch.arange(2000); the dtype suffix would pass column 80, so it wraps.
        Assert.Equal("tensor([   0,    1,    2,  ..., 1997, 1998, 1999], shape=[2000],\n       dtype=torch.int64, device=cpu)",
            Tensor.Arange(2000, DType.I64).ToString());
        // Exactly 1000 elements are printed in full.
        Assert.DoesNotContain("...", Tensor.Zeros([1000]).ToString());
        Assert.Contains("...", Tensor.Zeros([1001]).ToString());
    }

    [Fact]
    public void SummarisedMatricesKeepThreeEdgeRowsAndColumns()
    {
        using var scope = Tensor.Scope();
        const string row = "[0., 0., 0.,  ..., 0., 0., 0.]";
        Assert.Equal(
            "tensor([" + row + ",\n" +
            "        " + row + ",\n" +
            "        " + row + ",\n" +
            "        ...,\n" +
            "        " + row + ",\n" +
            "        " + row + ",\n" +
            "        " + row + "], shape=[100, 100], dtype=torch.float32,\n" +
            "       device=cpu)", Tensor.Zeros([100, 100]).ToString());
        // The interior values do not affect the format: only the edges are looked at.
        var x = Tensor.Zeros([100, 100], DType.F64);
        x.Select(0, 50).Fill(0.123456);
        Assert.Equal(Tensor.Zeros([100, 100], DType.F64).ToString(), x.ToString());
    }

    [Fact]
    public void SummarisedThreeDimensionalTensorsSeparateBlocksWithBlankLines()
    {
        using var scope = Tensor.Scope();
        var s = Tensor.Zeros([20, 2, 50]).ToString();
        const string row = "[0., 0., 0.,  ..., 0., 0., 0.]";
        const string block = "[" + row + ",\n         " + row + "]";
        var expected = "tensor([" + block + ",\n\n" +
                       "        " + block + ",\n\n" +
                       "        " + block + ",\n\n" +
                       "        ...,\n\n" +
                       "        " + block + ",\n\n" +
                       "        " + block + ",\n\n" +
                       "        " + block + "], shape=[20, 2, 50],\n" +
                       "       " + F32 + ")";
        Assert.Equal(expected, s);
        Assert.DoesNotContain(" \n", s); // no trailing spaces on the blank lines
    }

    [Fact]
    public void EmptyTensors()
    {
        using var scope = Tensor.Scope();
        Assert.Equal("tensor([], shape=[0], " + F32 + ")", Tensor.Zeros([0]).ToString());
        Assert.Equal("tensor([], shape=[2, 0], dtype=torch.int64, device=cpu)", Tensor.Zeros([2, 0], DType.I64).ToString());
    }

    [Fact]
    public void SuffixesShowGradientState()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 2 }).RequiresGradInPlace();
        Assert.Equal("tensor([1., 2.], shape=[2], " + F64 + ",\n       requires_grad=True)", x.ToString());
        var y = x.Mul(2);
        Assert.Equal("tensor([2., 4.], shape=[2], " + F64 + ", grad_fn=<affine>)", y.ToString());
        var d = Tensor.Zeros([2, 3]);
        d.Dispose();
        Assert.Equal("tensor(<disposed>, shape=[2, 3])", d.ToString());
    }
}
