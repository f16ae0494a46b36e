using Engine.Cpu;

namespace Engine.Ops;

/// <summary>Kernels of <see cref="Functional.HeatConduction"/> on (B, H, W, C) blocks, on the CPU.</summary>
internal static unsafe class HeatConductionCpu
{
    public static void Transform(Tensor x, long batchStride, long positionStride, Tensor y, bool inverse)
    {
        var s = y.Layout.Shape;
        if (x.DType == DType.F32)
            DctChannelsLast.Transform(CpuBackend.Ptr<float>(x), batchStride, positionStride, CpuBackend.Ptr<float>(y), s[0], s[1], s[2], s[3], inverse);
        else
            DctChannelsLast.Transform(CpuBackend.Ptr<double>(x), batchStride, positionStride, CpuBackend.Ptr<double>(y), s[0], s[1], s[2], s[3], inverse);
    }

    /// <summary>y[b] = x[b] ⊙ f for every image b.</summary>
    public static void Multiply(Tensor x, Tensor f, Tensor y)
    {
        if (x.DType == DType.F32) Multiply(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(f), CpuBackend.Ptr<float>(y), x.Layout.Shape[0], f.NumEl);
        else Multiply(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(f), CpuBackend.Ptr<double>(y), x.Layout.Shape[0], f.NumEl);
    }

    /// <summary>gf = Σ_b g[b] ⊙ u[b], images added in order.</summary>
    public static void BatchDot(Tensor g, Tensor u, Tensor gf)
    {
        if (g.DType == DType.F32) BatchDot(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(u), CpuBackend.Ptr<float>(gf), g.Layout.Shape[0], gf.NumEl);
        else BatchDot(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(u), CpuBackend.Ptr<double>(gf), g.Layout.Shape[0], gf.NumEl);
    }

    private static void Multiply<T>(T* x, T* f, T* y, int batch, long plane) where T : unmanaged, System.Numerics.INumber<T>
    {
        nint xs = (nint)x, fs = (nint)f, ys = (nint)y;
        CpuParallel.For(batch, plane, (start, end) =>
        {
            var fv = new ReadOnlySpan<T>((T*)fs, checked((int)plane));
            for (long b = start; b < end; b++)
                System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<T>((T*)xs + b * plane, (int)plane), fv, new Span<T>((T*)ys + b * plane, (int)plane));
        });
    }

    private static void BatchDot<T>(T* g, T* u, T* gf, int batch, long plane) where T : unmanaged, System.Numerics.INumber<T>
    {
        nint gs = (nint)g, us = (nint)u, fs = (nint)gf;
        CpuParallel.For(plane, batch, (start, end) =>
        {
            T* o = (T*)fs;
            for (long i = start; i < end; i++) o[i] = T.Zero;
            for (int b = 0; b < batch; b++)
            {
                T* gb = (T*)gs + b * plane, ub = (T*)us + b * plane;
                for (long i = start; i < end; i++) o[i] += gb[i] * ub[i];
            }
        });
    }
}
