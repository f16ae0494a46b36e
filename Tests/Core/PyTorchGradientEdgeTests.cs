using Engine.Backends;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// Gradients at the edges of their formulas, where PyTorch's backward gives a defined value the textbook
/// derivative does not (std of a constant slice, pow at base 0) or where the order of the arithmetic decides
/// between a finite gradient and an overflow (log at a subnormal, the divisor's gradient of div). Each case is
/// checked on the CPU in both dtypes, and on CUDA (a real GPU or the emulator), whose kernels carry their own
/// formulas.
/// </summary>
public class PyTorchGradientEdgeTests
{
    public static TheoryData<DType> DTypes => new() { DType.F32, DType.F64 };

    /// <summary>The gradients of the leaves made from <paramref name="inputs"/> after backward of f(leaves) with upstream <paramref name="upstream"/> (ones when null).</summary>
    private static double[][] Grads(Device device, DType dtype, double[][] inputs, Func<Tensor[], Tensor> f, double[]? upstream = null)
    {
        using var scope = Tensor.Scope();
        var leaves = inputs.Select(v => Tensor.FromArray(v).ToDType(dtype).ToDevice(device).RequiresGradInPlace()).ToArray();
        var y = f(leaves);
        var g = upstream is null ? Tensor.Ones(y.Shape, dtype, device) : Tensor.FromArray(upstream).Reshape(y.Shape).ToDType(dtype).ToDevice(device);
        y.Backward(g);
        return leaves.Select(l => l.Grad!.ToArray<double>()).ToArray();
    }

    private static double[] Grad(Device device, DType dtype, double[] x, Func<Tensor, Tensor> f, double[]? upstream = null) =>
        Grads(device, dtype, [x], t => f(t[0]), upstream)[0];

