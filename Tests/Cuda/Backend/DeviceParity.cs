using Engine.Autograd;
using Engine.Backends;
using Engine.Tests.Gradients;

namespace Engine.Tests.Cuda.Backend;

/// <summary>
/// The GPU-vs-CPU property of one generated case: the same operands (same values, same strides: permuted,
/// stepped and broadcast views are rebuilt on each device) in F32 and F64, the same function run on the CPU
/// and on <c>cuda:0</c> (with that device as the default, so tensors the function makes land there too), the
/// same upstream gradient; the outputs and every leaf's gradient must agree within
/// <see cref="Tolerance"/> relative (an element may differ by tol·(1 + |cpu|)).
/// </summary>
public static class DeviceParity
{
    /// <summary>The relative tolerance per dtype: float32 1e-5, float64 1e-12.</summary>
    public static double Tolerance(DType dtype) => dtype == DType.F32 ? 1e-5 : 1e-12;

    /// <summary>Checks one case in both dtypes; null when the devices agree, else what differs.</summary>
    public static string? CheckCase(Case c, Func<Tensor[], Case, Tensor> function, Func<int, Values>? values)
    {
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            using var scope = Tensor.Scope();
            var layouts = c.Operands.Select((o, i) => GradientProperty.MakeLayout(o, c.Seed + 7919 * i, values?.Invoke(i) ?? Values.Normal)).ToArray();
            var cpu = Run(layouts, function, c, dtype, Device.Cpu);
            var gpu = Run(layouts, function, c, dtype, Device.Cuda(0));
            if (Compare("output", cpu.Output, gpu.Output, dtype) is { } bad) return $"{c} {dtype.TorchName()}: {bad}";
            for (int i = 0; i < cpu.Grads.Length; i++)
                if (Compare($"gradient of operand {i}", cpu.Grads[i], gpu.Grads[i], dtype) is { } badGrad) return $"{c} {dtype.TorchName()}: {badGrad}";
        }
        return null;
    }

    private static (double[] Output, double[]?[] Grads) Run((Tensor Data, Func<Tensor, Tensor> View, Func<Tensor, Tensor> Prepare)[] layouts,
        Func<Tensor[], Case, Tensor> function, Case c, DType dtype, Device device)
    {
        using var onDevice = Devices.Use(device);
        var leaves = layouts.Select(l =>
        {
            // A fresh copy for each run (the scope frees it): the view may be the copy itself.
            var moved = l.Data.ToDType(dtype).ToDevice(device);
            if (ReferenceEquals(moved, l.Data)) moved = l.Data.Clone();
            var leaf = l.View(moved);
            if (leaf.DType.IsFloatingPoint()) leaf.RequiresGrad = true;
            return leaf;
        }).ToArray();
        var y = function(leaves.Select((x, i) => layouts[i].Prepare(x)).ToArray(), c);
        if (y.Device != device) throw new InvalidOperationException($"the function's result is on {y.Device}, its inputs on {device}");
        var output = Host(y);
        if (y.RequiresGrad)
        {
            // The same upstream gradient on both devices: drawn on the CPU in float64, then converted.
            using var g64 = Tensor.Randn(y.Shape, DType.F64, Device.Cpu, new Engine.Randomness.Generator((ulong)c.Seed + 1));
            using var g = g64.ToDType(y.DType);
            using var gy = g.ToDevice(device);
            y.Backward(gy);
        }
        return (output, leaves.Select(l => l.Grad is null ? null : Host(l.Grad)).ToArray());
    }

    private static double[] Host(Tensor t)
    {
        using var noGrad = Tape.NoGrad();
        return t.DType == DType.I64 ? t.ToArray<long>().Select(v => (double)v).ToArray()
            : t.DType == DType.Bool ? t.ToArray<bool>().Select(v => v ? 1.0 : 0.0).ToArray()
            : t.ToArray<double>();
    }

    private static string? Compare(string what, double[]? cpu, double[]? gpu, DType dtype)
    {
        if (cpu is null || gpu is null)
            return cpu is null && gpu is null ? null : $"{what}: the CPU gives {(cpu is null ? "none" : "one")}, the GPU {(gpu is null ? "none" : "one")}";
        if (cpu.Length != gpu.Length) return $"{what}: {cpu.Length} elements on the CPU, {gpu.Length} on the GPU";
        double tol = Tolerance(dtype);
        for (int i = 0; i < cpu.Length; i++)
        {
            double a = cpu[i], b = gpu[i];
            if (double.IsNaN(a) && double.IsNaN(b)) continue;
            if (a == b) continue;   // infinities of the same sign
            if (!(Math.Abs(a - b) <= tol * (1 + Math.Abs(a))))
                return $"{what}: element {i} is {b:R} on the GPU, {a:R} on the CPU";
        }
        return null;
    }
}
