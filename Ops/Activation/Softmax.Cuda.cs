using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Softmax on CUDA (<c>Softmax.cu</c>): along the last axis a warp per row (8 rows per block of 256); along any
/// other axis, or along a last axis too short to keep a warp's lanes busy, a thread per (outer, inner) column,
/// adjacent threads on adjacent columns. The choice depends on the shape alone.
/// </summary>
internal static class SoftmaxCuda
{
    private const string Unit = "Activation/Softmax.cu";

    /// <summary>The shortest contiguous row given to a warp: below it most lanes would idle through the warp's reductions.</summary>
    internal const int WarpRowLength = 16;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(SoftmaxCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(Tensor x, Tensor y, long outer, int n, long inner, bool log)
    {
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(y);
        Launch(x, "softmax", "forward", ref args, outer, n, inner, log);
    }

    public static void Backward(Tensor g, Tensor y, Tensor gx, long outer, int n, long inner, bool log)
    {
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(y); args.Add(gx);
        Launch(y, "softmax", "backward", ref args, outer, n, inner, log);
    }

    private static void Launch(Tensor on, string op, string pass, ref KernelArgs args, long outer, int n, long inner, bool log)
    {
        if (inner == 1 && n >= WarpRowLength)
        {
            args.Add(outer); args.Add(n); args.Add(log ? 1 : 0);
            Kernel(on, $"{op}_rows_{pass}").Launch(FamilyLaunch.WarpRows(outer), args);
        }
        else
        {
            args.Add(outer); args.Add(n); args.Add(inner); args.Add(log ? 1 : 0);
            Kernel(on, $"{op}_columns_{pass}").Launch(FamilyLaunch.Elements(outer * inner), args);
        }
    }
}
