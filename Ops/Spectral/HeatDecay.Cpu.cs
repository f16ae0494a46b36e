using Engine.Cpu;

namespace Engine.Ops;

/// <summary>The elementwise kernels of <see cref="Functional.HeatDecay"/> on the CPU; Ω repeats every H·W elements.</summary>
internal static unsafe class HeatDecayCpu
{
    public static void Forward(Tensor k, Tensor f, double[] omega)
    {
        if (k.DType == DType.F32) Forward(CpuBackend.Ptr<float>(k), CpuBackend.Ptr<float>(f), k.NumEl, omega);
        else Forward(CpuBackend.Ptr<double>(k), CpuBackend.Ptr<double>(f), k.NumEl, omega);
    }

    public static void Backward(Tensor g, Tensor f, Tensor gk, double[] omega)
    {
        if (g.DType == DType.F32) Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(f), CpuBackend.Ptr<float>(gk), g.NumEl, omega);
        else Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(f), CpuBackend.Ptr<double>(gk), g.NumEl, omega);
    }

    private static void Forward<T>(T* k, T* f, long count, double[] omega) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (count == 0) return;
        nint ks = (nint)k, fs = (nint)f;
        int plane = omega.Length;
        CpuParallel.For(count, 20, (start, end) =>
        {
            T* kp = (T*)ks; T* fp = (T*)fs;
            for (long i = start; i < end; i++)
                fp[i] = T.CreateTruncating(Math.Exp(-double.CreateTruncating(kp[i]) * omega[i % plane]));
        });
    }

    private static void Backward<T>(T* g, T* f, T* gk, long count, double[] omega) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (count == 0) return;
        nint gs = (nint)g, fs = (nint)f, ks = (nint)gk;
        int plane = omega.Length;
        CpuParallel.For(count, 4, (start, end) =>
        {
            T* gp = (T*)gs; T* fp = (T*)fs; T* kp = (T*)ks;
            for (long i = start; i < end; i++)
                kp[i] = T.CreateTruncating(-omega[i % plane]) * fp[i] * gp[i];
        });
    }
}
