using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;
using static Engine.Ops.AdaptiveFilterKernels;

namespace Engine.Ops;

/// <summary>
/// The AFF mixer's pieces on CUDA (<c>AdaptiveFilter.cu</c>): the complex group-linear with one thread per
/// output value (the group's few input channels read along the positions, coalesced), its weight and bias
/// gradients with one warp per weight (the batch and positions in a fixed lane order, then the warp's fixed
/// butterfly, in double: no atomics, the same bits on every run), and the elementwise complex product.
/// </summary>
internal static class AdaptiveFilterCuda
{
    private const string Unit = "Spectral/AdaptiveFilter.cu";
    private const uint Block = 256, WarpsPerBlock = Block / 32;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(AdaptiveFilterCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    private static LaunchConfig Warps(long count) =>
        new((uint)Math.Clamp((count + WarpsPerBlock - 1) / WarpsPerBlock, 1, LaunchConfig.DefaultMaxGrid), Block);

    private static void AddShape(ref KernelArgs args, GroupShape s)
    {
        args.Add(s.Batch); args.Add(s.Groups); args.Add(s.In); args.Add(s.Out); args.Add(s.Pairs);
    }

    public static void LinearForward(Tensor x, Tensor w, Tensor? b, Tensor y, GroupShape s)
    {
        long count = (long)s.Batch * s.Groups * s.Out * s.Pairs;
        if (count == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(w); args.Add(b); args.Add(y);
        AddShape(ref args, s);
        Kernel(x, "complex_group_linear_forward").Launch(LaunchConfig.ForElements(count), args);
    }

    public static void LinearInputGrad(Tensor g, Tensor w, Tensor dx, GroupShape s)
    {
        long count = (long)s.Batch * s.Groups * s.In * s.Pairs;
        if (count == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(w); args.Add(dx);
        AddShape(ref args, s);
        Kernel(g, "complex_group_linear_input_grad").Launch(LaunchConfig.ForElements(count), args);
    }

    /// <summary>Writes every element of <paramref name="dw"/> and <paramref name="db"/> (either may be null).</summary>
    public static void LinearParamGrad(Tensor x, Tensor g, Tensor? dw, Tensor? db, GroupShape s)
    {
        if (dw is not null && dw.NumEl > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(x); args.Add(g); args.Add(dw);
            AddShape(ref args, s);
            Kernel(g, "complex_group_linear_weight_grad").Launch(Warps((long)s.Groups * s.In * s.Out), args);
        }
        if (db is not null && db.NumEl > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(db);
            AddShape(ref args, s);
            Kernel(g, "complex_group_linear_bias_grad").Launch(Warps((long)s.Groups * s.Out), args);
        }
    }

    public static void Multiply(Tensor a, Tensor b, Tensor y, long pairs)
    {
        if (pairs == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(a); args.Add(b); args.Add(y); args.Add(pairs);
        Kernel(a, "complex_mul_forward").Launch(LaunchConfig.ForElements(pairs), args);
    }

    public static void MultiplyGrad(Tensor g, Tensor a, Tensor b, Tensor? da, Tensor? db, long pairs)
    {
        if (pairs == 0 || (da is null && db is null)) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(a); args.Add(b); args.Add(da); args.Add(db); args.Add(pairs);
        Kernel(g, "complex_mul_backward").Launch(LaunchConfig.ForElements(pairs), args);
    }
}
