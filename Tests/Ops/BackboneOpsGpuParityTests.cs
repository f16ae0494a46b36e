using Engine.Ops;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Ops;

/// <summary>
/// The backbones' operators on the GPU against their CPU twins, in float32 and float64: the output and
/// the gradient of every operand, for one small case each (odd and non-square sizes, cross-attention).
/// Reported as 'skipped: no CUDA device' where there is none.
/// </summary>
public class BackboneOpsGpuParityTests
{
    /// <summary>Runs <paramref name="op"/> on random operands of <paramref name="shapes"/> on both devices and compares.</summary>
    internal static void AssertGpuMatchesCpu(string name, int[][] shapes, Func<Tensor[], Tensor> op)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            using var scope = Tensor.Scope();
            var g = new Generator(11);
            var cpu = shapes.Select(s => Tensor.Randn(s, dtype, Device.Cpu, g)).ToArray();
            var (yCpu, gradsCpu) = Run(op, cpu, Device.Cpu);
            var (yGpu, gradsGpu) = Run(op, cpu, Device.Cuda(0));
            double tol = dtype == DType.F32 ? 1e-4 : 1e-10;
            AssertNear(yCpu, yGpu, tol, $"{name} {dtype} output");
            for (int i = 0; i < gradsCpu.Length; i++) AssertNear(gradsCpu[i], gradsGpu[i], tol, $"{name} {dtype} gradient of operand {i}");
        }
    }

    private static (double[] Y, double[][] Grads) Run(Func<Tensor[], Tensor> op, Tensor[] operands, Device device)
    {
        var leaves = operands.Select(t => t.ToDevice(device).Clone().RequiresGradInPlace()).ToArray();
        var y = op(leaves);
        var gy = Tensor.Randn(y.Shape, y.DType, Device.Cpu, new Generator(12)).ToDevice(device);
        y.Backward(gy);
        return (y.ToDevice(Device.Cpu).ToDType(DType.F64).ToArray<double>(),
            leaves.Select(t => t.Grad!.ToDevice(Device.Cpu).ToDType(DType.F64).ToArray<double>()).ToArray());
    }

    private static void AssertNear(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"{what}: element {i} is {actual[i]:R}, CPU gives {expected[i]:R}");
    }

    /// <summary>The weights of one bidirectional LSTM layer: (ih, hh, bias_ih, bias_hh) per direction.</summary>
    private static int[][] LstmWeights(int input, int hidden) =>
        [.. Enumerable.Repeat<int[][]>([[4 * hidden, input], [4 * hidden, hidden], [4 * hidden], [4 * hidden]], 2).SelectMany(w => w)];

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Dct2AndIdct2()
    {
        foreach (var impl in new[] { DctImplementation.Matmul, DctImplementation.Fft })
        {
            AssertGpuMatchesCpu($"dct2 {impl}", [[2, 3, 5, 6]], x => Functional.Dct2(x[0], impl));
            AssertGpuMatchesCpu($"idct2 {impl}", [[2, 3, 7, 4]], x => Functional.Idct2(x[0], impl));
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void HeatDecayAndHeatConduction()
    {
        AssertGpuMatchesCpu("heat_decay", [[3, 5, 6]], x => Functional.HeatDecay(x[0]));
        AssertGpuMatchesCpu("heat_conduction", [[2, 5, 6, 4], [5, 6, 4]], x => Functional.HeatConduction(x[0], x[1]));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Rfft2AndIrfft2()
    {
        foreach (var norm in new[] { "backward", "ortho", "forward" })
        {
            AssertGpuMatchesCpu($"rfft2 {norm}", [[2, 3, 5, 7]], x => Functional.Rfft2(x[0], norm));
            AssertGpuMatchesCpu($"irfft2 {norm}", [[2, 3, 5, 4, 2]], x => Functional.Irfft2(x[0], norm: norm));
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void AdaptiveFilterPieces()
    {
        AssertGpuMatchesCpu("complex_group_linear", [[2, 8, 3, 4, 2], [2, 2, 4, 4], [2, 2, 4]], x => Functional.ComplexGroupLinear(x[0], x[1], x[2]));
        AssertGpuMatchesCpu("complex_mul", [[2, 3, 4, 2], [2, 3, 4, 2]], x => Functional.ComplexMul(x[0], x[1]));
        AssertGpuMatchesCpu("adaptive_frequency_filter", [[2, 32, 6, 7], [2, 8, 4, 4], [2, 8, 4], [2, 8, 4, 4], [2, 8, 4]],
            x => Functional.AdaptiveFrequencyFilter(x[0], x[1], x[2], x[3], x[4]));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void LstmAndLstm2d()
    {
        AssertGpuMatchesCpu("lstm", [[2, 5, 3], .. LstmWeights(3, 4)],
            x => Functional.Lstm(x[0], x[1..], bidirectional: true, batchFirst: true).Output);
        AssertGpuMatchesCpu("lstm2d", [[2, 3, 4, 5], .. LstmWeights(5, 2), .. LstmWeights(5, 2)],
            x => Functional.Lstm2d(x[0], x[1..9], x[9..]));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void ScaledDotProductAttention()
    {
        AssertGpuMatchesCpu("sdpa self", [[2, 2, 5, 4], [2, 2, 5, 4], [2, 2, 5, 4]], x => Functional.ScaledDotProductAttention(x[0], x[1], x[2]));
        AssertGpuMatchesCpu("sdpa cross", [[2, 2, 5, 4], [2, 2, 7, 4], [2, 2, 7, 3]], x => Functional.ScaledDotProductAttention(x[0], x[1], x[2], scale: 0.3));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void DepthwiseConvChannelsLast()
    {
        AssertGpuMatchesCpu("depthwise_conv2d_channels_last", [[2, 5, 6, 4], [4, 1, 3, 3], [4]], x => Functional.DepthwiseConv2dChannelsLast(x[0], x[1], x[2]));
    }
}
