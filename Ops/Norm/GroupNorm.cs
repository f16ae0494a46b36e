using System.Diagnostics;
using Engine.Autograd;
using Engine.Cpu;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Group normalisation, as PyTorch's <c>F.group_norm</c>: the C channels of an (N, C, *) tensor are split
    /// into <paramref name="numGroups"/> groups, and each (sample, group) is normalised with its mean and
    /// biased variance, y = (x - mean) / sqrt(var + eps) * weight + bias, with a weight and bias per channel.
    /// GroupNorm with one group is AFFNet's "layer_norm_2d". One fused node; the backward reuses the saved
    /// mean and 1/sqrt(var + eps).
    /// </summary>
    /// <param name="input">Tensor of shape (N, C, *).</param>
    /// <param name="numGroups">Number of groups; must divide C.</param>
    /// <param name="weight">Optional scale of shape (C).</param>
    /// <param name="bias">Optional shift of shape (C).</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "group_norm";
        CheckInput(op, input);
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

        long t0 = Stopwatch.GetTimestamp();
        long s = Layout.Count(shape.AsSpan(2));
        var dtype = input.DType;
        var gamma = Values(weight, c, 1);
        var beta = Values(bias, c, 0);
        using var x = input.ContiguousHandle();
        var y = Tensor.Empty(shape, dtype);
        using var mean = Tensor.Empty([n, numGroups], dtype);
        using var rstd = Tensor.Empty([n, numGroups], dtype);
        GroupNormForward(x, y, mean, rstd, n, c, s, numGroups, gamma, beta, eps);

        RecordAffineNorm(op, input, weight, bias, y, x, mean, rstd, c,
            (g, xs, m, r, dx, dGamma, dBeta) => GroupNormBackward(g, xs, m, r, dx, n, c, s, numGroups, gamma, dGamma, dBeta), t0);
        return y;
    }

    private static unsafe void GroupNormForward(Tensor x, Tensor y, Tensor mean, Tensor rstd, int n, int c, long s, int groups, double[] gamma, double[] beta, double eps)
    {
        if (x.DType == DType.F32)
            GroupNormKernels.Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd), n, c, s, groups, gamma, beta, eps);
        else
            GroupNormKernels.Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd), n, c, s, groups, gamma, beta, eps);
    }

    private static unsafe void GroupNormBackward(Tensor g, Tensor x, Tensor mean, Tensor rstd, Tensor? dx, int n, int c, long s, int groups, double[] gamma, double[]? dGamma, double[]? dBeta)
    {
        if (x.DType == DType.F32)
            GroupNormKernels.Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd),
                dx is null ? null : CpuBackend.Ptr<float>(dx), n, c, s, groups, gamma, dGamma, dBeta);
        else
            GroupNormKernels.Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
                dx is null ? null : CpuBackend.Ptr<double>(dx), n, c, s, groups, gamma, dGamma, dBeta);
    }
}