    private static void Same(double[] expected, double[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].Equals(actual[i]), $"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R} (all: [{string.Join(", ", actual)}])");
    }

    /// <summary>Equal where exact values are expected (zeros, infinities, NaN), else within a relative 1e-6 (the dtype's rounding of the ordinary formula).</summary>
    private static void Close(double[] expected, double[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            bool ok = expected[i] == 0 || !double.IsFinite(expected[i]) ? expected[i].Equals(actual[i]) : Math.Abs(actual[i] - expected[i]) <= 1e-6 * Math.Abs(expected[i]);
            Assert.True(ok, $"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R} (all: [{string.Join(", ", actual)}])");
        }
    }

    /// <summary>PyTorch's std_backward masks the slices whose std is 0: their gradient is 0, not 0 * (1/0) = NaN.</summary>
    private static void StdOfAConstantSlice(Device device, DType dtype)
    {
        Close([0, 0], Grad(device, dtype, [2, 2], x => x.Std()), "std([2, 2])");
        Close([0], Grad(device, dtype, [1.5], x => x.Std(correction: 0)), "std([1.5], correction 0)");
        // Over a dim: the constant row gets 0, the other row its ordinary gradient (x - mean) / (std (n - 1)).
        foreach (bool keepDim in new[] { false, true })
            Close([0, 0, 0, -0.5, 0, 0.5], Grad(device, dtype, [1, 1, 1, 1, 2, 3], x => x.Reshape(2, 3).Std(1, keepDim: keepDim)), $"std(dim 1, keepDim {keepDim})");
        // One element with Bessel's correction has a NaN std (0 / 0): its gradient stays NaN, as in PyTorch.
        Assert.True(double.IsNaN(Grad(device, dtype, [1.5], x => x.Std())[0]), "std([1.5]) with correction 1");
    }

    /// <summary>
    /// PyTorch's pow backward: dx is 0 where the exponent is 0 (not 0 * x^-1 = NaN at x = 0), and dy is 0
    /// where x == 0 and y &gt;= 0 only; at x == 0 with y &lt; 0 it is x^y log x = inf * -inf = -inf.
    /// </summary>
    private static void PowAtBaseZero(Device device, DType dtype)
    {
        var g = Grads(device, dtype, [[0, 0, 2], [0, -1, 0]], t => t[0].Pow(t[1]));
        Close([0, double.NegativeInfinity, 0], g[0], "pow dx");
        Close([0, double.NegativeInfinity, dtype == DType.F32 ? MathF.Log(2) : Math.Log(2)], g[1], "pow dy");
        // Broadcast exponent: the masks broadcast with it.
        g = Grads(device, dtype, [[0, 0, 3], [0]], t => t[0].Pow(t[1]));
        Close([0, 0, 0], g[0], "pow dx, broadcast y = 0");
        Close([dtype == DType.F32 ? MathF.Log(3) : Math.Log(3)], g[1], "pow dy, broadcast y = 0 (log 3 from x = 3 only)");
        // Scalar exponent: 0 where the exponent is 0; elsewhere a * x^(a - 1), inf at x = 0 for a < 1.
        Close([0, 0], Grad(device, dtype, [0, 2], x => x.Pow(0)), "x ** 0");
        Close([double.PositiveInfinity, 0.5], Grad(device, dtype, [0, 1], x => x.Pow(0.5)), "x ** 0.5");
        // Scalar base 0: the log term is 0 where the exponent is >= 0, -inf below (0 ** -1 = inf, log 0 = -inf).
        Close([0, 0, double.NegativeInfinity], Grad(device, dtype, [0, 2, -1], x => x.Unary<ScalarPowOp>(0)), "0 ** x");
        Close([dtype == DType.F32 ? MathF.Log(2) : Math.Log(2), 4 * (dtype == DType.F32 ? MathF.Log(2) : Math.Log(2))],
            Grad(device, dtype, [0, 2], x => x.Unary<ScalarPowOp>(2)), "2 ** x");
    }

    /// <summary>
    /// Log's backward divides the gradient by x, as PyTorch does: at a subnormal x, 1 / x alone overflows
    /// where g / x is finite.
    /// </summary>
    private static void LogAtASubnormal(Device device, DType dtype)
    {
        double x = dtype == DType.F32 ? -1e-40f : -1e-310, g = dtype == DType.F32 ? -0.0124f : -0.0124;
        double expected = dtype == DType.F32 ? (float)g / (float)x : g / x;
        Assert.True(double.IsFinite(expected));
        Same([expected], Grad(device, dtype, [x], t => t.Log(), [g]), "log at a subnormal");
    }

    /// <summary>sqrt's backward is g / (2 sqrt x), as PyTorch's, rounded once (g * (0.5 / y) rounds twice).</summary>
    private static void SqrtDividesOnce(Device device, DType dtype)
    {
        if (dtype == DType.F64)
            Same([0.1 / (2 * Math.Sqrt(3))], Grad(device, dtype, [3], t => t.Sqrt(), [0.1]), "sqrt backward");
        else
            Same([0.1f / (2 * MathF.Sqrt(3))], Grad(device, dtype, [3], t => t.Sqrt(), [0.1f]), "sqrt backward");
    }

    /// <summary>The divisor's gradient is -g * ((x / y) / y), in PyTorch's order: g * (x / y) first can overflow where the result is finite.</summary>
    private static void DivisorGradientDividesFirst(Device device, DType dtype)
    {
        double big = dtype == DType.F32 ? 1e36 : 1e300, x = dtype == DType.F32 ? 1e20 : 1e30, y = dtype == DType.F32 ? 1e15 : 1e20;
        var g = Grads(device, dtype, [[x], [y]], t => t[0].Div(t[1]), [big]);
        double expected = dtype == DType.F32 ? -(float)big * ((float)x / (float)y / (float)y) : -big * (x / y / y);
        Assert.True(double.IsFinite(expected));
        Same([expected], g[1], "div: the divisor's gradient");
    }

    [Theory, MemberData(nameof(DTypes))] public void StdOfAConstantSliceHasAZeroGradient(DType dtype) => StdOfAConstantSlice(Device.Cpu, dtype);
    [Theory, MemberData(nameof(DTypes))] public void PowGradientsAtBaseZeroFollowPyTorch(DType dtype) => PowAtBaseZero(Device.Cpu, dtype);
    [Theory, MemberData(nameof(DTypes))] public void LogBackwardAtASubnormalIsFinite(DType dtype) => LogAtASubnormal(Device.Cpu, dtype);
    [Theory, MemberData(nameof(DTypes))] public void SqrtBackwardDividesTheGradient(DType dtype) => SqrtDividesOnce(Device.Cpu, dtype);
    [Theory, MemberData(nameof(DTypes))] public void DivisorGradientDoesNotOverflowEarly(DType dtype) => DivisorGradientDividesFirst(Device.Cpu, dtype);

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void TheSameEdgesOnCuda()
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            StdOfAConstantSlice(Device.Cuda(0), dtype);
            PowAtBaseZero(Device.Cuda(0), dtype);
            LogAtASubnormal(Device.Cuda(0), dtype);
            SqrtDividesOnce(Device.Cuda(0), dtype);
            DivisorGradientDividesFirst(Device.Cuda(0), dtype);
        }
    }
}
