using Engine.Models.Backbones.VHeat;
using Xunit;

namespace Engine.Tests.Models.VHeat;

/// <summary>vHeat's forward and backward give the same bits for any thread count (they change the global thread count, so they run alone).</summary>
[Collection(Support.SerialCollection.Name)]
public class VHeatDeterminismTests
{
    [Fact]
    public void SameBitsForAnyThreadCount()
    {
        double[][] Run(int threads)
        {
            int previous = Engine.Cpu.CpuParallel.ThreadCount;
            try
            {
                Engine.Cpu.CpuParallel.ThreadCount = threads;
                using var scope = Tensor.Scope();
                using var model = new Engine.Models.Backbones.VHeat.VHeat(VHeatConfig.Nano() with { Depths = [2, 1, 1, 1] }, DType.F32, new Engine.Randomness.Generator(5));
                var x = Tensor.Randn([16, 3, 32, 32], DType.F32, generator: new Engine.Randomness.Generator(6)); x.RequiresGrad = true;
                var y = model.Call(x);
                y.Backward(Tensor.Randn(y.Shape, DType.F32, generator: new Engine.Randomness.Generator(7)));
                return [y.ToArray<double>(), x.Grad!.ToArray<double>(), .. model.Parameters().Select(p => p.Grad!.ToArray<double>())];
            }
            finally
            {
                Engine.Cpu.CpuParallel.ThreadCount = previous;
            }
        }
        var one = Run(1);
        foreach (var threads in new[] { 2, 3 })
        {
            var other = Run(threads);
            for (int i = 0; i < one.Length; i++) Core.Reference.Bitwise(one[i], other[i], $"result {i}, 1 vs {threads} threads");
        }
    }

    [Fact]
    public void SpectralOpsGiveTheSameBitsForAnyThreadCount()
    {
        double[] Run(int threads, Func<Tensor> f)
        {
            int previous = Engine.Cpu.CpuParallel.ThreadCount;
            try { Engine.Cpu.CpuParallel.ThreadCount = threads; using var s = Tensor.Scope(); return f().ToArray<double>(); }
            finally { Engine.Cpu.CpuParallel.ThreadCount = previous; }
        }
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([64, 40, 36], DType.F32, generator: new Engine.Randomness.Generator(8));
        var u = Tensor.Randn([32, 12, 10, 24], DType.F32, generator: new Engine.Randomness.Generator(9));
        var f = Tensor.Rand([12, 10, 24], DType.F32, generator: new Engine.Randomness.Generator(10));
        Func<Tensor>[] ops = [
            () => Engine.Ops.Functional.Dct2(x, Engine.Ops.DctImplementation.Matmul),
            () => Engine.Ops.Functional.Idct2(x, Engine.Ops.DctImplementation.Fft),
            () => Engine.Ops.Functional.HeatConduction(u, f),
        ];
        foreach (var op in ops)
        {
            var one = Run(1, op);
            Core.Reference.Bitwise(one, Run(2, op), "1 vs 2 threads");
            Core.Reference.Bitwise(one, Run(3, op), "1 vs 3 threads");
        }
    }
}
