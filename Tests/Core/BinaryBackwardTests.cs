using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// Mul's and div's backwards form both gradients in one pass over g (<c>IBackend.ProductGradients</c> and
/// <c>QuotientGradients</c>). They must be the bits of the separate operations they replaced (g * y and g * x; g / y
/// and -(g * (z / y))), summed back to the operands' shapes where they broadcast: contiguous operands (the vector
/// loop), broadcast ones and a transposed gradient (the strided loop), both dtypes, and a case large enough to be
/// split across threads.
/// </summary>
public class BinaryBackwardTests
{
    private static void SameBits(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Layout.Shape, actual.Layout.Shape);
        double[] e = expected.ToArray<double>(), a = actual.ToArray<double>();
        for (int i = 0; i < e.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(e[i]) == BitConverter.DoubleToInt64Bits(a[i]), $"{what} at {i}: expected {e[i]}, got {a[i]}");
    }

    public static TheoryData<int[], int[], bool, DType> Cases => new()
    {
        { [7, 33], [7, 33], false, DType.F32 },
        { [7, 33], [7, 33], true, DType.F64 },
        { [4, 1, 5], [3, 5], false, DType.F32 },
        { [1, 9], [6, 1], true, DType.F32 },
        { [5], [2, 3, 5], false, DType.F64 },
        { [300, 700], [300, 700], false, DType.F32 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsHaveTheBitsOfTwoSeparateProducts(int[] xShape, int[] yShape, bool transposedGradient, DType dtype)
    {
        var rng = new Generator(23);
        var x = Tensor.Randn(xShape, dtype, null, rng);
        var y = Tensor.Randn(yShape, dtype, null, rng);
        x.RequiresGrad = true;
        y.RequiresGrad = true;
        var z = x.Mul(y);
        int[] shape = z.Layout.Shape;
        var g = transposedGradient && shape.Length == 2
            ? Tensor.Randn([shape[1], shape[0]], dtype, null, rng).T
            : Tensor.Randn(shape, dtype, null, rng);
        Assert.Equal(transposedGradient && shape.Length == 2, !g.IsContiguous);
        z.Backward(g);
        SameBits(g.Mul(y.Detach()).SumTo(xShape), x.Grad!, "x's gradient");
        SameBits(g.Mul(x.Detach()).SumTo(yShape), y.Grad!, "y's gradient");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuotientGradientsHaveTheBitsOfTheSeparateOperations(int[] xShape, int[] yShape, bool transposedGradient, DType dtype)
    {
        var rng = new Generator(37);
        var x = Tensor.Randn(xShape, dtype, null, rng);
        var y = Tensor.Randn(yShape, dtype, null, rng);
        x.RequiresGrad = true;
        y.RequiresGrad = true;
        var z = x.Div(y);
        int[] shape = z.Layout.Shape;
        var g = transposedGradient && shape.Length == 2
            ? Tensor.Randn([shape[1], shape[0]], dtype, null, rng).T
            : Tensor.Randn(shape, dtype, null, rng);
        z.Backward(g);
        var yd = y.Detach();
        var zd = x.Detach().Div(yd);
        SameBits(g.Div(yd).SumTo(xShape), x.Grad!, "x's gradient");
        SameBits(g.Mul(zd.Div(yd)).Neg().SumTo(yShape), y.Grad!, "y's gradient");
    }

    [Fact]
    public void SquaringOneTensorAddsBothProducts()
    {
        // x * x: both gradients reach the same leaf, which sums them (2 g x up to rounding, exactly g x + g x).
        var x = Tensor.Randn([5, 17], DType.F32, null, new Generator(29));
        x.RequiresGrad = true;
        var g = Tensor.Randn([5, 17], DType.F32, null, new Generator(31));
        x.Mul(x).Backward(g);
        var gx = g.Mul(x.Detach());
        SameBits(gx.Add(gx), x.Grad!, "x's gradient");
    }
}
