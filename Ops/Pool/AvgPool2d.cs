using System.Diagnostics;
using System.Numerics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// 2-D average pooling, PyTorch's <c>F.avg_pool2d</c>, over an (N, C, H, W) or (C, H, W) input.
    /// A window's sum is divided by <paramref name="divisorOverride"/> when given; otherwise by the window's
    /// size clipped to the padded input (<paramref name="countIncludePad"/>) or to the input alone.
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
        var pool = new AvgPoolKernel(g, countIncludePad, divisorOverride ?? 0);
        long t0 = Stopwatch.GetTimestamp();
        Tensor x;
        using (Tape.NoGrad()) x = input.ContiguousHandle();
        using (x)
        {
            var y = Tensor.Empty(g.OutputShape, input.DType, input.Device);
            if (y.DType == DType.F32) pool.Forward<float>(x, y);
            else pool.Forward<double>(x, y);
            if (Tape.ShouldRecord(input))
            {
                var inputShape = input.Shape;
                Tape.Record(op, [input], [y], grads =>
                {
                    using var gy = grads[0].ContiguousHandle();
                    var gx = Tensor.Empty(inputShape, gy.DType, gy.Device);
                    if (gy.DType == DType.F32) pool.Backward<float>(gy, gx);
                    else pool.Backward<double>(gy, gx);
                    return [gx];
                }, null, t0);
            }
            return y;
        }
    }
}

/// <summary>Average pooling over contiguous planes, one plane per work item; the backward spreads each output gradient over its window.</summary>
internal sealed unsafe class AvgPoolKernel(PoolGeometry g, bool countIncludePad, int divisorOverride)
{
    /// <summary>The window of output (oy, ox) clipped to the input, and its divisor, by PyTorch's rule.</summary>
    private (int Y0, int Y1, int X0, int X1, int Divisor) Window(int oy, int ox)
    {
        int y0 = oy * g.SH - g.PH, x0 = ox * g.SW - g.PW;
        int y1 = Math.Min(y0 + g.KH, g.H + g.PH), x1 = Math.Min(x0 + g.KW, g.W + g.PW);
        int padded = (y1 - y0) * (x1 - x0);
        y0 = Math.Max(y0, 0); x0 = Math.Max(x0, 0);
        y1 = Math.Min(y1, g.H); x1 = Math.Min(x1, g.W);
        int divisor = divisorOverride != 0 ? divisorOverride : countIncludePad ? padded : (y1 - y0) * (x1 - x0);
        return (y0, y1, x0, x1, divisor);
    }

    public void Forward<T>(Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = CpuBackend.BasePointer(x), ys = CpuBackend.BasePointer(y);
        CpuParallel.For(g.Planes, (double)g.OutPlane * g.KH * g.KW, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                T* src = (T*)xs + p * g.InPlane, dst = (T*)ys + p * g.OutPlane;
                for (int oy = 0; oy < g.Ho; oy++)
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        var (y0, y1, x0, x1, divisor) = Window(oy, ox);
                        T sum = T.Zero;
                        for (int iy = y0; iy < y1; iy++) sum += ConvPoolKernels.Sum(src + (long)iy * g.W + x0, Math.Max(0, x1 - x0));
                        dst[oy * g.Wo + ox] = y0 < y1 && x0 < x1 ? sum / T.CreateTruncating(divisor) : T.Zero;
                    }
            }
        });
    }

    public void Backward<T>(Tensor gy, Tensor gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint gys = CpuBackend.BasePointer(gy), gxs = CpuBackend.BasePointer(gx);
        CpuParallel.For(g.Planes, (double)g.OutPlane * g.KH * g.KW + g.InPlane, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                T* src = (T*)gys + p * g.OutPlane, dst = (T*)gxs + p * g.InPlane;
                new Span<T>(dst, g.InPlane).Clear();
                for (int oy = 0; oy < g.Ho; oy++)
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        var (y0, y1, x0, x1, divisor) = Window(oy, ox);
                        if (y0 >= y1 || x0 >= x1) continue;
                        T share = src[oy * g.Wo + ox] / T.CreateTruncating(divisor);
                        for (int iy = y0; iy < y1; iy++) ConvPoolKernels.AddScalar(dst + (long)iy * g.W + x0, share, x1 - x0);
                    }
            }
        });
    }
}
