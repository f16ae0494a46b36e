using System.Diagnostics;
using System.Numerics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// 2-D max pooling, PyTorch's <c>F.max_pool2d</c>, over an (N, C, H, W) or (C, H, W) input. Padding never
    /// wins (it is -inf); the gradient goes to the position of the maximum, the first one in the window on
    /// ties, and NaN propagates. A dilated window that covers only padding gives -inf (index -1) and passes no gradient.
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
            if (y.DType == DType.F32) MaxPoolKernel.Forward<float>(g, x, y, indices);
            else MaxPoolKernel.Forward<double>(g, x, y, indices);
            if (Tape.ShouldRecord(input))
            {
                var si = Tape.Save(indices);
                var inputShape = input.Shape;
                Tape.Record(op, [input], [y], grads =>
                {
                    using var gy = grads[0].ContiguousHandle();
                    var gx = Tensor.Empty(inputShape, gy.DType, gy.Device);
                    if (gy.DType == DType.F32) MaxPoolKernel.Backward<float>(g, gy, si.Value, gx);
                    else MaxPoolKernel.Backward<double>(g, gy, si.Value, gx);
                    return [gx];
                }, [si], t0);
            }
            return (y, indices);
        }
    }
}

/// <summary>Max pooling over contiguous planes, one plane per work item, following PyTorch's CPU kernel's order and tie rule.</summary>
internal static unsafe class MaxPoolKernel
{
    public static void Forward<T>(PoolGeometry g, Tensor x, Tensor y, Tensor indices) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = CpuBackend.BasePointer(x), ys = CpuBackend.BasePointer(y), ids = CpuBackend.BasePointer(indices);
        CpuParallel.For(g.Planes, (double)g.OutPlane * g.KH * g.KW, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                T* src = (T*)xs + p * g.InPlane, dst = (T*)ys + p * g.OutPlane;
                long* index = (long*)ids + p * g.OutPlane;
                for (int oy = 0; oy < g.Ho; oy++)
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        int y0 = oy * g.SH - g.PH, x0 = ox * g.SW - g.PW;
                        int y1 = Math.Min(y0 + (g.KH - 1) * g.DH + 1, g.H), x1 = Math.Min(x0 + (g.KW - 1) * g.DW + 1, g.W);
                        while (y0 < 0) y0 += g.DH;
                        while (x0 < 0) x0 += g.DW;
                        // A dilated window can hold padding only (taps straddling a one-pixel input): -inf with
                        // index -1, and no gradient, where PyTorch would point past the window.
                        long best = y0 < y1 && x0 < x1 ? (long)y0 * g.W + x0 : -1;
                        T max = T.NegativeInfinity;
                        for (int iy = y0; iy < y1; iy += g.DH)
                            for (int ix = x0; ix < x1; ix += g.DW)
                            {
                                long at = (long)iy * g.W + ix;
                                T v = src[at];
                                if (v > max || T.IsNaN(v))
                                {
                                    max = v;
                                    best = at;
                                }
                            }
                        dst[oy * g.Wo + ox] = max;
                        index[oy * g.Wo + ox] = best;
                    }
            }
        });
    }

    public static void Backward<T>(PoolGeometry g, Tensor gy, Tensor indices, Tensor gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint gys = CpuBackend.BasePointer(gy), ids = CpuBackend.BasePointer(indices), gxs = CpuBackend.BasePointer(gx);
        CpuParallel.For(g.Planes, g.OutPlane + g.InPlane, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                T* src = (T*)gys + p * g.OutPlane, dst = (T*)gxs + p * g.InPlane;
                long* index = (long*)ids + p * g.OutPlane;
                new Span<T>(dst, g.InPlane).Clear();
                for (int o = 0; o < g.OutPlane; o++)
                    if (index[o] >= 0) dst[index[o]] += src[o];
            }
        });
    }
}
