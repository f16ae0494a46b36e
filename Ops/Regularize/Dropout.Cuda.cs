using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>The dropout masks on CUDA (<c>Dropout.cu</c>): one thread per element, grid-stride.</summary>
internal static class DropoutCuda
{
    /// <summary>Replaces each uniform sample u (contiguous) by scale where u &lt; keep and by 0 elsewhere, keep and scale rounded to u's type first.</summary>
    public static void UniformToMask(Tensor u, double keep, double scale)
    {
        long n = u.NumEl;
        if (n == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(u); args.Add(n);
        if (u.DType == DType.F32) { args.Add((float)keep); args.Add((float)scale); }
        else { args.Add(keep); args.Add(scale); }
        CudaKernels.Get(u.Device, typeof(DropoutCuda).Assembly, "Regularize/Dropout.cu", $"dropout_mask_{CudaKernels.Suffix(u.DType)}")
            .Launch(FamilyLaunch.Elements(n), args);
    }
}
