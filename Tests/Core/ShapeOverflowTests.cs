using Xunit;

namespace Engine.Tests.Core;

/// <summary>Shapes whose element count does not fit in 64 bits are refused, not wrapped around.</summary>
public class ShapeOverflowTests
{
    [Theory]
    [InlineData(new[] { 65536, 65536, 65536, 65536 })]
    [InlineData(new[] { int.MaxValue, int.MaxValue, 3 })]
    public void CreatingATensorWithTooManyElementsIsAnError(int[] shape)
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(shape));
        Assert.Contains(Layout.Format(shape), e.Message);
        Assert.Contains("more elements than a tensor can hold", e.Message);
    }

    [Fact]
    public void ASizeZeroDimensionMakesAnyShapeEmpty()
    {
        Assert.Equal(0, Layout.Count([int.MaxValue, int.MaxValue, int.MaxValue, 0]));
        using var t = Tensor.Zeros([0, int.MaxValue, int.MaxValue]);
        Assert.Equal(0, t.NumEl);
    }

    [Fact]
    public void ElementCountsTooLargeInBytesAreAnError()
    {
        // 2^61 elements fit in a long, their 2^64 bytes do not.
        Assert.Throws<OverflowException>(() => Tensor.Empty([1 << 30, 1 << 30, 2], DType.F64));
    }
}
