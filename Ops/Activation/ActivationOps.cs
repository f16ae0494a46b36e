using System.Numerics;
using System.Numerics.Tensors;
using Engine.Backends;

namespace Engine.Ops;

// The elementwise activations, declared like the core ops in Engine/Backends/ElementwiseOps.cs: a name
// (the CUDA kernels will be named after it), the scalar function and its derivative. They run through the
// engine's unary kernels and fused backward (g * f'(x, y)). Formulas and the derivatives at the kinks are
// PyTorch's (aten/src/ATen/native/cpu/Activation.cpp).

#pragma warning disable CS1591 // documented by the functions in Activation.cs that use them

/// <summary>Exact GELU: x * Φ(x), with Φ from <see cref="ErrorFunction.Erf"/> evaluated in double.</summary>
public readonly struct GeluOp : IUnaryOp
{
    private const double Sqrt1_2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;

    public static string Name => "gelu";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double v = double.CreateTruncating(x);
        return T.CreateTruncating(v * Cdf(v));
    }

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double v = double.CreateTruncating(x);
        double cdf = Cdf(v);
        double pdf = Math.Exp(-0.5 * v * v) * InvSqrt2Pi;
        return T.CreateTruncating(cdf + v * pdf);
    }

    // Φ(x) through erfc rather than 1 + erf: no cancellation for negative x, where Φ is small.
    private static double Cdf(double v) => 0.5 * ErrorFunction.Erfc(-v * Sqrt1_2);
}

/// <summary>GELU with the tanh approximation: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))).</summary>
public readonly struct GeluTanhOp : IUnaryOp
{
    private const double Beta = 0.79788456080286535588; // sqrt(2/π)
    private const double Kappa = 0.044715;

    public static string Name => "gelu_tanh";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var inner = T.CreateTruncating(Beta) * (x + T.CreateTruncating(Kappa) * x * x * x);
        return T.CreateTruncating(0.5) * x * (T.One + T.Tanh(inner));
    }

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var beta = T.CreateTruncating(Beta);
        var kappa = T.CreateTruncating(Kappa);
        var half = T.CreateTruncating(0.5);
        var x2 = x * x;
        var t = T.Tanh(beta * (x + kappa * x2 * x));
        var left = half * (T.One + t);
        var right = half * x * (T.One - t * t) * beta * (T.One + T.CreateTruncating(3) * kappa * x2);
        return left + right;
    }
}

/// <summary>SiLU (swish): x * sigmoid(x).</summary>
public readonly struct SiluOp : IUnaryOp
{
    public static string Name => "silu";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => x / (T.One + T.Exp(-x));

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = T.One / (T.One + T.Exp(-x));
        return s * (T.One + x * (T.One - s));
    }

    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Sigmoid(x, y);
        TensorPrimitives.Multiply(x, y, y);
        return true;
    }
}

/// <summary>Hardswish: x * relu6(x + 3) / 6; the derivative is x/3 + 1/2 on [-3, 3], as PyTorch's backward.</summary>
public readonly struct HardswishOp : IUnaryOp
{
    public static string Name => "hardswish";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var three = T.CreateTruncating(3);
        var six = T.CreateTruncating(6);
        return x * T.Min(T.Max(x + three, T.Zero), six) / six;
    }

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var three = T.CreateTruncating(3);
        if (x < -three) return T.Zero;
        if (x <= three) return x / three + T.CreateTruncating(0.5);
        return T.One;
    }
}

/// <summary>Softshrink with threshold a: x - a above a, x + a below -a, 0 between (the gradient is 0 on [-a, a]).</summary>
public readonly struct SoftshrinkOp : IUnaryOp
{
    public static string Name => "softshrink";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        x > a ? x - a : x < -a ? x + a : x * T.Zero;

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        x >= -a && x <= a ? T.Zero : T.One;
}
