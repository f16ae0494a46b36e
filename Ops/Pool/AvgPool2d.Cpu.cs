using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>Average pooling on the CPU over contiguous planes, one plane per work item; the backward spreads each output gradient over its window.</summary>
internal sealed unsafe class AvgPoolCpu(PoolGeometry g, bool countIncludePad, int divisorOverride)
{
    public void Forward(Tensor x, Tensor y)
    {
        if (y.DType == DType.F32) Forward<float>(x, y);
        else Forward<double>(x, y);
    }

    public void Backward(Tensor gy, Tensor gx)
    {
        if (gy.DType == DType.F32) Backward<float>(gy, gx);
        else Backward<double>(gy, gx);
    }

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

    private void Forward<T>(Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
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

    private void Backward<T>(Tensor gy, Tensor gx) where T : unmanaged, IFloatingPointIeee754<T>
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
