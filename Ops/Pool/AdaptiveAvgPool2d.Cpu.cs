using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>Adaptive average pooling on the CPU over contiguous planes, one plane per work item.</summary>
internal static unsafe class AdaptiveAvgPoolCpu
{
    public static void Forward(PoolGeometry g, Tensor x, Tensor y)
    {
        if (y.DType == DType.F32) Forward<float>(g, x, y);
        else Forward<double>(g, x, y);
    }

    public static void Backward(PoolGeometry g, Tensor gy, Tensor gx)
    {
        if (gy.DType == DType.F32) Backward<float>(g, gy, gx);
        else Backward<double>(g, gy, gx);
    }

    /// <summary>PyTorch's window [floor(i·In/Out), ceil((i+1)·In/Out)).</summary>
    public static (int Start, int End) Window(int i, int input, int output) =>
        ((int)((long)i * input / output), (int)(((long)(i + 1) * input + output - 1) / output));

    private static void Forward<T>(PoolGeometry g, Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
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

    private static void Backward<T>(PoolGeometry g, Tensor gy, Tensor gx) where T : unmanaged, IFloatingPointIeee754<T>
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
