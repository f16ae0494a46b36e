using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// HeatDecay on CUDA (<c>HeatDecay.cu</c>): elementwise over the contiguous k, Ω (float64, the CPU's values,
/// cached on the device) repeating every H·W elements.
/// </summary>
internal static class HeatDecayCuda
{
    private const string Unit = "Spectral/HeatDecay.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(HeatDecayCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(Tensor k, Tensor f, int h, int w)
    {
        if (k.NumEl == 0) return;
        var omega = DctBases.OmegaOn(h, w, k.Device);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(k); args.Add(omega); args.Add(f); args.Add(k.NumEl); args.Add(omega.NumEl);
        Kernel(k, "heat_decay_forward").Launch(LaunchConfig.ForElements(k.NumEl), args);
    }

    public static void Backward(Tensor g, Tensor f, Tensor gk, int h, int w)
    {
        if (g.NumEl == 0) return;
        var omega = DctBases.OmegaOn(h, w, g.Device);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(f); args.Add(omega); args.Add(gk); args.Add(g.NumEl); args.Add(omega.NumEl);
        Kernel(g, "heat_decay_backward").Launch(LaunchConfig.ForElements(g.NumEl), args);
    }
}
