namespace Engine.Ops;

/// <summary>
/// Argument checks shared by the activation, loss, regularisation and resize families, with PyTorch's
/// wording plus the shapes involved.
/// </summary>
internal static class FamilyGuards
{
    public static string Shape(Tensor t) => Layout.Format(t.Layout.Shape);

    /// <summary>
    /// A contiguous handle the caller disposes, for a kernel to read through a pointer. The copy (when one
    /// is needed) is not recorded: the op records its own node.
    /// </summary>
    public static Tensor Dense(Tensor t)
    {
        using var noGrad = Autograd.Tape.NoGrad();
        return t.ContiguousHandle();
    }

    /// <summary>A live floating-point tensor; the message names the op, the dtype and the shape.</summary>
    public static void Float(string op, Tensor t, string what = "input")
    {
        ArgumentNullException.ThrowIfNull(t, what);
        t.ThrowIfDisposed(op);
        if (!t.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected {what} to be a floating point tensor, got {t.DType.TorchName()} with shape {Shape(t)}.");
    }

    /// <summary>
    /// The kernels of these families are CPU kernels until the CUDA backend adds its own; a tensor on
    /// another device gets a clear refusal instead of a cast failure deep in a kernel.
    /// </summary>
    public static void Cpu(string op, params Tensor?[] tensors)
    {
        foreach (var t in tensors)
            if (t is not null && t.Device != Device.Cpu)
                throw new NotSupportedException($"{op}: no kernel for tensors on {t.Device} in this build (tensor of shape {Shape(t)}); only the CPU is supported so far.");
    }

    /// <summary>All tensors on one device, as PyTorch requires.</summary>
    public static void SameDevice(string op, Tensor a, Tensor b, string aName, string bName)
    {
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: expected all tensors to be on the same device, but found {aName} on {a.Device} (shape {Shape(a)}) and {bName} on {b.Device} (shape {Shape(b)}).");
    }

    /// <summary>A reduction name: 'none', 'mean' or 'sum'.</summary>
    public static void Reduction(string op, string reduction)
    {
        if (reduction is not ("none" or "mean" or "sum"))
            throw new ArgumentException($"{op}: {reduction} is not a valid value for reduction (expected 'none', 'mean' or 'sum').");
    }

    /// <summary>A probability in [0, 1].</summary>
    public static void Probability(string op, double p, Tensor input)
    {
        if (!(p >= 0 && p <= 1))
            throw new ArgumentException($"{op}: dropout probability has to be between 0 and 1, but got {p} (input shape {Shape(input)}).");
    }
}
