using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// 2-D average pooling, PyTorch's <c>F.avg_pool2d</c>, over an (N, C, H, W) or (C, H, W) input.
    /// A window's sum is divided by <paramref name="divisorOverride"/> when given; otherwise by the window's
    /// size clipped to the padded input (<paramref name="countIncludePad"/>) or to the input alone. Runs on the
    /// CPU (<c>AvgPool2d.Cpu.cs</c>) and on CUDA (<c>AvgPool2d.Cuda.cs</c>, <c>AvgPool2d.cu</c>).
    /// </summary>
    /// <param name="input">Input feature map, F32 or F64, any strides.</param>
    /// <param name="kernelSize">Window size: an int or an (h, w) pair.</param>
    /// <param name="stride">Step between windows; the kernel size when omitted.</param>
    /// <param name="padding">Implicit zeros on each side, at most half the kernel size; 0 when omitted.</param>
    /// <param name="ceilMode">Round the output size up, keeping a last partial window that starts inside the input or the left padding.</param>
    /// <param name="countIncludePad">Whether padding zeros count in the divisor.</param>
    /// <param name="divisorOverride">A fixed divisor for every window, when given (not zero).</param>
    public static Tensor AvgPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d padding = default,
        bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        const string op = "avg_pool2d";
        var g = PoolGeometry.Windowed(op, input, kernelSize, stride ?? kernelSize, padding, 1, ceilMode);
        if (divisorOverride == 0)
            throw new ArgumentException($"{op}: divisor must be not zero (input {Layout.Format(input.Layout.Shape)}).");
        int divisor = divisorOverride ?? 0;
        long t0 = Stopwatch.GetTimestamp();
        Tensor x;
        using (Tape.NoGrad()) x = input.ContiguousHandle();
        using (x)
        {
            var y = Tensor.Empty(g.OutputShape, input.DType, input.Device);
            switch (x.Device.Type)
            {
                case DeviceType.Cpu: new AvgPoolCpu(g, countIncludePad, divisor).Forward(x, y); break;
                case DeviceType.Cuda: AvgPoolCuda.Forward(g, countIncludePad, divisor, x, y); break;
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
                        case DeviceType.Cpu: new AvgPoolCpu(g, countIncludePad, divisor).Backward(gy, gx); break;
                        case DeviceType.Cuda: AvgPoolCuda.Backward(g, countIncludePad, divisor, gy, gx); break;
                        default: throw Kernel.Missing(op + "_backward", gy);
                    }
                    return [gx];
                }, null, t0);
            }
            return y;
        }
    }
}
