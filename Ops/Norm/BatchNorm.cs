using System.Diagnostics;
using Engine.Autograd;
using Engine.Cpu;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Batch normalisation of an (N, C, *) tensor over all dimensions but C, as PyTorch's <c>F.batch_norm</c>.
    /// Training: normalises with the batch mean and biased variance, and, when running statistics are given,
    /// updates them in place (outside the tape, bumping their version):
    /// running = (1 - momentum)·running + momentum·batch statistic, with the unbiased variance (n/(n-1)).
    /// Evaluation: normalises with the running statistics. One fused node; the backward reuses the saved
    /// statistics. The running statistics receive no gradient.
    /// </summary>
    /// <param name="input">Tensor of shape (N, C), (N, C, L), (N, C, H, W) or any (N, C, *).</param>
    /// <param name="runningMean">Running mean of C elements; required in evaluation.</param>
    /// <param name="runningVar">Running variance of C elements; required in evaluation.</param>
    /// <param name="weight">Optional scale of C elements.</param>
    /// <param name="bias">Optional shift of C elements.</param>
    /// <param name="training">Use (and accumulate) the batch statistics rather than the running ones.</param>
    /// <param name="momentum">Weight of the batch statistics in the running update.</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        const string op = "batch_norm";
        CheckInput(op, input);
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
        if (runningMean is not null) ChannelStride("runningMean", runningMean);
        if (runningVar is not null) ChannelStride("runningVar", runningVar);

        long t0 = Stopwatch.GetTimestamp();
        var dtype = input.DType;
        var gamma = Values(weight, c, 1);
        var beta = Values(bias, c, 0);
        using var x = input.ContiguousHandle();
        var y = Tensor.Empty(shape, dtype);
        using var mean = Tensor.Empty([c], dtype);
        using var rstd = Tensor.Empty([c], dtype);
        // An empty batch has no statistics: PyTorch leaves the running ones alone.
        bool emptyBatch = input.NumEl == 0;
        BatchNormForward(x, y, mean, rstd, training && emptyBatch ? null : runningMean, training && emptyBatch ? null : runningVar,
            n, c, s, gamma, beta, training, momentum, eps);
        if (training && !emptyBatch)
        {
            runningMean?.Storage.BumpVersion();
            runningVar?.Storage.BumpVersion();
        }

        RecordAffineNorm(op, input, weight, bias, y, x, mean, rstd, c,
            (g, xs, m, r, dx, dGamma, dBeta) => BatchNormBackward(g, xs, m, r, dx, n, c, s, gamma, dGamma, dBeta, training), t0);
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
    /// <param name="momentum">Weight of the batch statistics in the running update.</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    public static Tensor BatchNorm2d(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        CheckInput("batch_norm2d", input);
        if (input.Rank is < 2 or > 4)
            throw new ArgumentException($"batch_norm2d: expected 2D, 3D or 4D input (got {input.Rank}D input of shape {Shp(input)}).");
        return BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps);
    }

    /// <summary>PyTorch checks only the element count of the per-channel tensors.</summary>
    private static void CheckChannelCount(string op, string name, Tensor? t, Tensor input)
    {
        if (t is null) return;
        int c = input.Layout.Shape[1];
        if (t.NumEl != c)
            throw new ArgumentException($"{op}: {name} should contain {c} elements not {t.NumEl} ({name} of shape {Shp(t)}, input of shape {Shp(input)}).");
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

    private static unsafe void BatchNormForward(Tensor x, Tensor y, Tensor mean, Tensor rstd, Tensor? runningMean, Tensor? runningVar,
        int n, int c, long s, double[] gamma, double[] beta, bool training, double momentum, double eps)
    {
        nint rm = runningMean is null ? 0 : CpuBackend.BasePointer(runningMean), rv = runningVar is null ? 0 : CpuBackend.BasePointer(runningVar);
        long rmStride = runningMean is null ? 0 : ChannelStride("runningMean", runningMean);
        long rvStride = runningVar is null ? 0 : ChannelStride("runningVar", runningVar);
        if (x.DType == DType.F32)
            BatchNormKernels.Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd),
                new BatchNormKernels.Running<float>(rm, rmStride, rv, rvStride), n, c, s, gamma, beta, training, momentum, eps);
        else
            BatchNormKernels.Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
                new BatchNormKernels.Running<double>(rm, rmStride, rv, rvStride), n, c, s, gamma, beta, training, momentum, eps);
    }

    private static unsafe void BatchNormBackward(Tensor g, Tensor x, Tensor mean, Tensor rstd, Tensor? dx, int n, int c, long s,
        double[] gamma, double[]? dGamma, double[]? dBeta, bool training)
    {
        if (x.DType == DType.F32)
            BatchNormKernels.Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd),
                dx is null ? null : CpuBackend.Ptr<float>(dx), n, c, s, gamma, dGamma, dBeta, training);
        else
            BatchNormKernels.Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
                dx is null ? null : CpuBackend.Ptr<double>(dx), n, c, s, gamma, dGamma, dBeta, training);
    }
}
