using Engine.Autograd;
using Xunit;

namespace Engine.Tests.Core;

public class SmokeTests
{
    [Fact]
    public void ExpressionBackward()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, [2, 3]).RequiresGradInPlace();
        var b = Tensor.FromArray(new double[] { 0.5, -1, 2 }, [3]).RequiresGradInPlace();
        var y = (a * b).Sum();
        y.Backward();
        Assert.Equal(new double[] { 0.5, -1, 2, 0.5, -1, 2 }, a.Grad!.ToArray<double>());
        Assert.Equal(new double[] { 5, 7, 9 }, b.Grad!.ToArray<double>());
        var m = a.MatMul(a.T);
        Assert.Equal(new double[] { 14, 32, 32, 77 }, m.ToArray<double>());
        var r = GradCheck.Check(x => x[0].MatMul(x[1]).Tanh(), [Tensor.Randn([3, 4], DType.F64), Tensor.Randn([4, 2], DType.F64)]);
        Assert.True(r.Passed, r.ToString());
        System.Console.WriteLine(a);
    }
}
