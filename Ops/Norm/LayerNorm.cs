using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Layer normalisation over the trailing dimensions given by <paramref name="normalizedShape"/>, as
    /// PyTorch's <c>F.layer_norm</c>: each row is normalised with its mean and biased variance,
    /// y = (x - mean) / sqrt(var + eps) * weight + bias. One fused node; the backward reuses the saved
    /// mean and 1/sqrt(var + eps). Runs on the CPU (<c>LayerNorm.Cpu.cs</c>) and on CUDA
    /// (<c>LayerNorm.Cuda.cs</c>, <c>LayerNorm.cu</c>).
    /// </summary>
    /// <param name="input">Tensor of shape (*, normalizedShape).</param>
    /// <param name="normalizedShape">The trailing dimensions to normalise over (at least one).</param>
    /// <param name="weight">Optional scale of shape <paramref name="normalizedShape"/>.</param>
    /// <param name="bias">Optional shift of shape <paramref name="normalizedShape"/>.</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "layer_norm";
        CheckFloatInput(op, input);
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
        using var x = input.ContiguousHandle();
        using var w = weight?.ContiguousHandle();
        using var b = bias?.ContiguousHandle();
        var y = Tensor.Empty(shape, input.DType, input.Device);
        var mean = Tensor.Empty([(int)rows], input.DType, input.Device);
        var rstd = Tensor.Empty([(int)rows], input.DType, input.Device);
        using (mean)
        using (rstd)
        {
            LayerNormForward(x, w, b, y, mean, rstd, rows, d, eps);
            if (!Tape.ShouldRecord(input, weight, bias)) return y;
            // The weight is saved as a tensor (under the tape's version check), never copied to the host.
            var sx = Tape.Save(x); var sm = Tape.Save(mean); var sr = Tape.Save(rstd);
            var sw = w is null ? null : Tape.Save(w);
            bool needX = input.RequiresGrad, needW = weight is { RequiresGrad: true }, needB = bias is { RequiresGrad: true };
            Tape.Record(op, [input, weight, bias], [y], g =>
            {
                using var gc = g[0].ContiguousHandle();
                var dx = needX ? Tensor.Empty(shape, gc.DType, gc.Device) : null;
                var dw = needW ? Tensor.Empty(normalizedShape, gc.DType, gc.Device) : null;
                var db = needB ? Tensor.Empty(normalizedShape, gc.DType, gc.Device) : null;
                LayerNormBackward(gc, sx.Value, sw?.Value, sm.Value, sr.Value, dx, dw, db, rows, d);
                return [dx, dw, db];
            }, sw is null ? [sx, sm, sr] : [sx, sm, sr, sw], t0);
        }
        return y;
    }

    private static void LayerNormForward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, long rows, int d, double eps)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: LayerNormCpu.Forward(x, w, b, y, mean, rstd, rows, d, eps); break;
            case DeviceType.Cuda: LayerNormCuda.Forward(x, w, b, y, mean, rstd, rows, d, eps); break;
            default: throw Kernel.Missing("layer_norm", x);
        }
    }

    private static void LayerNormBackward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, long rows, int d)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: LayerNormCpu.Backward(g, x, w, mean, rstd, dx, dw, db, rows, d); break;
            case DeviceType.Cuda: LayerNormCuda.Backward(g, x, w, mean, rstd, dx, dw, db, rows, d); break;
            default: throw Kernel.Missing("layer_norm_backward", x);
        }
    }
}
