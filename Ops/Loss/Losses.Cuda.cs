using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// The classification losses on CUDA (<c>Losses.cu</c>): a warp per position when the classes are contiguous (and
/// enough of them), else a thread per position; the reduction in two fixed passes (a warp per chunk of positions, then one warp over
/// the chunks); the class targets checked by the forward kernel itself into a slot of the device's
/// <see cref="DeferredChecks"/>, so that no call reads the targets to the host.
/// </summary>
internal static class LossCuda
{
    private const string Unit = "Loss/Losses.cu";

    /// <summary>Positions per chunk of the reduction's first pass, before the cap on the number of chunks.</summary>
    private const long ChunkPositions = 1024;
    private const long MaxChunks = 65536;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(LossCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>The kernels' LOSS_* kind.</summary>
    private static int Kind(LossProblem p) => p.Soft ? 1 : p.LogProbabilities ? 2 : 0;

    /// <summary>The kernels' REDUCE_* code.</summary>
    private static int Reduction(LossGeometry g) => g.Reduction switch { "none" => 0, "mean" => 1, _ => 2 };

    /// <summary>
    /// Rows (a warp per position) when the classes are contiguous and at least <see cref="SoftmaxCuda.WarpRowLength"/>,
    /// else columns (a thread per position). The choice depends on the shape alone.
    /// </summary>
    private static (string Layout, LaunchConfig Launch) Positions(LossGeometry g) =>
        g.Inner == 1 && g.Classes >= SoftmaxCuda.WarpRowLength ? ("rows", FamilyLaunch.WarpRows(g.Positions)) : ("columns", FamilyLaunch.Elements(g.Positions));

    private static void AddProblem(ref KernelArgs args, LossProblem p, Tensor x, Tensor target, Tensor? weight)
    {
        var g = p.Geometry;
        args.Add(x); args.Add(p.Soft ? null : target); args.Add(p.Soft ? target : null); args.Add(weight);
        args.Add(g.Positions); args.Add(g.Inner); args.Add(g.Classes); args.Add(p.IgnoreIndex); args.Add(p.Smoothing); args.Add(Kind(p));
    }

    public static void Forward(LossProblem problem, Tensor x, Tensor target, Tensor? weight, Tensor output, Tensor? lse, Tensor stats)
    {
        var g = problem.Geometry;
        var device = x.Device;
        using var check = problem.Soft ? null : CudaDevice.For(device).Checks.Reserve((_, value) => problem.TargetOutOfBounds(value));
        bool reduced = g.Reduction != "none";
        int scratch = checked((int)Math.Max(g.Positions, 1));
        using var losses = reduced ? Tensor.Empty([scratch], DType.F64, device) : null;
        using var dens = reduced ? Tensor.Empty([scratch], DType.F64, device) : null;
        if (g.Positions > 0)
        {
            var (layout, launch) = Positions(g);
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            AddProblem(ref args, problem, x, target, weight);
            args.Add(lse); args.Add(reduced ? null : output); args.Add(losses); args.Add(dens); args.Add(check?.Slot);
            Kernel(x, $"loss_{layout}_forward").Launch(launch, args);
        }
        // Chunks fixed by the number of positions alone, so the sums have the same order on every run and GPU.
        long chunks = Math.Clamp((g.Positions + ChunkPositions - 1) / ChunkPositions, 1, MaxChunks);
        long per = Math.Max((g.Positions + chunks - 1) / chunks, 1);
        using var partials = reduced ? Tensor.Empty([checked((int)(2 * chunks))], DType.F64, device) : null;
        if (reduced)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(losses); args.Add(dens); args.Add(partials); args.Add(g.Positions); args.Add(per); args.Add(chunks);
            CudaKernels.Get(device, typeof(LossCuda).Assembly, Unit, "loss_partials_f64").Launch(FamilyLaunch.WarpRows(chunks), args);
        }
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(partials); args.Add(reduced ? chunks : 0L); args.Add(reduced ? output : null); args.Add(stats);
            args.Add(Reduction(g)); args.Add(weight); args.Add(g.Classes); args.Add(problem.Soft ? null : target); args.Add(g.Positions); args.Add(check?.Slot);
            Kernel(x, "loss_finish").Launch(new LaunchConfig(1, 32), args);
        }
        // Both kernels that fill the slot are queued: the thread's next wait reads it.
        check?.Arm();
    }

    public static void Backward(LossProblem problem, Tensor x, Tensor target, Tensor? weight, Tensor? lse, Tensor stats, Tensor g, Tensor? gx, Tensor? gt)
    {
        var geometry = problem.Geometry;
        var (layout, launch) = Positions(geometry);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        AddProblem(ref args, problem, x, target, weight);
        args.Add(lse); args.Add(stats); args.Add(g); args.Add(Reduction(geometry)); args.Add(gx); args.Add(gt);
        Kernel(x, $"loss_{layout}_backward").Launch(launch, args);
    }
}
