using System.Diagnostics;
using Engine.Backends;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Group normalisation, as PyTorch's <c>F.group_norm</c>: the C channels of an (N, C, *) tensor are split
    /// into <paramref name="numGroups"/> groups, and each (sample, group) is normalised with its mean and
    /// biased variance, y = (x - mean) / sqrt(var + eps) * weight + bias, with a weight and bias per channel.
    /// GroupNorm with one group is AFFNet's "layer_norm_2d". One fused node; the backward reuses the saved
    /// mean and 1/sqrt(var + eps). Runs on the CPU (<c>GroupNorm.Cpu.cs</c>) and on CUDA
    /// (<c>GroupNorm.Cuda.cs</c>, <c>GroupNorm.cu</c>).
    /// </summary>
    /// <param name="input">Tensor of shape (N, C, *).</param>
    /// <param name="numGroups">Number of groups; must divide C.</param>
    /// <param name="weight">Optional scale of shape (C).</param>
    /// <param name="bias">Optional shift of shape (C).</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    /// <exception cref="ArgumentException">
    /// Besides the shape checks, where N·(C/G)·(spatial sizes) is 1, as PyTorch's <c>F.group_norm</c> refuses it
    /// ("Expected more than 1 value per channel when training"): one lone value per group would give the bias.
    /// </exception>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "group_norm";
        CheckFloatInput(op, input);
        CheckCompanion(op, "weight", weight, input);
        CheckCompanion(op, "bias", bias, input);
        var shape = input.Layout.Shape;
        if (shape.Length < 2)
            throw new ArgumentException($"{op}: Expected at least 2 dimensions for input tensor but received {shape.Length} (input of shape {Shp(input)}).");
        int n = shape[0], c = shape[1];
        if (numGroups <= 0)
            throw new ArgumentException($"{op}: Expected num groups to be greater than 0, got {numGroups} (input of shape {Shp(input)}).");
        if (c % numGroups != 0)
            throw new ArgumentException($"{op}: Expected number of channels in input to be divisible by numGroups, but got input of shape {Shp(input)} and numGroups = {numGroups}.");
        CheckChannelVector(op, "weight", weight, input);
        CheckChannelVector(op, "bias", bias, input);
        // PyTorch's F.group_norm refuses N·(C/G)·(spatial sizes) == 1: a lone (sample, group) of one value
        // normalises to 0 and the output would be the bias alone. Its rule and wording, product included (so
        // (2, 3) in 3 groups, one value per group but two samples, passes as it does there).
        long size = (long)n * (c / numGroups) * Layout.Count(shape.AsSpan(2));
        if (size == 1)
            throw new ArgumentException($"{op}: Expected more than 1 value per channel when training, got input size {Shp(input)} ({numGroups} groups).");

        long t0 = Stopwatch.GetTimestamp();
        var groups = new GroupNormShape(n, c, Layout.Count(shape.AsSpan(2)), numGroups);
        using var x = input.ContiguousHandle();
        using var w = weight?.ContiguousHandle();
        using var b = bias?.ContiguousHandle();
        var y = Tensor.Empty(shape, input.DType, input.Device);
        using var mean = Tensor.Empty([n, numGroups], input.DType, input.Device);
        using var rstd = Tensor.Empty([n, numGroups], input.DType, input.Device);
        GroupNormForward(x, w, b, y, mean, rstd, groups, eps);
        RecordAffineNorm(op, input, weight, bias, y, x, w, mean, rstd,
            (g, xs, ws, m, r, dx, dw, db) => GroupNormBackward(g, xs, ws, m, r, dx, dw, db, groups), t0);
        return y;
    }

    private static void GroupNormForward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, GroupNormShape shape, double eps)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: GroupNormCpu.Forward(x, w, b, y, mean, rstd, shape, eps); break;
            case DeviceType.Cuda: GroupNormCuda.Forward(x, w, b, y, mean, rstd, shape, eps); break;
            default: throw Kernel.Missing("group_norm", x);
        }
    }

    private static void GroupNormBackward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, GroupNormShape shape)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: GroupNormCpu.Backward(g, x, w, mean, rstd, dx, dw, db, shape); break;
            case DeviceType.Cuda: GroupNormCuda.Backward(g, x, w, mean, rstd, dx, dw, db, shape); break;
            default: throw Kernel.Missing("group_norm_backward", x);
        }
    }
}

/// <summary>
/// A contiguous (N, C, S) tensor in G groups of channels: each (sample, group) is one contiguous row of
/// <see cref="Length"/> = C/G·S values, with its own statistics.
/// </summary>
internal readonly record struct GroupNormShape(int N, int C, long S, int Groups)
{
    /// <summary>Channels per group.</summary>
    public int PerGroup => C / Groups;

    /// <summary>The number of (sample, group) rows.</summary>
    public long Rows => (long)N * Groups;

    /// <summary>The values of one row.</summary>
    public long Length => PerGroup * S;
}
