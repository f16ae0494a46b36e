namespace Engine.Tests.Ops;

/// <summary>
/// The normalisations composed from the engine's core operations (mean, subtraction, rsqrt, ...), whose
/// gradients come from the tape: a reference for the fused kernels' backward at sizes too large for
/// finite differences (long rows, several tiles, several partial-sum blocks).
/// </summary>
public static class NormComposite
{
    private static Tensor Affine(Tensor y, Tensor? weight, Tensor? bias, int[] paramShape)
    {
        if (weight is not null) y = y * weight.Reshape(paramShape);
        if (bias is not null) y = y + bias.Reshape(paramShape);
        return y;
    }

    /// <summary>Shape (1, C, 1, ...) for a per-channel parameter of an (N, C, *) input.</summary>
    private static int[] ChannelShape(Tensor x) => x.Shape.Select((d, i) => i == 1 ? d : 1).ToArray();

    private static Tensor Standardize(Tensor x, int[] dims, double eps, bool epsOnStd)
    {
        var centred = x - x.Mean(dims, keepDim: true);
        var variance = (centred * centred).Mean(dims, keepDim: true);
        return epsOnStd ? centred / (variance.Sqrt() + eps) : centred * (variance + eps).Rsqrt();
    }

    public static Tensor LayerNorm(Tensor x, int[] normalizedShape, Tensor? weight, Tensor? bias, double eps)
    {
        var dims = Enumerable.Range(x.Rank - normalizedShape.Length, normalizedShape.Length).ToArray();
        return Affine(Standardize(x, dims, eps, false), weight, bias, normalizedShape);
    }

    public static Tensor ChannelsFirst(Tensor x, Tensor? weight, Tensor? bias, double eps, bool epsOnStd) =>
        Affine(Standardize(x, [1], eps, epsOnStd), weight, bias, ChannelShape(x));

    public static Tensor Group(Tensor x, int groups, Tensor? weight, Tensor? bias, double eps)
    {
        var shape = x.Shape;
        var grouped = x.Reshape([shape[0], groups, -1]);
        var y = Standardize(grouped, [2], eps, false).Reshape(shape);
        return Affine(y, weight, bias, ChannelShape(x));
    }

    public static Tensor BatchTraining(Tensor x, Tensor? weight, Tensor? bias, double eps)
    {
        var dims = Enumerable.Range(0, x.Rank).Where(d => d != 1).ToArray();
        return Affine(Standardize(x, dims, eps, false), weight, bias, ChannelShape(x));
    }

    public static Tensor BatchEval(Tensor x, Tensor mean, Tensor variance, Tensor? weight, Tensor? bias, double eps)
    {
        var cs = ChannelShape(x);
        return Affine((x - mean.Reshape(cs)) * (variance.Reshape(cs) + eps).Rsqrt(), weight, bias, cs);
    }

    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        var y = x.MatMul(weight.Transpose(0, 1));
        return bias is null ? y : y + bias;
    }
}
