using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Average pooling on CUDA (<c>AvgPool2d.cu</c>): one output per thread, the CPU's windows and divisors; the
/// backward a gather per input element over the windows that hold it, in output order, with no atomics.
/// </summary>
internal static class AvgPoolCuda
{
    private const string Unit = "Pool/AvgPool2d.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(AvgPoolCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(PoolGeometry g, bool countIncludePad, int divisorOverride, Tensor x, Tensor y)
    {
        if (y.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(y);
        AddShape(ref args, g, countIncludePad, divisorOverride);
        Kernel(x, "avg_pool_forward").Launch(LaunchConfig.ForElements(y.NumEl), args);
    }

    public static void Backward(PoolGeometry g, bool countIncludePad, int divisorOverride, Tensor gy, Tensor gx)
    {
        if (gx.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(gy); args.Add(gx);
        AddShape(ref args, g, countIncludePad, divisorOverride);
        Kernel(gy, "avg_pool_backward").Launch(LaunchConfig.ForElements(gx.NumEl), args);
    }

    private static void AddShape(ref KernelArgs args, PoolGeometry g, bool countIncludePad, int divisorOverride)
    {
        args.Add((long)g.Planes); args.Add(g.H); args.Add(g.W); args.Add(g.KH); args.Add(g.KW);
        args.Add(g.SH); args.Add(g.SW); args.Add(g.PH); args.Add(g.PW);
        args.Add(countIncludePad ? 1 : 0); args.Add(divisorOverride); args.Add(g.Ho); args.Add(g.Wo);
    }
}
