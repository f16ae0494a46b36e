using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// 2-D convolution (cross-correlation), PyTorch's <c>F.conv2d</c>: input (N, Cin, H, W) or unbatched
    /// (Cin, H, W), weight (Cout, Cin / groups, kH, kW), optional bias (Cout). Output (N, Cout, Ho, Wo) with
    /// Ho = (H + 2·padH − dilationH·(kH − 1) − 1) / strideH + 1, and likewise for the width. Runs on the CPU
    /// (<c>Conv2d.Cpu.cs</c>) and on CUDA (<c>Conv2d.Cuda.cs</c>: the column matrix of <c>Conv2d.cu</c> and cuBLAS
    /// GEMMs; depthwise convolutions by the direct kernels of <c>DepthwiseConv.Cuda.cs</c>).
    /// </summary>
    /// <param name="input">Input feature map, F32 or F64, any strides.</param>
    /// <param name="weight">Filters, (out_channels, in_channels / groups, kH, kW).</param>
    /// <param name="bias">Optional per-output-channel bias.</param>
    /// <param name="stride">Step between output pixels: an int or an (h, w) pair; 1 when omitted.</param>
    /// <param name="padding">Zeros added on each side: an int, an (h, w) pair, "valid" (none) or "same"
    /// (output as large as the input; stride 1 only; an odd total pads one more at the bottom/right); 0 when omitted.</param>
    /// <param name="dilation">Spacing between kernel taps: an int or an (h, w) pair; 1 when omitted.</param>
    /// <param name="groups">Input and output channels are split into this many groups, each convolved separately.</param>
    /// <returns>The output, recorded on the tape as one node with gradients for input, weight and bias.</returns>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, Size2d? stride = null, Padding2d? padding = null,
        Size2d? dilation = null, int groups = 1)
    {
        var g = ConvGeometry.Of(input, weight, bias, stride ?? 1, padding ?? 0, dilation ?? 1, groups);
        long t0 = Stopwatch.GetTimestamp();
        bool record = Tape.ShouldRecord(input, weight, bias);
        bool needX = input.RequiresGrad, needW = weight.RequiresGrad, needB = bias?.RequiresGrad ?? false;

        Tensor x, w;
        Tensor? b;
        using (Tape.NoGrad())
        {
            x = input.ContiguousHandle();
            w = weight.ContiguousHandle();
            b = bias?.ContiguousHandle();
        }
        using (x)
        using (w)
        using (b)
        {
            var y = Tensor.Empty(g.OutputShape, input.DType, input.Device);
            ConvForward(g, x, w, b, y);
            if (record)
            {
                // The input is read only by the weight gradient, the weight only by the input gradient.
                var sx = needW ? Tape.Save(x) : null;
                var sw = needX ? Tape.Save(w) : null;
                var weightShape = weight.Shape;
                Tape.Record("conv2d", [input, weight, bias], [y], grads =>
                {
                    using var gy = grads[0].ContiguousHandle();
                    var gx = needX ? Tensor.Empty(g.InputShape, gy.DType, gy.Device) : null;
                    var gw = needW ? Tensor.Empty(weightShape, gy.DType, gy.Device) : null;
                    var gb = needB ? Tensor.Empty([g.Cout], gy.DType, gy.Device) : null;
                    ConvBackward(g, sx?.Value, sw?.Value, gy, gx, gw, gb);
                    return [gx, gw, gb];
                }, new[] { sx, sw }.OfType<SavedTensor>().ToArray(), t0);
            }
            return y;
        }
    }

    private static void ConvForward(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: Conv2dCpu.Forward(g, x, w, b, y); break;
            case DeviceType.Cuda: Conv2dCuda.Forward(g, x, w, b, y); break;
            default: throw Kernel.Missing("conv2d", x);
        }
    }

    /// <summary>The gradients into <paramref name="gx"/>, <paramref name="gw"/>, <paramref name="gb"/> (each skipped when null); x is saved only for gw, w only for gx.</summary>
    private static void ConvBackward(ConvGeometry g, Tensor? x, Tensor? w, Tensor gy, Tensor? gx, Tensor? gw, Tensor? gb)
    {
        switch (gy.Device.Type)
        {
            case DeviceType.Cpu: Conv2dCpu.Backward(g, x, w, gy, gx, gw, gb); break;
            case DeviceType.Cuda: Conv2dCuda.Backward(g, x, w, gy, gx, gw, gb); break;
            default: throw Kernel.Missing("conv2d_backward", gy);
        }
    }
}
