using System.Diagnostics;
using System.Numerics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Adaptive 2-D average pooling, PyTorch's <c>F.adaptive_avg_pool2d</c>: output (.., oH, oW) whose cell
    /// (i, j) averages input rows floor(i·H/oH) to ceil((i+1)·H/oH) − 1 and the columns likewise. Windows may
    /// overlap or differ in size when the sizes do not divide.
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
        if (input.Device != Device.Cpu)
            throw new NotSupportedException($"{op}: there is no kernel for {input.Device} yet (input {Layout.Format(input.Layout.Shape)}).");

        var g = new PoolGeometry(input, 0, 0, 0, 0, 0, 0, 1, 1, outputSize.H, outputSize.W);
        long t0 = Stopwatch.GetTimestamp();
        Tensor x;
        using (Tape.NoGrad()) x = input.ContiguousHandle();
        using (x)
        {
            var y = Tensor.Empty(g.OutputShape, input.DType, input.Device);
            if (y.DType == DType.F32) AdaptiveAvgPoolKernel.Forward<float>(g, x, y);
            else AdaptiveAvgPoolKernel.Forward<double>(g, x, y);
            if (Tape.ShouldRecord(input))
            {
                var inputShape = input.Shape;
                Tape.Record(op, [input], [y], grads =>
                {
                    using var gy = grads[0].ContiguousHandle();
                    var gx = Tensor.Empty(inputShape, gy.DType, gy.Device);
                    if (gy.DType == DType.F32) AdaptiveAvgPoolKernel.Backward<float>(g, gy, gx);
                    else AdaptiveAvgPoolKernel.Backward<double>(g, gy, gx);
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

/// <summary>Adaptive average pooling over contiguous planes, one plane per work item.</summary>
internal static unsafe class AdaptiveAvgPoolKernel
{
    /// <summary>PyTorch's window [floor(i·In/Out), ceil((i+1)·In/Out)).</summary>
    public static (int Start, int End) Window(int i, int input, int output) =>
        ((int)((long)i * input / output), (int)(((long)(i + 1) * input + output - 1) / output));

    public static void Forward<T>(PoolGeometry g, Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = CpuBackend.BasePointer(x), ys = CpuBackend.BasePointer(y);
        double cost = (double)g.InPlane + g.OutPlane;
        CpuParallel.For(g.Planes, cost, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                T* src = (T*)xs + p * g.InPlane, dst = (T*)ys + p * g.OutPlane;
                for (int oy = 0; oy < g.Ho; oy++)
                {
                    var (y0, y1) = Window(oy, g.H, g.Ho);
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        var (x0, x1) = Window(ox, g.W, g.Wo);
                        T sum = T.Zero;
                        for (int iy = y0; iy < y1; iy++) sum += ConvPoolKernels.Sum(src + (long)iy * g.W + x0, x1 - x0);
                        dst[oy * g.Wo + ox] = sum / T.CreateTruncating((y1 - y0) * (x1 - x0));
                    }
                }
            }
        });
    }

    public static void Backward<T>(PoolGeometry g, Tensor gy, Tensor gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint gys = CpuBackend.BasePointer(gy), gxs = CpuBackend.BasePointer(gx);
        CpuParallel.For(g.Planes, (double)g.InPlane + g.OutPlane, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                T* src = (T*)gys + p * g.OutPlane, dst = (T*)gxs + p * g.InPlane;
                new Span<T>(dst, g.InPlane).Clear();
                for (int oy = 0; oy < g.Ho; oy++)
                {
                    var (y0, y1) = Window(oy, g.H, g.Ho);
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        var (x0, x1) = Window(ox, g.W, g.Wo);
                        T share = src[oy * g.Wo + ox] / T.CreateTruncating((y1 - y0) * (x1 - x0));
                        for (int iy = y0; iy < y1; iy++) ConvPoolKernels.AddScalar(dst + (long)iy * g.W + x0, share, x1 - x0);
                    }
                }
            }
        });
    }
}
