using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The separable resize on the CPU (the CUDA side is <c>Interpolate.Cuda.cs</c>): kernels on contiguous (planes, H, W) data, one plane per thread at a time.
/// Forward: out = Σ_a wh_a (Σ_b ww_b x[ih_a, iw_b]), as a pass along W then one along H. Backward: the
/// adjoint, along H then along W; each plane visited in a fixed order, so it is deterministic.
/// </summary>
internal static unsafe class InterpolateCpu
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
        long inPlane = (long)h.InSize * w.InSize, outPlane = (long)h.OutSize * w.OutSize;
        double cost = (double)h.InSize * w.OutSize * w.Taps * 2 + (double)outPlane * h.Taps * 2;
        CpuParallel.For(planes, cost, (start, end) =>
        {
            // Along W into rows of the output width, then along H row by row: the same sums in the same order
            // as out = Σ_a wh_a (Σ_b ww_b x[ih_a, iw_b]), with contiguous inner loops over W.
            var along = new T[h.InSize * w.OutSize];
            fixed (T* tmp = along)
                for (long plane = start; plane < end; plane++)
                {
                    T* x = (T*)xBase + plane * inPlane;
                    T* y = (T*)yBase + plane * outPlane;
                    for (int ih = 0; ih < h.InSize; ih++)
                        AlongW(w, x + (long)ih * w.InSize, tmp + (long)ih * w.OutSize);
                    for (int oh = 0; oh < h.OutSize; oh++)
                    {
                        T* row = y + (long)oh * w.OutSize;
                        new Span<T>(row, w.OutSize).Clear();
                        for (int a = 0; a < h.Taps; a++)
                            AddScaled(row, tmp + (long)h.Index[oh * h.Taps + a] * w.OutSize, hw[oh * h.Taps + a], w.OutSize);
                    }
                }
        });
    }

    private static void Backward<T>(ResizePlan plan, nint gBase, nint gxBase, int planes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (h, w) = (plan.H, plan.W);
        var hw = (T[])h.Weight;
        long inPlane = (long)h.InSize * w.InSize, outPlane = (long)h.OutSize * w.OutSize;
        double cost = (double)h.InSize * w.OutSize * w.Taps * 2 + (double)outPlane * h.Taps * 2;
        CpuParallel.For(planes, cost, (start, end) =>
        {
            // The adjoint of the forward's two passes, in reverse: along H into rows of the output width, then
            // along W. One thread owns each plane and visits it in a fixed order.
            var along = new T[h.InSize * w.OutSize];
            fixed (T* tmp = along)
                for (long plane = start; plane < end; plane++)
                {
                    T* g = (T*)gBase + plane * outPlane;
                    T* gx = (T*)gxBase + plane * inPlane;
                    along.AsSpan().Clear();
                    for (int oh = 0; oh < h.OutSize; oh++)
                        for (int a = 0; a < h.Taps; a++)
                            AddScaled(tmp + (long)h.Index[oh * h.Taps + a] * w.OutSize, g + (long)oh * w.OutSize, hw[oh * h.Taps + a], w.OutSize);
                    for (int ih = 0; ih < h.InSize; ih++)
                        AlongWAdjoint(w, tmp + (long)ih * w.OutSize, gx + (long)ih * w.InSize);
                }
        });
    }

    private static void AlongW<T>(ResizeTaps w, T* src, T* dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ww = (T[])w.Weight;
        int taps = w.Taps;
        for (int ow = 0; ow < w.OutSize; ow++)
        {
            T inner = T.Zero;
            for (int b = 0; b < taps; b++)
                inner += ww[ow * taps + b] * src[w.Index[ow * taps + b]];
            dst[ow] = inner;
        }
    }

    private static void AlongWAdjoint<T>(ResizeTaps w, T* src, T* dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ww = (T[])w.Weight;
        int taps = w.Taps;
        for (int ow = 0; ow < w.OutSize; ow++)
        {
            T v = src[ow];
            for (int b = 0; b < taps; b++)
                dst[w.Index[ow * taps + b]] += v * ww[ow * taps + b];
        }
    }

    /// <summary>dst += a * src, multiply then add (no fused multiply-add: the scalar sums round the same way).</summary>
    private static void AddScaled<T>(T* dst, T* src, T a, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = new Vector<T>(a);
            for (; i + Vector<T>.Count <= n; i += Vector<T>.Count)
            {
                var d = Vector.Load(dst + i);
                (d + va * Vector.Load(src + i)).Store(dst + i);
            }
        }
        for (; i < n; i++) dst[i] += a * src[i];
    }
}
