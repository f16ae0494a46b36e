using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

/// <summary>
/// Softmax and log-softmax along one axis: one fused tape node each, with its own backward. The data is seen as
/// (outer, n, inner) around the axis; the kernels run on the CPU (<c>Softmax.Cpu.cs</c>) and on CUDA
/// (<c>Softmax.Cuda.cs</c>, <c>Softmax.cu</c>).
/// </summary>
internal static class SoftmaxFunction
{
    public static Tensor Apply(Tensor input, int dim, bool log)
    {
        string op = log ? "log_softmax" : "softmax";
        FamilyGuards.Float(op, input);
        int axis = Layout.NormalizeDim(dim, input.Rank, op, input.Layout.Shape);
        long t0 = Stopwatch.GetTimestamp();
        var (outer, n, inner) = Split(input.Layout.Shape, axis);
        var y = Tensor.Empty(input.Layout.Shape, input.DType, input.Device);
        if (y.NumEl > 0)
        {
            using var x = FamilyGuards.Dense(input);
            Forward(op, x, y, outer, n, inner, log);
        }
        if (Tape.ShouldRecord(input))
        {
            var sy = Tape.Save(y);
            Tape.Record(op, [input], [y], g =>
            {
                var yv = sy.Value;
                var gx = Tensor.Empty(yv.Layout.Shape, yv.DType, yv.Device);
                if (gx.NumEl > 0)
                {
                    using var gc = FamilyGuards.Dense(g[0]);
                    Backward(op, gc, yv, gx, outer, n, inner, log);
                }
                return [gx];
            }, [sy], t0);
        }
        return y;
    }

    /// <summary>(product of the sizes before axis, size of axis, product of the sizes after it); a scalar is (1, 1, 1).</summary>
    public static (long Outer, int N, long Inner) Split(int[] shape, int axis)
    {
        if (shape.Length == 0) return (1, 1, 1);
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape[axis], inner);
    }

    private static void Forward(string op, Tensor x, Tensor y, long outer, int n, long inner, bool log)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: SoftmaxKernels.Forward(x, y, outer, n, inner, log); break;
            case DeviceType.Cuda: SoftmaxCuda.Forward(x, y, outer, n, inner, log); break;
            default: throw Kernel.Missing(op, x);
        }
    }

    private static void Backward(string op, Tensor g, Tensor y, Tensor gx, long outer, int n, long inner, bool log)
    {
        switch (y.Device.Type)
        {
            case DeviceType.Cpu: SoftmaxKernels.Backward(g, y, gx, outer, n, inner, log); break;
            case DeviceType.Cuda: SoftmaxCuda.Backward(g, y, gx, outer, n, inner, log); break;
            default: throw Kernel.Missing(op + "_backward", y);
        }
    }
}
