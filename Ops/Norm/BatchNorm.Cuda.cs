using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// The batch norm on CUDA (<c>BatchNorm.cu</c>): one block per channel for the statistics (forward) and the sums
/// (backward), sized by the channel's value count (32 to 256 threads), each in a fixed order; the normalisation and
/// the input gradient elementwise from per-channel coefficients in double. The running statistics and the batch
/// counter are updated on the device: nothing is read to the host.
/// </summary>
internal static class BatchNormCuda
{
    private const string Unit = "Norm/BatchNorm.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(BatchNormCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>One block per channel, as many threads as the channel has values, in whole warps, from 32 to 256 (the shape's choice, never the device's).</summary>
    private static LaunchConfig ChannelBlocks(BatchNormShape shape) =>
        new((uint)Math.Clamp(shape.C, 1, LaunchConfig.DefaultMaxGrid), (uint)Math.Clamp((shape.Count + 31) / 32 * 32, 32, 256));

    /// <summary>num_batches_tracked += 1, by one thread on the device.</summary>
    public static void CountBatch(Tensor counter)
    {
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(counter);
        Kernel(counter, "batch_norm_count_batch").Launch(new LaunchConfig(1, 1), args);
    }

    /// <summary>
    /// The statistics, then y = x·scale + shift. With <paramref name="counter"/> (training), num_batches_tracked
    /// += 1 happens here too: the statistics weigh by 1 / (counter + 1) where they read it, and the normalisation
    /// kernel, queued after them, writes the increment; the separate count launch only runs when there is no
    /// normalisation to launch (no channel or no element).
    /// </summary>
    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, BatchNormRunning running, BatchNormShape shape, double eps,
        Tensor? counter = null)
    {
        if (shape.C == 0)
        {
            if (counter is not null) CountBatch(counter);
            return;
        }
        using var scaleShift = Tensor.Empty([shape.C, 2], DType.F64, x.Device);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(w); args.Add(b); args.Add(mean); args.Add(rstd); args.Add(scaleShift);
        args.Add(running.Mean); args.Add(running.MeanStride); args.Add(running.Var); args.Add(running.VarStride); args.Add(running.Batches); args.Add(counter is null ? 0 : 1);
        args.Add(shape.N); args.Add(shape.C); args.Add(shape.S); args.Add(shape.Training ? 1 : 0); args.Add(running.Momentum); args.Add(eps);
        Kernel(x, "batch_norm_statistics").Launch(ChannelBlocks(shape), args);
        if (y.NumEl == 0)
        {
            if (counter is not null) CountBatch(counter);
            return;
        }
        args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(scaleShift); args.Add(y); args.Add(y.NumEl); args.Add(shape.C); args.Add(shape.S); args.Add(counter);
        Kernel(x, "batch_norm_apply").Launch(LaunchConfig.ForElements(y.NumEl), args);
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, BatchNormShape shape)
    {
        if (shape.C == 0) return;
        using var coefficients = Tensor.Empty([shape.C, 3], DType.F64, x.Device);
        // Evaluation's input gradient needs no sums: its statistics do not depend on the input.
        bool needSums = shape.Training || dw is not null || db is not null;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(x); args.Add(w); args.Add(mean); args.Add(rstd); args.Add(dw); args.Add(db); args.Add(coefficients);
        args.Add(shape.N); args.Add(shape.C); args.Add(shape.S); args.Add(shape.Training ? 1 : 0); args.Add(needSums ? 1 : 0);
        Kernel(x, "batch_norm_backward_reduce").Launch(ChannelBlocks(shape), args);
        if (dx is null || dx.NumEl == 0) return;
        args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(g); args.Add(x); args.Add(coefficients); args.Add(dx); args.Add(dx.NumEl); args.Add(shape.C); args.Add(shape.S);
        Kernel(x, "batch_norm_backward_input").Launch(LaunchConfig.ForElements(dx.NumEl), args);
    }
}
