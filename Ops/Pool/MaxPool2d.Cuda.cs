using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Max pooling on CUDA (<c>MaxPool2d.cu</c>): one output per thread with the CPU's window order, tie and NaN
/// rule; the backward a gather per input element over the recorded indices, in output order, with no atomics.
/// </summary>
internal static class MaxPoolCuda
{
    private const string Unit = "Pool/MaxPool2d.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(MaxPoolCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(PoolGeometry g, Tensor x, Tensor y, Tensor indices)
    {
        if (y.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(y); args.Add(indices);
        AddShape(ref args, g);
        Kernel(x, "max_pool_forward").Launch(LaunchConfig.ForElements(y.NumEl), args);
    }

    public static void Backward(PoolGeometry g, Tensor gy, Tensor indices, Tensor gx)
    {
        if (gx.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(gy); args.Add(indices); args.Add(gx);
        AddShape(ref args, g);
        Kernel(gy, "max_pool_backward").Launch(LaunchConfig.ForElements(gx.NumEl), args);
    }

    private static void AddShape(ref KernelArgs args, PoolGeometry g)
    {
        args.Add((long)g.Planes); args.Add(g.H); args.Add(g.W); args.Add(g.KH); args.Add(g.KW);
        args.Add(g.SH); args.Add(g.SW); args.Add(g.PH); args.Add(g.PW); args.Add(g.DH); args.Add(g.DW);
        args.Add(g.Ho); args.Add(g.Wo);
    }
}
