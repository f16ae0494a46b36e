using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Adaptive average pooling on CUDA (<c>AdaptiveAvgPool2d.cu</c>): one output per thread over PyTorch's
/// windows; the backward a gather per input element over the windows that hold it, in output order, with no atomics.
/// </summary>
internal static class AdaptiveAvgPoolCuda
{
    private const string Unit = "Pool/AdaptiveAvgPool2d.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(AdaptiveAvgPoolCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(PoolGeometry g, Tensor x, Tensor y)
    {
        if (y.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(y); args.Add((long)g.Planes); args.Add(g.H); args.Add(g.W); args.Add(g.Ho); args.Add(g.Wo);
        Kernel(x, "adaptive_avg_pool_forward").Launch(LaunchConfig.ForElements(y.NumEl), args);
    }

    public static void Backward(PoolGeometry g, Tensor gy, Tensor gx)
    {
        if (gx.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(gy); args.Add(gx); args.Add((long)g.Planes); args.Add(g.H); args.Add(g.W); args.Add(g.Ho); args.Add(g.Wo);
        Kernel(gy, "adaptive_avg_pool_backward").Launch(LaunchConfig.ForElements(gx.NumEl), args);
    }
}
