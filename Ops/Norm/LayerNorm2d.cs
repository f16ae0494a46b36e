using System.Diagnostics;
using Engine.Backends;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Channels-first layer norm: normalises an (N, C, *) tensor over C separately at every position,
    /// y = (x - mean) / sqrt(var + eps) * weight + bias with the biased variance over C. The same numbers as
    /// permuting to channels-last, <see cref="LayerNorm"/> over C and permuting back (vHeat's LN2d), without
    /// the two copies. For AFFNet's variant, with eps added to the standard deviation, see
    /// <see cref="LayerNorm2dEpsOnStd"/>. Runs on the CPU (<c>LayerNorm2d.Cpu.cs</c>) and on CUDA
    /// (<c>LayerNorm2d.Cuda.cs</c>, <c>LayerNorm2d.cu</c>).
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
        CheckFloatInput(op, input);
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
        var shapeOf = new ChannelsFirstShape(n, c, s, eps, epsOnStd);
        using var x = input.ContiguousHandle();
        using var w = weight?.ContiguousHandle();
        using var b = bias?.ContiguousHandle();
        var y = Tensor.Empty(shape, input.DType, input.Device);
        int[] statShape = [n, checked((int)s)];
        using var mean = Tensor.Empty(statShape, input.DType, input.Device);
        using var spread = Tensor.Empty(statShape, input.DType, input.Device);
        ChannelsFirstForward(x, w, b, y, mean, spread, shapeOf);
        RecordAffineNorm(op, input, weight, bias, y, x, w, mean, spread,
            (g, xs, ws, m, sp, dx, dw, db) => ChannelsFirstBackward(g, xs, ws, m, sp, dx, dw, db, shapeOf), t0);
        return y;
    }

    /// <summary>A per-channel parameter must be a vector of C elements.</summary>
    private static void CheckChannelVector(string op, string name, Tensor? t, Tensor input)
    {
        if (t is null) return;
        if (t.Rank != 1 || t.Layout.Shape[0] != input.Layout.Shape[1])
            throw new ArgumentException($"{op}: Expected {name} to be a vector of size equal to the number of channels in input, but got {name} of shape {Shp(t)} and input of shape {Shp(input)}.");
    }

    private static void ChannelsFirstForward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor spread, ChannelsFirstShape shape)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: LayerNorm2dCpu.Forward(x, w, b, y, mean, spread, shape); break;
            case DeviceType.Cuda: LayerNorm2dCuda.Forward(x, w, b, y, mean, spread, shape); break;
            default: throw Kernel.Missing(shape.EpsOnStd ? "layer_norm2d_eps_on_std" : "layer_norm2d", x);
        }
    }

    private static void ChannelsFirstBackward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor spread, Tensor? dx, Tensor? dw, Tensor? db, ChannelsFirstShape shape)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: LayerNorm2dCpu.Backward(g, x, w, mean, spread, dx, dw, db, shape); break;
            case DeviceType.Cuda: LayerNorm2dCuda.Backward(g, x, w, mean, spread, dx, dw, db, shape); break;
            default: throw Kernel.Missing(shape.EpsOnStd ? "layer_norm2d_eps_on_std_backward" : "layer_norm2d_backward", x);
        }
    }
}

/// <summary>
/// A contiguous (N, C, S) tensor normalised over C at each of its N·S positions, and how: eps, and whether it
/// is added to the standard deviation (the second statistic saved is then the std rather than 1/sqrt(var + eps)).
/// </summary>
internal readonly record struct ChannelsFirstShape(int N, int C, long S, double Eps, bool EpsOnStd)
{
    /// <summary>The number of positions, N·S: one pair of statistics each.</summary>
    public long Positions => N * S;
}
