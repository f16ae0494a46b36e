using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// The channels-first layer norms on CUDA (<c>LayerNorm2d.cu</c>): one thread per (n, position), each looping over
/// the channels, so that a warp reads 32 adjacent positions of one channel at a time; the affine gradients in two
/// passes, per-chunk partials in double (one warp per chunk and channel) then their ordered sum
/// (<see cref="LayerNormCuda.SumAffinePartials"/>), so that the same input gives the same bits.
/// </summary>
internal static class LayerNorm2dCuda
{
    private const string Unit = "Norm/LayerNorm2d.cu";

    /// <summary>Positions per chunk of the affine partials, and the most chunks (so at most 512·2·C partial doubles).</summary>
    private const long ChunkPositions = 1024, MaxChunks = 512;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(LayerNorm2dCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor spread, ChannelsFirstShape shape)
    {
        if (shape.Positions == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(w); args.Add(b); args.Add(y); args.Add(mean); args.Add(spread);
        AddShape(ref args, shape);
        Kernel(x, "layer_norm2d_forward").Launch(LaunchConfig.ForElements(shape.Positions), args);
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor spread, Tensor? dx, Tensor? dw, Tensor? db, ChannelsFirstShape shape)
    {
        if (dx is not null && shape.Positions > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(x); args.Add(w); args.Add(mean); args.Add(spread); args.Add(dx);
            AddShape(ref args, shape);
            Kernel(x, "layer_norm2d_backward_input").Launch(LaunchConfig.ForElements(shape.Positions), args);
        }
        if (dw is null && db is null) return;
        // Chunks of positions fixed by the shape alone (never by the device).
        long chunks = Math.Clamp((shape.Positions + ChunkPositions - 1) / ChunkPositions, 1, MaxChunks);
        using var partials = Tensor.Empty([(int)(chunks * 2), shape.C], DType.F64, x.Device);
        if (shape.C > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(x); args.Add(mean); args.Add(spread); args.Add(partials);
            AddShape(ref args, shape);
            args.Add(chunks);
            Kernel(x, "layer_norm2d_affine_partials").Launch(LaunchConfig.ForElements(chunks * shape.C * 32), args);
        }
        LayerNormCuda.SumAffinePartials(partials, dw, db, shape.C, chunks);
    }

    /// <summary>The arguments every kernel of the unit ends with: positions, C, S, eps, eps_on_std.</summary>
    private static void AddShape(ref KernelArgs args, ChannelsFirstShape shape)
    {
        args.Add(shape.Positions); args.Add(shape.C); args.Add(shape.S); args.Add(shape.Eps); args.Add(shape.EpsOnStd ? 1 : 0);
    }
}
