using System.Diagnostics;
using Engine.Autograd;
using Engine.Cpu;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Channels-first layer norm: normalises an (N, C, *) tensor over C separately at every position,
    /// y = (x - mean) / sqrt(var + eps) * weight + bias with the biased variance over C. The same numbers as
    /// permuting to channels-last, <see cref="LayerNorm"/> over C and permuting back (vHeat's LN2d), without
    /// the two copies. For AFFNet's variant, with eps added to the standard deviation, see
    /// <see cref="LayerNorm2dEpsOnStd"/>.
    /// </summary>
    /// <param name="input">Tensor of shape (N, C, *).</param>
    /// <param name="weight">Optional scale of shape (C).</param>
    /// <param name="bias">Optional shift of shape (C).</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    public static Tensor LayerNorm2d(Tensor input, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
        ChannelsFirstLayerNorm("layer_norm2d", input, weight, bias, eps, epsOnStd: false);

    /// <summary>
    /// AFFNet's channels-first layer norm (its "layer_norm" on NCHW): normalises an (N, C, *) tensor over C
    /// at every position with eps added to the standard deviation, not to the variance:
    /// y = (x - mean) / (std + eps) * weight + bias, where std = sqrt(mean((x - mean)²)) is the biased
    /// (population) standard deviation over C.
    /// </summary>
    /// <param name="input">Tensor of shape (N, C, *).</param>
    /// <param name="weight">Optional scale of shape (C).</param>
    /// <param name="bias">Optional shift of shape (C).</param>
    /// <param name="eps">Added to the standard deviation.</param>
    public static Tensor LayerNorm2dEpsOnStd(Tensor input, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
        ChannelsFirstLayerNorm("layer_norm2d_eps_on_std", input, weight, bias, eps, epsOnStd: true);

    private static Tensor ChannelsFirstLayerNorm(string op, Tensor input, Tensor? weight, Tensor? bias, double eps, bool epsOnStd)
    {
        CheckInput(op, input);
        CheckCompanion(op, "weight", weight, input);
        CheckCompanion(op, "bias", bias, input);
        var shape = input.Layout.Shape;
        if (shape.Length < 2)
            throw new ArgumentException($"{op}: Expected an input of shape (N, C, *) with at least 2 dimensions, but got input of shape {Shp(input)}.");
        int n = shape[0], c = shape[1];
        CheckChannelVector(op, "weight", weight, input);
        CheckChannelVector(op, "bias", bias, input);

        long t0 = Stopwatch.GetTimestamp();
        long s = Layout.Count(shape.AsSpan(2));
        var dtype = input.DType;
        var gamma = Values(weight, c, 1);
        var beta = Values(bias, c, 0);
        using var x = input.ContiguousHandle();
        var y = Tensor.Empty(shape, dtype);
        int[] statShape = [n, checked((int)s)];
        using var mean = Tensor.Empty(statShape, dtype);
        using var spread = Tensor.Empty(statShape, dtype);
        ChannelsFirstForward(x, y, mean, spread, n, c, s, gamma, beta, eps, epsOnStd);

        RecordAffineNorm(op, input, weight, bias, y, x, mean, spread, c,
            (g, xs, m, sp, dx, dGamma, dBeta) => ChannelsFirstBackward(g, xs, m, sp, dx, n, c, s, gamma, dGamma, dBeta, eps, epsOnStd), t0);
        return y;
    }

    /// <summary>A per-channel parameter must be a vector of C elements.</summary>
    private static void CheckChannelVector(string op, string name, Tensor? t, Tensor input)
    {
        if (t is null) return;
        if (t.Rank != 1 || t.Layout.Shape[0] != input.Layout.Shape[1])
            throw new ArgumentException($"{op}: Expected {name} to be a vector of size equal to the number of channels in input, but got {name} of shape {Shp(t)} and input of shape {Shp(input)}.");
    }

    private static unsafe void ChannelsFirstForward(Tensor x, Tensor y, Tensor mean, Tensor spread, int n, int c, long s, double[] gamma, double[] beta, double eps, bool epsOnStd)
    {
        if (x.DType == DType.F32)
            ChannelsFirstKernels.Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(spread), n, c, s, gamma, beta, eps, epsOnStd);
        else
            ChannelsFirstKernels.Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(spread), n, c, s, gamma, beta, eps, epsOnStd);
    }

    private static unsafe void ChannelsFirstBackward(Tensor g, Tensor x, Tensor mean, Tensor spread, Tensor? dx, int n, int c, long s, double[] gamma, double[]? dGamma, double[]? dBeta, double eps, bool epsOnStd)
    {
        if (x.DType == DType.F32)
            ChannelsFirstKernels.Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(spread),
                dx is null ? null : CpuBackend.Ptr<float>(dx), n, c, s, gamma, dGamma, dBeta, eps, epsOnStd);
        else
            ChannelsFirstKernels.Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(spread),
                dx is null ? null : CpuBackend.Ptr<double>(dx), n, c, s, gamma, dGamma, dBeta, eps, epsOnStd);
    }
}
