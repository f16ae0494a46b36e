using System.Diagnostics;
using Engine.Backends;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Batch normalisation of an (N, C, *) tensor over all dimensions but C, as PyTorch's <c>F.batch_norm</c>.
    /// Training: normalises with the batch mean and biased variance, and, when running statistics are given,
    /// updates them in place on their device (outside the tape, bumping their version):
    /// running = (1 - momentum)·running + momentum·batch statistic, with the unbiased variance (n/(n-1)).
    /// Evaluation: normalises with the running statistics. One fused node; the backward reuses the saved
    /// statistics. The running statistics receive no gradient. Runs on the CPU (<c>BatchNorm.Cpu.cs</c>) and on
    /// CUDA (<c>BatchNorm.Cuda.cs</c>, <c>BatchNorm.cu</c>).
    /// </summary>
    /// <param name="input">Tensor of shape (N, C), (N, C, L), (N, C, H, W) or any (N, C, *).</param>
    /// <param name="runningMean">Running mean of C elements; required in evaluation.</param>
    /// <param name="runningVar">Running variance of C elements; required in evaluation.</param>
    /// <param name="weight">Optional scale of C elements.</param>
    /// <param name="bias">Optional shift of C elements.</param>
    /// <param name="training">Use (and accumulate) the batch statistics rather than the running ones.</param>
    /// <param name="momentum">
    /// Weight of the batch statistics in the running update; null for PyTorch's <c>momentum=None</c>, the
    /// cumulative average: the weight is then 1 / <paramref name="numBatchesTracked"/>, read on the device.
    /// </param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    /// <param name="numBatchesTracked">
    /// The module's batch counter (a one-element int64 tensor on the input's device), or null. In training it is
    /// incremented on its device before the statistics are blended (as <c>nn.BatchNorm</c> does, empty batches
    /// included), so a training step never reads it to the host.
    /// </param>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double? momentum = 0.1, double eps = 1e-5, Tensor? numBatchesTracked = null)
    {
        const string op = "batch_norm";
        CheckFloatInput(op, input);
        foreach (var (name, t) in new[] { ("runningMean", runningMean), ("runningVar", runningVar), ("weight", weight), ("bias", bias) })
            CheckCompanion(op, name, t, input);
        var shape = input.Layout.Shape;
        if (shape.Length < 2)
            throw new ArgumentException($"{op}: Expected an input of shape (N, C, *) with at least 2 dimensions, but got input of shape {Shp(input)}.");
        int n = shape[0], c = shape[1];
        long s = Layout.Count(shape.AsSpan(2));
        if (training && (long)n * s == 1)
            throw new ArgumentException($"{op}: Expected more than 1 value per channel when training, got input size {Shp(input)}.");
        CheckChannelCount(op, "runningMean", runningMean, input);
        if (runningMean is null && !training)
            throw new ArgumentException($"{op}: runningMean must be defined in evaluation mode (input of shape {Shp(input)}).");
        CheckChannelCount(op, "runningVar", runningVar, input);
        if (runningVar is null && !training)
            throw new ArgumentException($"{op}: runningVar must be defined in evaluation mode (input of shape {Shp(input)}).");
        CheckChannelCount(op, "weight", weight, input);
        CheckChannelCount(op, "bias", bias, input);
        long meanStride = runningMean is null ? 0 : ChannelStride("runningMean", runningMean);
        long varStride = runningVar is null ? 0 : ChannelStride("runningVar", runningVar);
        CheckBatchCounter(op, numBatchesTracked, input);
        if (training && momentum is null && numBatchesTracked is null && (runningMean is not null || runningVar is not null))
            throw new ArgumentException($"{op}: momentum = None (a cumulative average) needs numBatchesTracked (input of shape {Shp(input)}).");

        long t0 = Stopwatch.GetTimestamp();
        var dtype = input.DType;
        using var x = input.ContiguousHandle();
        using var w = weight?.ContiguousHandle();
        using var b = bias?.ContiguousHandle();
        var y = Tensor.Empty(shape, dtype, input.Device);
        using var mean = Tensor.Empty([c], dtype, input.Device);
        using var rstd = Tensor.Empty([c], dtype, input.Device);
        // num_batches_tracked += 1 before the statistics read it. On CUDA the forward's own kernels do it (one
        // launch fewer per layer and step): the statistics add the pending 1, the normalisation writes it after.
        var counter = training ? numBatchesTracked : null;
        if (counter is not null && counter.Device.Type != DeviceType.Cuda) BatchNormCountBatch(counter);
        // An empty batch has no statistics: PyTorch leaves the running ones alone.
        bool update = training && input.NumEl > 0;
        var running = new BatchNormRunning(update || !training ? runningMean : null, meanStride, update || !training ? runningVar : null, varStride,
            momentum ?? 0, training && momentum is null ? numBatchesTracked : null);
        var batch = new BatchNormShape(n, c, s, training);
        BatchNormForward(x, w, b, y, mean, rstd, running, batch, eps, counter);
        counter?.Storage.BumpVersion();
        if (update)
        {
            runningMean?.Storage.BumpVersion();
            runningVar?.Storage.BumpVersion();
        }

        RecordAffineNorm(op, input, weight, bias, y, x, w, mean, rstd,
            (g, xs, ws, m, r, dx, dw, db) => BatchNormBackward(g, xs, ws, m, r, dx, dw, db, batch), t0);
        return y;
    }

    /// <summary>
    /// <see cref="BatchNorm"/> for the inputs of a 2-D convolutional network: (N, C, H, W), and also (N, C)
    /// and (N, C, L) as <c>F.batch_norm</c> takes them; statistics per channel over every other dimension.
    /// </summary>
    /// <param name="input">Tensor of shape (N, C, H, W), (N, C, L) or (N, C).</param>
    /// <param name="runningMean">Running mean of C elements; required in evaluation.</param>
    /// <param name="runningVar">Running variance of C elements; required in evaluation.</param>
    /// <param name="weight">Optional scale of C elements.</param>
    /// <param name="bias">Optional shift of C elements.</param>
    /// <param name="training">Use (and accumulate) the batch statistics rather than the running ones.</param>
    /// <param name="momentum">Weight of the batch statistics in the running update; null for the cumulative average (see <see cref="BatchNorm"/>).</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    /// <param name="numBatchesTracked">The module's batch counter, incremented on its device in training (see <see cref="BatchNorm"/>).</param>
    public static Tensor BatchNorm2d(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double? momentum = 0.1, double eps = 1e-5, Tensor? numBatchesTracked = null)
    {
        CheckFloatInput("batch_norm2d", input);
        if (input.Rank is < 2 or > 4)
            throw new ArgumentException($"batch_norm2d: expected 2D, 3D or 4D input (got {input.Rank}D input of shape {Shp(input)}).");
        return BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps, numBatchesTracked);
    }

    /// <summary>PyTorch checks only the element count of the per-channel tensors.</summary>
    private static void CheckChannelCount(string op, string name, Tensor? t, Tensor input)
    {
        if (t is null) return;
        int c = input.Layout.Shape[1];
        if (t.NumEl != c)
            throw new ArgumentException($"{op}: {name} should contain {c} elements not {t.NumEl} ({name} of shape {Shp(t)}, input of shape {Shp(input)}).");
    }

    /// <summary>The batch counter must be one live int64 element on the input's device.</summary>
    private static void CheckBatchCounter(string op, Tensor? counter, Tensor input)
    {
        if (counter is null) return;
        counter.ThrowIfDisposed(op);
        if (counter.DType != DType.I64 || counter.NumEl != 1)
            throw new ArgumentException($"{op}: expected numBatchesTracked to be one int64 element, got {counter.DType.TorchName()} of shape {Shp(counter)} (input of shape {Shp(input)}).");
        if (counter.Device != input.Device)
            throw new ArgumentException($"{op}: expected numBatchesTracked on the input's device {input.Device}, got {counter.Device} (input of shape {Shp(input)}).");
    }

    /// <summary>The stride that walks a per-channel tensor's C elements in order.</summary>
    private static long ChannelStride(string name, Tensor t)
    {
        var shape = t.Layout.Shape; var strides = t.Layout.Strides;
        int d = Array.FindIndex(shape, e => e != 1);
        if (d < 0) return 1; // a single element
        for (int k = d + 1; k < shape.Length; k++)
            if (shape[k] != 1)
                throw new ArgumentException($"batch_norm: {name} of shape {Layout.Format(shape)} must have its {shape[d]} elements along one dimension.");
        return strides[d];
    }

    private static void BatchNormCountBatch(Tensor counter)
    {
        switch (counter.Device.Type)
        {
            case DeviceType.Cpu: BatchNormCpu.CountBatch(counter); break;
            case DeviceType.Cuda: BatchNormCuda.CountBatch(counter); break;
            default: throw Kernel.Missing("batch_norm (num_batches_tracked += 1)", counter);
        }
    }

    /// <summary>The forward; on CUDA it also counts the batch in <paramref name="counter"/> (counted beforehand on the CPU).</summary>
    private static void BatchNormForward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, BatchNormRunning running, BatchNormShape shape, double eps,
        Tensor? counter)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: BatchNormCpu.Forward(x, w, b, y, mean, rstd, running, shape, eps); break;
            case DeviceType.Cuda: BatchNormCuda.Forward(x, w, b, y, mean, rstd, running, shape, eps, counter); break;
            default: throw Kernel.Missing("batch_norm", x);
        }
    }

    private static void BatchNormBackward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, BatchNormShape shape)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: BatchNormCpu.Backward(g, x, w, mean, rstd, dx, dw, db, shape); break;
            case DeviceType.Cuda: BatchNormCuda.Backward(g, x, w, mean, rstd, dx, dw, db, shape); break;
            default: throw Kernel.Missing("batch_norm_backward", x);
        }
    }
}

/// <summary>A contiguous (N, C, S) tensor normalised per channel over its N·S values, with the batch's statistics or the running ones.</summary>
internal readonly record struct BatchNormShape(int N, int C, long S, bool Training)
{
    /// <summary>The values per channel, N·S.</summary>
    public long Count => N * S;
}

/// <summary>
/// The running statistics: read in evaluation; in training, the batch's are blended into them (either may be null:
/// not updated), read and written through their strides, with weight <see cref="Momentum"/>, or 1 / the counter
/// <see cref="Batches"/> when that is given (the cumulative average).
/// </summary>
internal readonly record struct BatchNormRunning(Tensor? Mean, long MeanStride, Tensor? Var, long VarStride, double Momentum, Tensor? Batches);
