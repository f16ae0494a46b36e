using Engine.Cpu;

namespace Engine.Ops;

/// <summary>rfft2 and irfft2 on the CPU: the dtype switch onto <see cref="RfftKernels"/>, on host pointers.</summary>
internal static unsafe class RfftCpu
{
    public static void Forward(Tensor x, Tensor y, long planes, RfftBasis b, double alpha)
    {
        if (x.DType == DType.F64) RfftKernels.Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), planes, b, alpha);
        else RfftKernels.Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), planes, b, alpha);
    }

    public static void ForwardAdjoint(Tensor g, Tensor dx, long planes, RfftBasis b, double alpha)
    {
        if (g.DType == DType.F64) RfftKernels.ForwardAdjoint(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(dx), planes, b, alpha);
        else RfftKernels.ForwardAdjoint(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(dx), planes, b, alpha);
    }

    public static void Inverse(Tensor x, Tensor y, long planes, RfftBasis b, double alpha)
    {
        if (x.DType == DType.F64) RfftKernels.Inverse(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), planes, b, alpha);
        else RfftKernels.Inverse(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), planes, b, alpha);
    }

    public static void InverseAdjoint(Tensor g, Tensor dx, long planes, RfftBasis b, double alpha)
    {
        if (g.DType == DType.F64) RfftKernels.InverseAdjoint(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(dx), planes, b, alpha);
        else RfftKernels.InverseAdjoint(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(dx), planes, b, alpha);
    }
}
