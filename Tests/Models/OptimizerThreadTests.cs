using Engine.Cpu;
using Engine.Models.Optim;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>The fused kernels split large tensors across threads; the bits must not depend on how many.</summary>
[Collection(SerialCollection.Name)]
public class OptimizerThreadTests
{
    /// <summary>Enough elements for every kernel to split (the clip norm sums chunks of 32768).</summary>
    private static readonly int[] Shape = [233, 301];

    /// <summary>The initial parameter and three gradients, drawn once.</summary>
    private static readonly float[][] Data = Draw();

    private static float[][] Draw()
    {
        using var scope = Tensor.Scope();
        var g = new Generator(5);
        return Enumerable.Range(0, 4).Select(_ => Tensor.Randn(Shape, DType.F32, generator: g).ToArray<float>()).ToArray();
    }

    private static (double[] Params, double[] Ema, double Norm) Run(int threads, int factory)
    {
        int saved = CpuParallel.ThreadCount;
        CpuParallel.ThreadCount = threads;
        try
        {
            using var scope = Tensor.Scope();
            var p = Tensor.FromArray(Data[0], Shape).RequiresGradInPlace();
            using var opt = OptimizerTests.Factories[factory]([new ParamGroup([p])]);
            using var ema = new Ema([p], decay: 0.99);
            double norm = 0;
            for (int s = 0; s < 3; s++)
            {
                p.Grad = Tensor.FromArray(Data[1 + s], Shape);
                norm = GradientClipping.ClipGradNorm([p], 10).Item();
                opt.Step();
                ema.Update();
            }
            return (p.ToArray<double>(), ema.Values["0"].ToArray<double>(), norm);
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    [Theory]
    [MemberData(nameof(OptimizerTests.FactoryIndices), MemberType = typeof(OptimizerTests))]
    public void ResultsAreBitIdenticalForAnyThreadCount(int factory)
    {
        var one = Run(1, factory);
        var two = Run(2, factory);
        var three = Run(3, factory);
        Assert.Equal(one.Params, two.Params);
        Assert.Equal(one.Params, three.Params);
        Assert.Equal(one.Ema, two.Ema);
        Assert.Equal(one.Norm, three.Norm);
    }
}
