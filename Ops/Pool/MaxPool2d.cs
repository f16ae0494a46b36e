using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// 2-D max pooling, PyTorch's <c>F.max_pool2d</c>, over an (N, C, H, W) or (C, H, W) input. Padding never
    /// wins (it is -inf); the gradient goes to the position of the maximum, the first one in the window on
    /// ties, and NaN propagates. A dilated window that covers only padding gives -inf (index -1) and passes no gradient.
    /// Runs on the CPU (<c>MaxPool2d.Cpu.cs</c>) and on CUDA (<c>MaxPool2d.Cuda.cs</c>, <c>MaxPool2d.cu</c>).
    /// </summary>
    /// <param name="input">Input feature map, F32 or F64, any strides.</param>
    /// <param name="kernelSize">Window size: an int or an (h, w) pair.</param>
    /// <param name="stride">Step between windows; the kernel size when omitted.</param>
    /// <param name="padding">Implicit -inf on each side, at most half the kernel size; 0 when omitted.</param>
    /// <param name="dilation">Spacing between window elements; 1 when omitted.</param>
    /// <param name="ceilMode">Round the output size up, keeping a last partial window that starts inside the input or the left padding.</param>
    public static Tensor MaxPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d padding = default,
        Size2d? dilation = null, bool ceilMode = false)
    {
        var (y, indices) = MaxPool2dWithIndices(input, kernelSize, stride, padding, dilation, ceilMode);
        indices.Dispose();
        return y;
    }

    /// <summary>
    /// <see cref="MaxPool2d"/> that also returns where each maximum came from (PyTorch's
    /// <c>return_indices=True</c>): an int64 tensor of the output's shape holding flat positions iy·W + ix
    /// within each input plane.
    /// </summary>
    public static (Tensor Output, Tensor Indices) MaxPool2dWithIndices(Tensor input, Size2d kernelSize, Size2d? stride = null,
        Size2d padding = default, Size2d? dilation = null, bool ceilMode = false)
    {
        const string op = "max_pool2d";
        var g = PoolGeometry.Windowed(op, input, kernelSize, stride ?? kernelSize, padding, dilation ?? 1, ceilMode);
        long t0 = Stopwatch.GetTimestamp();
        Tensor x;
        using (Tape.NoGrad()) x = input.ContiguousHandle();
        using (x)
        {
            var y = Tensor.Empty(g.OutputShape, input.DType, input.Device);
            var indices = Tensor.Empty(g.OutputShape, DType.I64, input.Device);
            switch (x.Device.Type)
            {
                case DeviceType.Cpu: MaxPoolCpu.Forward(g, x, y, indices); break;
                case DeviceType.Cuda: MaxPoolCuda.Forward(g, x, y, indices); break;
                default: throw Kernel.Missing(op, x);
            }
            if (Tape.ShouldRecord(input))
            {
                var si = Tape.Save(indices);
                var inputShape = input.Shape;
                Tape.Record(op, [input], [y], grads =>
                {
                    using var gy = grads[0].ContiguousHandle();
                    var gx = Tensor.Empty(inputShape, gy.DType, gy.Device);
                    switch (gy.Device.Type)
                    {
                        case DeviceType.Cpu: MaxPoolCpu.Backward(g, gy, si.Value, gx); break;
                        case DeviceType.Cuda: MaxPoolCuda.Backward(g, gy, si.Value, gx); break;
                        default: throw Kernel.Missing(op + "_backward", gy);
                    }
                    return [gx];
                }, [si], t0);
            }
            return (y, indices);
        }
    }
}
