using Engine.Autograd;

namespace Engine.Ops;

/// <summary>Argument checks and parameter plumbing shared by the normalisation operators.</summary>
internal static class NormArgs
{
    public static string Shp(Tensor t) => Layout.Format(t.Layout.Shape);

    /// <summary>The input must be a live floating-point tensor on a device with a kernel for <paramref name="op"/>.</summary>
    public static void CheckInput(string op, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.ThrowIfDisposed(op);
        if (!input.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected a floating point input, got {input.DType.TorchName()} with shape {Shp(input)}.");
        if (input.Device.Type != DeviceType.Cpu)
            throw new NotSupportedException($"{op}: no kernel for device {input.Device} yet (input of shape {Shp(input)}); the CUDA kernels come with the GPU backend.");
    }

    /// <summary>The input must be a live floating-point tensor (on any device: the op dispatches on it).</summary>
    public static void CheckFloatInput(string op, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.ThrowIfDisposed(op);
        if (!input.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected a floating point input, got {input.DType.TorchName()} with shape {Shp(input)}.");
    }

    /// <summary>An optional tensor argument must match the input's dtype and device.</summary>
    public static void CheckCompanion(string op, string name, Tensor? t, Tensor input)
    {
        if (t is null) return;
        t.ThrowIfDisposed(op);
        if (t.DType != input.DType)
            throw new ArgumentException($"{op}: expected {name} to have the input's dtype {input.DType.TorchName()}, got {t.DType.TorchName()} ({name} of shape {Shp(t)}, input of shape {Shp(input)}).");
        if (t.Device != input.Device)
            throw new ArgumentException($"{op}: expected {name} on the input's device {input.Device}, got {t.Device} ({name} of shape {Shp(t)}, input of shape {Shp(input)}).");
    }

    /// <summary>A parameter's values in row-major order as doubles, or <paramref name="count"/> copies of <paramref name="fill"/> when it is absent.</summary>
    public static double[] Values(Tensor? t, long count, double fill)
    {
        if (t is not null) return t.ToArray<double>();
        var v = new double[count];
        Array.Fill(v, fill);
        return v;
    }

    /// <summary>A tensor of <paramref name="dtype"/> holding <paramref name="values"/>.</summary>
    public static Tensor ToTensor(double[] values, int[] shape, DType dtype)
    {
        var t = Engine.Tensor.FromArray(values, shape);
        if (dtype == DType.F64) return t;
        using (t) return t.ToDType(dtype);
    }

    /// <summary>
    /// A norm's backward kernel: from the output gradient, the input and the saved statistics, it writes the
    /// input gradient into <c>dx</c> and accumulates the affine gradients into <c>dGamma</c>/<c>dBeta</c>;
    /// each is null when nobody needs it.
    /// </summary>
    public delegate void NormBackward(Tensor g, Tensor x, Tensor mean, Tensor spread, Tensor? dx, double[]? dGamma, double[]? dBeta);

    /// <summary>
    /// Records the one tape node every affine norm has: it saves the input and the two statistics, and its
    /// backward runs <paramref name="backward"/> and turns the affine sums into tensors of the parameters' shapes.
    /// </summary>
    public static void RecordAffineNorm(string op, Tensor input, Tensor? weight, Tensor? bias, Tensor y,
        Tensor x, Tensor mean, Tensor spread, int affineCount, NormBackward backward, long forwardStart)
    {
        if (!Tape.ShouldRecord(input, weight, bias)) return;
        var sx = Tape.Save(x); var sm = Tape.Save(mean); var ss = Tape.Save(spread);
        bool needX = input.RequiresGrad, needW = weight is { RequiresGrad: true }, needB = bias is { RequiresGrad: true };
        var shape = input.Layout.Shape; var dtype = input.DType;
        var wShape = weight?.Shape; var bShape = bias?.Shape;
        Tape.Record(op, [input, weight, bias], [y], g =>
        {
            using var gc = g[0].ContiguousHandle();
            var dx = needX ? Tensor.Empty(shape, dtype) : null;
            double[]? dGamma = needW || needB ? new double[affineCount] : null, dBeta = needW || needB ? new double[affineCount] : null;
            backward(gc, sx.Value, sm.Value, ss.Value, dx, dGamma, dBeta);
            return [dx, needW ? ToTensor(dGamma!, wShape!, dtype) : null, needB ? ToTensor(dBeta!, bShape!, dtype) : null];
        }, [sx, sm, ss], forwardStart);
    }
}
