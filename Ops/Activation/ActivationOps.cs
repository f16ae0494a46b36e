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
    public static string CudaForward => "x * 0.5 * erfc(-x * 0.70710678118654752440)";
    public static string CudaDerivative => "0.5 * erfc(-x * 0.70710678118654752440) + x * exp(-0.5 * x * x) * 0.39894228040143267794";

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

    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => GeluVector.TryForward(x, y);

    public static bool TryBackwardSpan<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> gx, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        GeluVector.TryBackward(g, x, gx);

    // Φ(x) through erfc rather than 1 + erf: no cancellation for negative x, where Φ is small.
    private static double Cdf(double v) => 0.5 * ErrorFunction.Erfc(-v * Sqrt1_2);
}

/// <summary>
/// GELU with the tanh approximation, 0.5 x (1 + tanh(u)) with u = sqrt(2/π) (x + 0.044715 x³), evaluated as the
/// identical x / (1 + exp(-2u)): one exponential instead of a tanh, and no overflow (exp(+inf) gives -0).
/// </summary>
public readonly struct GeluTanhOp : IUnaryOp
{
    private const double Beta = 0.79788456080286535588; // sqrt(2/π)
    private const double Kappa = 0.044715;
    private const int Chunk = 1024;

    public static string Name => "gelu_tanh";
    public static string CudaForward => "x / (1.0 + exp(-2.0 * 0.79788456080286535588 * (x + 0.044715 * x * x * x)))";
    public static string CudaDerivative => "(1.0 / (1.0 + exp(-2.0 * 0.79788456080286535588 * (x + 0.044715 * x * x * x)))) * (1.0 + 2.0 * x * (1.0 - 1.0 / (1.0 + exp(-2.0 * 0.79788456080286535588 * (x + 0.044715 * x * x * x)))) * 0.79788456080286535588 * (1.0 + 3.0 * 0.044715 * x * x))";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        x / (T.One + T.Exp(T.CreateTruncating(-2 * Beta) * (x + T.CreateTruncating(Kappa) * x * x * x)));

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // With s = sigmoid(2u) = (1 + tanh u) / 2: d/dx [x s] = s + 2 x s (1 - s) u'.
        var x2 = x * x;
        var s = T.One / (T.One + T.Exp(T.CreateTruncating(-2 * Beta) * (x + T.CreateTruncating(Kappa) * x2 * x)));
        var du = T.CreateTruncating(Beta) * (T.One + T.CreateTruncating(3 * Kappa) * x2);
        return s + T.CreateTruncating(2) * x * s * (T.One - s) * du;
    }

    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Chunks small enough to stay in L1 across the passes.
        for (int at = 0; at < x.Length; at += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - at);
            var xs = x.Slice(at, n);
            var ys = y.Slice(at, n);
            TensorPrimitives.Multiply(xs, xs, ys);
            TensorPrimitives.Multiply(ys, T.CreateTruncating(Kappa), ys);
            TensorPrimitives.Add(ys, T.One, ys);
            TensorPrimitives.Multiply(ys, xs, ys);
            TensorPrimitives.Multiply(ys, T.CreateTruncating(-2 * Beta), ys);
            TensorPrimitives.Exp(ys, ys);
            TensorPrimitives.Add(ys, T.One, ys);
            TensorPrimitives.Divide(xs, ys, ys);
        }
        return true;
    }

    public static bool TryBackwardSpan<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> gx, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> s = stackalloc T[Chunk];
        Span<T> t = stackalloc T[Chunk];
        for (int at = 0; at < x.Length; at += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - at);
            var xs = x.Slice(at, n);
            var ss = s[..n];
            var ts = t[..n];
            var o = gx.Slice(at, n);
            TensorPrimitives.Multiply(xs, xs, ts);                                   // x²
            TensorPrimitives.Multiply(ts, T.CreateTruncating(Kappa), ss);
            TensorPrimitives.Add(ss, T.One, ss);
            TensorPrimitives.Multiply(ss, xs, ss);
            TensorPrimitives.Multiply(ss, T.CreateTruncating(-2 * Beta), ss);
            TensorPrimitives.Exp(ss, ss);
            TensorPrimitives.Add(ss, T.One, ss);
            TensorPrimitives.Reciprocal(ss, ss);                                     // s = sigmoid(2u)
            TensorPrimitives.Multiply(ts, T.CreateTruncating(3 * Kappa * Beta), ts);
            TensorPrimitives.Add(ts, T.CreateTruncating(Beta), ts);                  // u'
            TensorPrimitives.Multiply(ts, xs, ts);
            TensorPrimitives.Multiply(ts, T.CreateTruncating(2), ts);                // 2 x u'
            TensorPrimitives.Subtract(T.One, ss, o);
            TensorPrimitives.Multiply(o, ss, o);
            TensorPrimitives.FusedMultiplyAdd(o, ts, ss, o);                         // s + 2 x u' s (1 - s)
            TensorPrimitives.Multiply(o, g.Slice(at, n), o);
        }
        return true;
    }
}

/// <summary>SiLU (swish): x * sigmoid(x).</summary>
public readonly struct SiluOp : IUnaryOp
{
    public static string Name => "silu";
    public static string CudaForward => "x / (1.0 + exp(-x))";
    public static string CudaDerivative => "(1.0 / (1.0 + exp(-x))) * (1.0 + x * (1.0 - 1.0 / (1.0 + exp(-x))))";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => x / (T.One + T.Exp(-x));

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = T.One / (T.One + T.Exp(-x));
        return s * (T.One + x * (T.One - s));
    }

    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (SiluVector.TryForward(x, y)) return true;
        TensorPrimitives.Sigmoid(x, y);
        TensorPrimitives.Multiply(x, y, y);
        return true;
    }

    public static bool TryBackwardSpan<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> gx, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (SiluVector.TryBackward(g, x, gx)) return true;
        const int chunk = 1024;
        Span<T> s = stackalloc T[chunk];
        for (int at = 0; at < x.Length; at += chunk)
        {
            int n = Math.Min(chunk, x.Length - at);
            var xs = x.Slice(at, n);
            var ss = s[..n];
            var o = gx.Slice(at, n);
            TensorPrimitives.Sigmoid(xs, ss);
            TensorPrimitives.Subtract(T.One, ss, o);
            TensorPrimitives.FusedMultiplyAdd(o, xs, T.One, o);                      // 1 + x (1 - s)
            TensorPrimitives.Multiply(o, ss, o);
            TensorPrimitives.Multiply(o, g.Slice(at, n), o);
        }
        return true;
    }
}

/// <summary>Hardswish: x * relu6(x + 3) / 6; the derivative is x/3 + 1/2 on [-3, 3], as PyTorch's backward.</summary>
public readonly struct HardswishOp : IUnaryOp
{
    public static string Name => "hardswish";
    public static string CudaForward => "x * fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0";
    public static string CudaDerivative => "x < -3.0 ? 0.0 : x <= 3.0 ? x / 3.0 + 0.5 : 1.0";

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
    public static string CudaForward => "x > a ? x - a : x < -a ? x + a : x * 0.0";
    public static string CudaDerivative => "x >= -a && x <= a ? 0.0 : 1.0";

    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        x > a ? x - a : x < -a ? x + a : x * T.Zero;

    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        x >= -a && x <= a ? T.Zero : T.One;
}
