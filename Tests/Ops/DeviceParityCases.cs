using Engine.Randomness;
using Engine.Tests.Core;
using Xunit;

namespace Engine.Tests.Ops;

/// <summary>
/// One operator case run on the CPU and on <c>cuda:0</c>: the same inputs (made on the CPU, copied to each device as
/// fresh leaves; floating-point ones require a gradient), the same upstream gradient, then the output and every
/// leaf's gradient compared, F32 to 1e-5 and F64 to 1e-12 (relative and absolute), or bit for bit where the kernels
/// promise the CPU's bits. The inputs may include integer tensors (class targets), which get no gradient.
/// </summary>
internal static class DeviceParityCases
{
    /// <summary>The tolerance of the GPU parity tests: float32 1e-5, float64 1e-12.</summary>
    public static double Tolerance(DType dtype) => dtype == DType.F32 ? 1e-5 : 1e-12;

    /// <summary>
    /// Runs <paramref name="op"/> on both devices in F32 and F64 with the inputs <paramref name="inputs"/> makes on the
    /// CPU for a dtype, and compares; <paramref name="bitwise"/> asks for equal bits.
    /// </summary>
    public static void Check(string what, Func<DType, Tensor[]> inputs, Func<Tensor[], Tensor> op, bool bitwise = false)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            using var scope = Tensor.Scope();
            var host = inputs(dtype);
            var cpu = Run(host, op, Device.Cpu);
            var cuda = Run(host, op, Device.Cuda(0));
            for (int i = 0; i < cpu.Length; i++)
            {
                string label = $"{what} {dtype.TorchName()}: {(i == 0 ? "output" : $"gradient of input {i - 1}")}";
                Assert.Equal(cpu[i] is null, cuda[i] is null);
                if (cpu[i] is null) continue;
                if (bitwise) Reference.Bitwise(cpu[i]!, cuda[i]!, label);
                else Reference.Close(cpu[i]!, cuda[i]!, Tolerance(dtype), Tolerance(dtype), label);
            }
        }
    }

    /// <summary>
    /// A large case in F32 only (rows or elements beyond one grid): <paramref name="op"/> of one standard normal input
    /// of <paramref name="shape"/> on both devices, the same upstream gradient, output and gradient compared to 1e-5.
    /// </summary>
    public static void CheckF32(string what, int[] shape, Func<Tensor, Tensor> op)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn(shape, DType.F32, Device.Cpu, new Generator(5));
        (float[] Output, float[] Gradient) Run(Device device)
        {
            var leaf = device == Device.Cpu ? x.Clone() : x.ToDevice(device);
            leaf.RequiresGrad = true;
            var y = op(leaf);
            using var g = Tensor.Randn(y.Shape, DType.F32, Device.Cpu, new Generator(6));
            y.Backward(g.ToDevice(device));
            return (y.ToArray<float>(), leaf.Grad!.ToArray<float>());
        }
        var cpu = Run(Device.Cpu);
        var cuda = Run(Device.Cuda(0));
        Close(cpu.Output, cuda.Output, what + ": output");
        Close(cpu.Gradient, cuda.Gradient, what + ": gradient");
    }

    private static void Close(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (long i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= 1e-5 * (1 + Math.Abs(expected[i]))) && !(float.IsNaN(expected[i]) && float.IsNaN(actual[i])))
                Assert.Fail($"{what} at flat index {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    /// <summary>The output and each input's gradient (null for inputs without one), as doubles on the host.</summary>
    private static double[]?[] Run(Tensor[] host, Func<Tensor[], Tensor> op, Device device)
    {
        var leaves = host.Select(t =>
        {
            // Fresh leaves on each device, cut from whatever made the inputs.
            var leaf = device == Device.Cpu ? t.Detach().Clone() : t.Detach().ToDevice(device);
            if (leaf.DType.IsFloatingPoint()) leaf.RequiresGrad = true;
            return leaf;
        }).ToArray();
        var y = op(leaves);
        Assert.Equal(device, y.Device);
        if (y.RequiresGrad)
        {
            using var g64 = Tensor.Randn(y.Shape, DType.F64, Device.Cpu, new Generator(99));
            using var g = g64.ToDType(y.DType);
            y.Backward(g.ToDevice(device));
        }
        return [Host(y), .. leaves.Select(l => l.Grad is null ? null : Host(l.Grad))];
    }

    private static double[] Host(Tensor t)
    {
        using var noGrad = Engine.Autograd.Tape.NoGrad();
        return t.ToArray<double>();
    }
}
