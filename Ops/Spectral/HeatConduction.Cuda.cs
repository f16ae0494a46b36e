using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// The elementwise parts of HeatConduction on CUDA (<c>HeatConduction.cu</c>); its transforms are
/// <see cref="DctChannelsLastCuda"/>. The decay's gradient Σ_b gV ⊙ DCT2(u) gives each element to one thread,
/// which adds the images in order: no atomics, the same bits on every run.
/// </summary>
internal static class HeatConductionCuda
{
    private const string Unit = "Spectral/HeatConduction.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(HeatConductionCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>y[b] = x[b] ⊙ f for every image b of the dense (B, H, W, C) x.</summary>
    public static void Multiply(Tensor x, Tensor f, Tensor y)
    {
        if (x.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(f); args.Add(y); args.Add(x.NumEl); args.Add(f.NumEl);
        Kernel(x, "heat_multiply").Launch(LaunchConfig.ForElements(x.NumEl), args);
    }

    /// <summary>gf = Σ_b g[b] ⊙ u[b] over the images of the dense (B, H, W, C) g and u.</summary>
    public static void BatchDot(Tensor g, Tensor u, Tensor gf)
    {
        if (gf.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(u); args.Add(gf); args.Add((long)g.Layout.Shape[0]); args.Add(gf.NumEl);
        Kernel(g, "heat_batch_dot").Launch(LaunchConfig.ForElements(gf.NumEl), args);
    }
}
