using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Adaptive 2-D average pooling, PyTorch's <c>F.adaptive_avg_pool2d</c>: output (.., oH, oW) whose cell
    /// (i, j) averages input rows floor(i·H/oH) to ceil((i+1)·H/oH) − 1 and the columns likewise. Windows may
    /// overlap or differ in size when the sizes do not divide. Runs on the CPU (<c>AdaptiveAvgPool2d.Cpu.cs</c>)
    /// and on CUDA (<c>AdaptiveAvgPool2d.Cuda.cs</c>, <c>AdaptiveAvgPool2d.cu</c>).
    /// </summary>
    /// <param name="input">(N, C, H, W) or (C, H, W), F32 or F64, H and W not empty.</param>
    /// <param name="outputSize">The output's (height, width): an int or a pair.</param>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2d outputSize)
    {
        const string op = "adaptive_avg_pool2d";
        input.ThrowIfDisposed(op);
        if (outputSize.H < 0 || outputSize.W < 0)
            throw new ArgumentException($"{op}: elements of output_size must be greater than or equal to 0 but received {{{outputSize.H}, {outputSize.W}}} (input {Layout.Format(input.Layout.Shape)}).");
        if (input.Rank is not (3 or 4))
            throw new ArgumentException($"{op}: expected 3D or 4D tensor, but got {Layout.Format(input.Layout.Shape)}.");
        for (int d = input.Rank - 2; d < input.Rank; d++)
            if (input.Layout.Shape[d] == 0)
                throw new ArgumentException($"{op}: expected input to have non-zero size for non-batch dimensions, but input has sizes {Layout.Format(input.Layout.Shape)} with dimension {d} being empty.");
        if (!input.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected a floating point input, got {input.DType.TorchName()} with shape {Layout.Format(input.Layout.Shape)}.");

        var g = new PoolGeometry(input, 0, 0, 0, 0, 0, 0, 1, 1, outputSize.H, outputSize.W);
        long t0 = Stopwatch.GetTimestamp();
        Tensor x;
        using (Tape.NoGrad()) x = input.ContiguousHandle();
        using (x)
        {
            var y = Tensor.Empty(g.OutputShape, input.DType, input.Device);
            switch (x.Device.Type)
            {
                case DeviceType.Cpu: AdaptiveAvgPoolCpu.Forward(g, x, y); break;
                case DeviceType.Cuda: AdaptiveAvgPoolCuda.Forward(g, x, y); break;
                default: throw Kernel.Missing(op, x);
            }
            if (Tape.ShouldRecord(input))
            {
                var inputShape = input.Shape;
                Tape.Record(op, [input], [y], grads =>
                {
                    using var gy = grads[0].ContiguousHandle();
                    var gx = Tensor.Empty(inputShape, gy.DType, gy.Device);
                    switch (gy.Device.Type)
                    {
                        case DeviceType.Cpu: AdaptiveAvgPoolCpu.Backward(g, gy, gx); break;
                        case DeviceType.Cuda: AdaptiveAvgPoolCuda.Backward(g, gy, gx); break;
                        default: throw Kernel.Missing(op + "_backward", gy);
                    }
                    return [gx];
                }, null, t0);
            }
            return y;
        }
    }

    /// <summary>
    /// Mean over the spatial dimensions of an (N, C, H, W) or (C, H, W) input: (N, C), or (N, C, 1, 1) with
    /// <paramref name="keepDim"/>. The same as <c>AdaptiveAvgPool2d(input, 1)</c> up to the shape; the backbones' heads use it.
    /// </summary>
    public static Tensor GlobalAvgPool2d(Tensor input, bool keepDim = false)
    {
        const string op = "global_avg_pool2d";
        input.ThrowIfDisposed(op);
        if (input.Rank is not (3 or 4))
            throw new ArgumentException($"{op}: expected 3D or 4D tensor, but got {Layout.Format(input.Layout.Shape)}.");
        if (!input.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected a floating point input, got {input.DType.TorchName()} with shape {Layout.Format(input.Layout.Shape)}.");
        return input.Mean([-2, -1], keepDim);
    }
}
