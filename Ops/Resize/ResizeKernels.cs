using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// CPU kernels of the separable resize on contiguous (planes, H, W) data. Forward: each output row is
/// independent, out = Σ_a wh_a (Σ_b ww_b x[ih_a, iw_b]). Backward: the adjoint, scattering g * wh * ww into
/// the input gradient; one thread owns each plane and visits it in a fixed order, so it is deterministic.
/// </summary>
internal static unsafe class ResizeKernels
{
    public static void Forward(ResizePlan plan, Tensor x, Tensor y, int planes)
    {
        if (plan.DType == DType.F32) Forward<float>(plan, CpuBackend.BasePointer(x), CpuBackend.BasePointer(y), planes);
        else Forward<double>(plan, CpuBackend.BasePointer(x), CpuBackend.BasePointer(y), planes);
    }

    public static void Backward(ResizePlan plan, Tensor g, Tensor gx, int planes)
    {
        if (plan.DType == DType.F32) Backward<float>(plan, CpuBackend.BasePointer(g), CpuBackend.BasePointer(gx), planes);
        else Backward<double>(plan, CpuBackend.BasePointer(g), CpuBackend.BasePointer(gx), planes);
    }

    private static void Forward<T>(ResizePlan plan, nint xBase, nint yBase, int planes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (h, w) = (plan.H, plan.W);
        var hw = (T[])h.Weight;
        var ww = (T[])w.Weight;
        long inPlane = (long)h.InSize * w.InSize, outPlane = (long)h.OutSize * w.OutSize;
        CpuParallel.For((long)planes * h.OutSize, (double)w.OutSize * h.Taps * w.Taps * 2, (start, end) =>
        {
            for (long row = start; row < end; row++)
            {
                long plane = row / h.OutSize;
                int oh = (int)(row % h.OutSize);
                T* x = (T*)xBase + plane * inPlane;
                T* y = (T*)yBase + plane * outPlane + (long)oh * w.OutSize;
                for (int ow = 0; ow < w.OutSize; ow++)
                {
                    T acc = T.Zero;
                    for (int a = 0; a < h.Taps; a++)
                    {
                        T* src = x + (long)h.Index[oh * h.Taps + a] * w.InSize;
                        T inner = T.Zero;
                        for (int b = 0; b < w.Taps; b++)
                            inner += ww[ow * w.Taps + b] * src[w.Index[ow * w.Taps + b]];
                        acc += hw[oh * h.Taps + a] * inner;
                    }
                    y[ow] = acc;
                }
            }
        });
    }

    private static void Backward<T>(ResizePlan plan, nint gBase, nint gxBase, int planes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (h, w) = (plan.H, plan.W);
        var hw = (T[])h.Weight;
        var ww = (T[])w.Weight;
        long inPlane = (long)h.InSize * w.InSize, outPlane = (long)h.OutSize * w.OutSize;
        CpuParallel.For(planes, (double)outPlane * h.Taps * w.Taps * 2, (start, end) =>
        {
            for (long plane = start; plane < end; plane++)
            {
                T* g = (T*)gBase + plane * outPlane;
                T* gx = (T*)gxBase + plane * inPlane;
                for (int oh = 0; oh < h.OutSize; oh++)
                    for (int a = 0; a < h.Taps; a++)
                    {
                        T wa = hw[oh * h.Taps + a];
                        T* dst = gx + (long)h.Index[oh * h.Taps + a] * w.InSize;
                        T* gRow = g + (long)oh * w.OutSize;
                        for (int ow = 0; ow < w.OutSize; ow++)
                        {
                            T ga = wa * gRow[ow];
                            for (int b = 0; b < w.Taps; b++)
                                dst[w.Index[ow * w.Taps + b]] += ga * ww[ow * w.Taps + b];
                        }
                    }
            }
        });
    }
}
