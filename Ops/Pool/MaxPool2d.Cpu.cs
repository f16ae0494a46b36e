using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Max pooling on the CPU over contiguous planes, one plane per work item, following PyTorch's CPU kernel's order and tie rule;
/// the common geometries take the vector form (<see cref="MaxPoolVectorCpu"/>), which gives the same bits.
/// </summary>
internal static unsafe class MaxPoolCpu
{
    public static void Forward(PoolGeometry g, Tensor x, Tensor y, Tensor indices)
    {
        if (y.DType == DType.F32) Forward<float>(g, x, y, indices);
        else Forward<double>(g, x, y, indices);
    }

    public static void Backward(PoolGeometry g, Tensor gy, Tensor indices, Tensor gx)
    {
        if (gy.DType == DType.F32) Backward<float>(g, gy, indices, gx);
        else Backward<double>(g, gy, indices, gx);
    }

    private static void Forward<T>(PoolGeometry g, Tensor x, Tensor y, Tensor indices) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = CpuBackend.BasePointer(x), ys = CpuBackend.BasePointer(y), ids = CpuBackend.BasePointer(indices);
        if (MaxPoolVectorCpu.Applies<T>(g))
        {
            CpuParallel.For(g.Planes, (double)g.OutPlane * g.KH * g.KW, (start, end) =>
            {
                T* buffer = MaxPoolVectorCpu.AllocateBuffer<T>(g);
                try
                {
                    for (long p = start; p < end; p++)
                        MaxPoolVectorCpu.Plane(g, (T*)xs + p * g.InPlane, (T*)ys + p * g.OutPlane, (long*)ids + p * g.OutPlane, buffer);
                }
                finally { NativeMemory.AlignedFree(buffer); }
            });
            return;
        }
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

    private static void Backward<T>(PoolGeometry g, Tensor gy, Tensor indices, Tensor gx) where T : unmanaged, IFloatingPointIeee754<T>
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
