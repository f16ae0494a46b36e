namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Gaussian error linear unit, x * Φ(x) (PyTorch's <c>F.gelu</c>). <paramref name="approximate"/> is
    /// "none" for the exact form (erf in double precision) or "tanh" for the tanh approximation.
    /// </summary>
    public static Tensor Gelu(Tensor input, string approximate = "none")
    {
        FamilyGuards.Float("gelu", input);
        return approximate switch
        {
            "none" => input.Unary<GeluOp>(),
            "tanh" => input.Unary<GeluTanhOp>(),
            _ => throw new ArgumentException($"gelu: approximate argument must be either none or tanh, got '{approximate}' (input shape {FamilyGuards.Shape(input)})."),
        };
    }

    /// <summary>Sigmoid linear unit (swish), x * sigmoid(x) (PyTorch's <c>F.silu</c>).</summary>
    public static Tensor Silu(Tensor input)
    {
        FamilyGuards.Float("silu", input);
        return input.Unary<SiluOp>();
    }

    /// <summary>x * relu6(x + 3) / 6 (PyTorch's <c>F.hardswish</c>).</summary>
    public static Tensor Hardswish(Tensor input)
    {
        FamilyGuards.Float("hardswish", input);
        return input.Unary<HardswishOp>();
    }

    /// <summary>Shrinks towards zero by <paramref name="lambd"/>, zero on [-lambd, lambd] (PyTorch's <c>F.softshrink</c>).</summary>
    public static Tensor Softshrink(Tensor input, double lambd = 0.5)
    {
        FamilyGuards.Float("softshrink", input);
        if (!(lambd >= 0))
            throw new ArgumentException($"softshrink: lambda must be greater or equal to 0, but found to be {lambd} (input shape {FamilyGuards.Shape(input)}).");
        return input.Unary<SoftshrinkOp>(lambd);
    }

    /// <summary>max(x, 0); the same operation as <see cref="Tensor.Relu"/>.</summary>
    public static Tensor Relu(Tensor input) => input.Relu();

    /// <summary>1 / (1 + e^-x); the same operation as <see cref="Tensor.Sigmoid"/>.</summary>
    public static Tensor Sigmoid(Tensor input) => input.Sigmoid();

    /// <summary>Hyperbolic tangent; the same operation as <see cref="Tensor.Tanh"/>.</summary>
    public static Tensor Tanh(Tensor input) => input.Tanh();

    /// <summary>
    /// exp(x) / sum(exp(x)) along <paramref name="dim"/> (any axis, any strides), computed with the maximum
    /// subtracted first. One tape node whose backward is y * (g - sum(g * y)).
    /// </summary>
    public static Tensor Softmax(Tensor input, int dim) => SoftmaxFunction.Apply(input, dim, log: false);

    /// <summary>
    /// x - log(sum(exp(x))) along <paramref name="dim"/>, computed with the maximum subtracted first. One
    /// tape node whose backward is g - exp(y) * sum(g).
    /// </summary>
    public static Tensor LogSoftmax(Tensor input, int dim) => SoftmaxFunction.Apply(input, dim, log: true);
}
