using Engine.Autograd;

namespace Engine.Ops;

/// <summary>Argument checks and the tape node shared by the normalisation operators.</summary>
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

    /// <summary>
    /// A CPU tensor of <paramref name="dtype"/> holding <paramref name="values"/>: the host plumbing of the
    /// families that still build parameter gradients in <c>double[]</c> (Linear, the channels-last depthwise
    /// convolution, the LSTM); the norms no longer use it.
    /// </summary>
    public static Tensor ToTensor(double[] values, int[] shape, DType dtype)
    {
        var t = Engine.Tensor.FromArray(values, shape);
        if (dtype == DType.F64) return t;
        using (t) return t.ToDType(dtype);
    }

    /// <summary>
    /// A norm's backward kernel, on the input's device: from the output gradient, the input, the weight (null
    /// for 1) and the saved statistics, it writes the input gradient into <c>dx</c> and the affine gradients
    /// into <c>dw</c> and <c>db</c>, tensors of the parameters' dtype and device; each is null when nobody needs it.
    /// </summary>
    public delegate void NormBackward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor spread, Tensor? dx, Tensor? dw, Tensor? db);

    /// <summary>
    /// Records the one tape node every affine norm has: it saves the input, the two statistics and the weight
    /// tensor <paramref name="w"/> (contiguous, under the tape's version check; never copied to the host), and its
    /// backward allocates the gradients on the device and runs <paramref name="backward"/>.
    /// </summary>
    public static void RecordAffineNorm(string op, Tensor input, Tensor? weight, Tensor? bias, Tensor y,
        Tensor x, Tensor? w, Tensor mean, Tensor spread, NormBackward backward, long forwardStart)
    {
        if (!Tape.ShouldRecord(input, weight, bias)) return;
        var sx = Tape.Save(x); var sm = Tape.Save(mean); var ss = Tape.Save(spread);
        var sw = w is null ? null : Tape.Save(w);
        bool needX = input.RequiresGrad, needW = weight is { RequiresGrad: true }, needB = bias is { RequiresGrad: true };
        var shape = input.Layout.Shape;
        var wShape = weight?.Shape; var bShape = bias?.Shape;
        Tape.Record(op, [input, weight, bias], [y], g =>
        {
            using var gc = g[0].ContiguousHandle();
            var dx = needX ? Tensor.Empty(shape, gc.DType, gc.Device) : null;
            var dw = needW ? Tensor.Empty(wShape!, gc.DType, gc.Device) : null;
            var db = needB ? Tensor.Empty(bShape!, gc.DType, gc.Device) : null;
            backward(gc, sx.Value, sw?.Value, sm.Value, ss.Value, dx, dw, db);
            return [dx, dw, db];
        }, sw is null ? [sx, sm, ss] : [sx, sm, ss, sw], forwardStart);
    }
}
