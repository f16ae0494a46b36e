using System.Diagnostics;
using Engine.Autograd;
using Engine.Cpu;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Layer normalisation over the trailing dimensions given by <paramref name="normalizedShape"/>, as
    /// PyTorch's <c>F.layer_norm</c>: each row is normalised with its mean and biased variance,
    /// y = (x - mean) / sqrt(var + eps) * weight + bias. One fused node; the backward reuses the saved
    /// mean and 1/sqrt(var + eps).
    /// </summary>
    /// <param name="input">Tensor of shape (*, normalizedShape).</param>
    /// <param name="normalizedShape">The trailing dimensions to normalise over (at least one).</param>
    /// <param name="weight">Optional scale of shape <paramref name="normalizedShape"/>.</param>
    /// <param name="bias">Optional shift of shape <paramref name="normalizedShape"/>.</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "layer_norm";
        CheckInput(op, input);
        CheckCompanion(op, "weight", weight, input);
        CheckCompanion(op, "bias", bias, input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        var ns = Layout.Format(normalizedShape);
        if (normalizedShape.Length == 0)
            throw new ArgumentException($"{op}: Expected normalizedShape to be at least 1-dimensional, i.e., containing at least one element, but got normalizedShape = {ns} (input of shape {Shp(input)}).");
        if (weight is not null && !weight.Layout.Shape.AsSpan().SequenceEqual(normalizedShape))
            throw new ArgumentException($"{op}: Expected weight to be of same shape as normalizedShape, but got weight of shape {Shp(weight)} and normalizedShape = {ns} (input of shape {Shp(input)}).");
        if (bias is not null && !bias.Layout.Shape.AsSpan().SequenceEqual(normalizedShape))
            throw new ArgumentException($"{op}: Expected bias to be of same shape as normalizedShape, but got bias of shape {Shp(bias)} and normalizedShape = {ns} (input of shape {Shp(input)}).");
        var shape = input.Layout.Shape;
        if (shape.Length < normalizedShape.Length || !shape.AsSpan(shape.Length - normalizedShape.Length).SequenceEqual(normalizedShape))
            throw new ArgumentException($"{op}: Given normalizedShape = {ns}, expected input with shape [*, {string.Join(", ", normalizedShape)}], but got input of size {Shp(input)}.");

        long t0 = Stopwatch.GetTimestamp();
        int d = checked((int)Layout.Count(normalizedShape));
        long rows = Layout.Count(shape.AsSpan(0, shape.Length - normalizedShape.Length));
        var dtype = input.DType;
        var gamma = Values(weight, d, 1);
        var beta = Values(bias, d, 0);
        using var x = input.ContiguousHandle();
        var y = Tensor.Empty(shape, dtype);
        using var mean = Tensor.Empty([(int)rows], dtype);
        using var rstd = Tensor.Empty([(int)rows], dtype);
        LayerNormForward(x, y, mean, rstd, rows, d, gamma, beta, eps);

        RecordAffineNorm(op, input, weight, bias, y, x, mean, rstd, d,
            (g, xs, m, r, dx, dGamma, dBeta) => LayerNormBackward(g, xs, m, r, dx, rows, d, gamma, dGamma, dBeta), t0);
        return y;
    }

    private static unsafe void LayerNormForward(Tensor x, Tensor y, Tensor mean, Tensor rstd, long rows, int d, double[] gamma, double[] beta, double eps)
    {
        if (x.DType == DType.F32)
            LayerNormKernels.Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd), rows, d, gamma, beta, eps);
        else
            LayerNormKernels.Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd), rows, d, gamma, beta, eps);
    }

    private static unsafe void LayerNormBackward(Tensor g, Tensor x, Tensor mean, Tensor rstd, Tensor? dx, long rows, int d, double[] gamma, double[]? dGamma, double[]? dBeta)
    {
        if (x.DType == DType.F32)
            LayerNormKernels.Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd),
                dx is null ? null : CpuBackend.Ptr<float>(dx), rows, d, gamma, dGamma, dBeta);
        else
            LayerNormKernels.Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
                dx is null ? null : CpuBackend.Ptr<double>(dx), rows, d, gamma, dGamma, dBeta);
    }
}
