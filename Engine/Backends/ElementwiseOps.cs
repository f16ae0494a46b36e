using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Backends;

/// <summary>
/// A unary elementwise operation, declared once: its name (CUDA kernels are named after it), the scalar
/// function, its derivative, and optionally a SIMD span form for contiguous data. <c>a</c> and <c>b</c> are
/// scalar parameters (the exponent of pow, the bounds of clamp); ops without parameters ignore them.
/// </summary>
public interface IUnaryOp
{
    /// <summary>Name of the op, as the tape prints it.</summary>
    static abstract string Name { get; }

    /// <summary>y = f(x).</summary>
    static abstract T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>dy/dx, given the input <paramref name="x"/> and the output <paramref name="y"/>.</summary>
    static abstract T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Vectorised forward over contiguous spans; returns false when the op has none.</summary>
    static virtual bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => false;

    /// <summary>
    /// The forward as a CUDA C expression in the doubles <c>x</c>, <c>a</c> and <c>b</c> (the kernel widens
    /// the element and the parameters, already rounded to the tensor's dtype as the CPU rounds them, and
    /// narrows the result); null when the op has no CUDA kernel.
    /// </summary>
    static virtual string? CudaForward => null;

    /// <summary>The derivative f'(x, y) as a CUDA C expression in the doubles <c>x</c>, <c>y</c>, <c>a</c> and <c>b</c>; the backward kernel multiplies it by the incoming gradient.</summary>
    static virtual string? CudaDerivative => null;

    /// <summary>
    /// The fused backward of one element where it must not be formed as g * f'(x, y): an op whose derivative
    /// is a quotient c / d divides g by d instead (log: g / x), as PyTorch does, since c / d alone can overflow
    /// where the gradient is finite (a subnormal x) and it rounds twice. Returns false to use
    /// g * <see cref="Derivative"/>; an op that overrides it also gives <see cref="CudaBackward"/>.
    /// </summary>
    static virtual bool TryBackward<T>(T g, T x, T y, T a, T b, out T gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        gx = default;
        return false;
    }

    /// <summary>
    /// The fused backward as a CUDA C expression in the doubles <c>g</c>, <c>x</c>, <c>y</c>, <c>a</c> and
    /// <c>b</c>, for an op that overrides <see cref="TryBackward"/>; null for g times <see cref="CudaDerivative"/>.
    /// </summary>
    static virtual string? CudaBackward => null;

    /// <summary>Vectorised fused backward gx = g * f'(x, y) over contiguous spans; returns false when the op has none.</summary>
    static virtual bool TryBackwardSpan<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> gx, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => false;
}

/// <summary>A binary elementwise operation with NumPy broadcasting. Gradients are composed from other ops.</summary>
public interface IBinaryOp
{
    /// <summary>Name of the op.</summary>
    static abstract string Name { get; }

    /// <summary>z = f(x, y).</summary>
    static abstract T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Vectorised forward over contiguous spans of equal length.</summary>
    static virtual bool TryForwardSpan<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> => false;

    /// <summary>Vectorised forward with a scalar right operand.</summary>
    static virtual bool TryForwardSpanScalar<T>(ReadOnlySpan<T> x, T y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> => false;

    /// <summary>Vectorised forward with a scalar left operand.</summary>
    static virtual bool TryForwardScalarSpan<T>(T x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> => false;

    /// <summary>The forward as a CUDA C expression in the doubles <c>x</c> and <c>y</c>; null when the op has no CUDA kernel.</summary>
    static virtual string? Cuda => null;
}

/// <summary>A comparison producing a Bool tensor.</summary>
public interface ICompareOp
{
    /// <summary>Name of the op.</summary>
    static abstract string Name { get; }

    /// <summary>The predicate.</summary>
    static abstract bool Test<T>(T x, T y) where T : unmanaged, INumber<T>;

    /// <summary>The predicate as a CUDA C expression in <c>x</c> and <c>y</c> of the operands' own type (so int64 compares exactly).</summary>
    static abstract string Cuda { get; }
}

#pragma warning disable CS1591 // the ops below are documented by their names and formulas

public readonly struct NegOp : IUnaryOp
{
    public static string Name => "neg";
    public static string CudaForward => "-x";
    public static string CudaDerivative => "-1.0";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => -x;
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => -T.One;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Unary<NegLanes, T>(x, y); return true; }
}

public readonly struct ExpOp : IUnaryOp
{
    public static string Name => "exp";
    public static string CudaForward => "exp(x)";
    public static string CudaDerivative => "y";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Exp(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => y;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { TensorPrimitives.Exp(x, y); return true; }
}

public readonly struct LogOp : IUnaryOp
{
    public static string Name => "log";
    public static string CudaForward => "log(x)";
    public static string CudaDerivative => "1.0 / x";
    public static string CudaBackward => "g / x";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Log(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.One / x;
    public static bool TryBackward<T>(T g, T x, T y, T a, T b, out T gx) where T : unmanaged, IFloatingPointIeee754<T> { gx = g / x; return true; }
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { TensorPrimitives.Log(x, y); return true; }
}

public readonly struct SqrtOp : IUnaryOp
{
    public static string Name => "sqrt";
    public static string CudaForward => "sqrt(x)";
    public static string CudaDerivative => "0.5 / y";
    public static string CudaBackward => "g / (2.0 * y)";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Sqrt(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(0.5) / y;
    public static bool TryBackward<T>(T g, T x, T y, T a, T b, out T gx) where T : unmanaged, IFloatingPointIeee754<T> { gx = g / (y + y); return true; }
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Unary<SqrtLanes, T>(x, y); return true; }
}

/// <summary>
/// The square root that ends <see cref="Tensor.Std(int[], int, bool)"/>: sqrt, whose backward is 0 where the
/// standard deviation is 0, as PyTorch's std backward masks it (a constant slice would otherwise get
/// 0 * (1 / 0) = NaN from the variance's backward). Plain <see cref="SqrtOp"/> keeps its infinite derivative at 0.
/// </summary>
public readonly struct StdSqrtOp : IUnaryOp
{
    public static string Name => "std";
    public static string CudaForward => "sqrt(x)";
    public static string CudaDerivative => "y == 0.0 ? 0.0 : 0.5 / y";
    public static string CudaBackward => "y == 0.0 ? 0.0 : g / (2.0 * y)";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Sqrt(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => y == T.Zero ? T.Zero : T.CreateTruncating(0.5) / y;
    public static bool TryBackward<T>(T g, T x, T y, T a, T b, out T gx) where T : unmanaged, IFloatingPointIeee754<T> { gx = y == T.Zero ? T.Zero : g / (y + y); return true; }
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Unary<SqrtLanes, T>(x, y); return true; }
}

public readonly struct RsqrtOp : IUnaryOp
{
    public static string Name => "rsqrt";
    public static string CudaForward => "1.0 / sqrt(x)";
    public static string CudaDerivative => "-0.5 * y * y * y";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.One / T.Sqrt(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(-0.5) * y * y * y;
}

public readonly struct AbsOp : IUnaryOp
{
    public static string Name => "abs";
    public static string CudaForward => "fabs(x)";
    public static string CudaDerivative => "x > 0.0 ? 1.0 : x < 0.0 ? -1.0 : 0.0";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Abs(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Unary<AbsLanes, T>(x, y); return true; }
}

public readonly struct SinOp : IUnaryOp
{
    public static string Name => "sin";
    public static string CudaForward => "sin(x)";
    public static string CudaDerivative => "cos(x)";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Sin(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Cos(x);
}

public readonly struct CosOp : IUnaryOp
{
    public static string Name => "cos";
    public static string CudaForward => "cos(x)";
    public static string CudaDerivative => "-sin(x)";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Cos(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => -T.Sin(x);
}

public readonly struct TanhOp : IUnaryOp
{
    public static string Name => "tanh";
    public static string CudaForward => "tanh(x)";
    public static string CudaDerivative => "1.0 - y * y";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Tanh(x);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.One - y * y;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { TensorPrimitives.Tanh(x, y); return true; }
}

public readonly struct SigmoidOp : IUnaryOp
{
    public static string Name => "sigmoid";
    public static string CudaForward => "x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x))";
    public static string CudaDerivative => "y * (1.0 - y)";
    // Written so that neither branch overflows: exp of a non-positive number only.
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x >= T.Zero) return T.One / (T.One + T.Exp(-x));
        var e = T.Exp(x);
        return e / (T.One + e);
    }
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => y * (T.One - y);
}

public readonly struct ReluOp : IUnaryOp
{
    public static string Name => "relu";
    public static string CudaForward => "x > 0.0 ? x : (x != x ? x : 0.0)";
    public static string CudaDerivative => "x > 0.0 ? 1.0 : 0.0";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => x > T.Zero ? x : (T.IsNaN(x) ? x : T.Zero);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => x > T.Zero ? T.One : T.Zero;

    // The scalar forms branch on the sign, which mispredicts on every other element of random data (about 6 ns an
    // element); the lanes select with masks instead: x where x > 0 or x is NaN, else +0 (so -0 gives +0, as above).
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated || !Vector<T>.IsSupported) return false;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        int i = 0;
        for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            var v = Vector.LoadUnsafe(ref xr, (nuint)i);
            (v & (Vector.GreaterThan(v, Vector<T>.Zero) | ~Vector.Equals(v, v))).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] = Forward(x[i], a, b);
        return true;
    }

    // g times a derivative of 1 or 0, as the scalar form multiplies it (an infinite or NaN g over x <= 0 gives NaN).
    public static bool TryBackwardSpan<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> gx, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated || !Vector<T>.IsSupported) return false;
        ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(g);
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref T gxr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(gx);
        int i = 0;
        for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
        {
            var slope = Vector.ConditionalSelect(Vector.GreaterThan(Vector.LoadUnsafe(ref xr, (nuint)i), Vector<T>.Zero), Vector<T>.One, Vector<T>.Zero);
            (Vector.LoadUnsafe(ref gr, (nuint)i) * slope).StoreUnsafe(ref gxr, (nuint)i);
        }
        for (; i < x.Length; i++) gx[i] = g[i] * Derivative(x[i], y[i], a, b);
        return true;
    }
}

/// <summary>clamp(x, a, b); a missing bound is passed as an infinity. The gradient passes where a &lt;= x &lt;= b, as in PyTorch.</summary>
public readonly struct ClampOp : IUnaryOp
{
    public static string Name => "clamp";
    public static string CudaForward => "x != x ? x : fmin(fmax(x, a), b)";
    public static string CudaDerivative => "x >= a && x <= b ? 1.0 : 0.0";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.IsNaN(x) ? x : T.Min(T.Max(x, a), b);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => x >= a && x <= b ? T.One : T.Zero;
}

/// <summary>x ** a for a scalar exponent a.</summary>
public readonly struct PowScalarOp : IUnaryOp
{
    public static string Name => "pow";
    public static string CudaForward => "a == 2.0 ? x * x : pow(x, a)";
    public static string CudaDerivative => "a == 0.0 ? 0.0 : a * pow(x, a - 1.0)";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => a == T.CreateTruncating(2) ? x * x : T.Pow(x, a);
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => a == T.Zero ? T.Zero : a * T.Pow(x, a - T.One);
}

/// <summary>a ** x for a scalar base a.</summary>
public readonly struct ScalarPowOp : IUnaryOp
{
    public static string Name => "pow";
    public static string CudaForward => "pow(a, x)";
    public static string CudaDerivative => "a == 0.0 && x >= 0.0 ? 0.0 : y * log(a)";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.Pow(a, x);
    // At base 0 the derivative is 0 where x >= 0 (not 0 * log 0 = NaN, nor 1 * log 0 = -inf at x = 0), as in
    // PyTorch; for x < 0 it stays inf * -inf = -inf.
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => a == T.Zero && x >= T.Zero ? T.Zero : y * T.Log(a);
}

/// <summary>
/// x * a + b: scalar affine map, used for adding and multiplying by scalars. a == 1 is exactly x + b and
/// b == 0 exactly x * a (so the sign of a zero result is IEEE's); the scalar and span forms branch alike.
/// </summary>
public readonly struct AffineOp : IUnaryOp
{
    public static string Name => "affine";
    public static string CudaForward => "a == 1.0 ? x + b : b == 0.0 ? x * a : x * a + b";
    public static string CudaDerivative => "a";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        a == T.One ? x + b : b == T.Zero ? x * a : x * a + b;
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => a;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a == T.One) VectorLoops.BinaryScalar<AddLanes, T>(x, b, y);
        else if (b == T.Zero) VectorLoops.BinaryScalar<MulLanes, T>(x, a, y);
        else { VectorLoops.BinaryScalar<MulLanes, T>(x, a, y); VectorLoops.BinaryScalar<AddLanes, T>(y, b, y); }
        return true;
    }
}

public readonly struct ReciprocalOp : IUnaryOp
{
    public static string Name => "reciprocal";
    public static string CudaForward => "1.0 / x";
    public static string CudaDerivative => "-y * y";
    public static T Forward<T>(T x, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => T.One / x;
    public static T Derivative<T>(T x, T y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => -y * y;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, Span<T> y, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Unary<ReciprocalLanes, T>(x, y); return true; }
}

public readonly struct AddOp : IBinaryOp
{
    public static string Name => "add";
    public static string Cuda => "x + y";
    public static T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x + y;
    // Ordinary stores (VectorLoops), not TensorPrimitives.Add: above 256 KiB that streams the output past the cache
    // (non-temporal stores), so the next op reads it back from memory. The bench's add (1 M floats) took 0.25-0.31 ms
    // (median) through it and 0.14-0.17 ms through an own loop, alternating processes on a quiet machine (issue 20).
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Binary<AddLanes, T>(x, y, z); return true; }
    public static bool TryForwardSpanScalar<T>(ReadOnlySpan<T> x, T y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.BinaryScalar<AddLanes, T>(x, y, z); return true; }
    public static bool TryForwardScalarSpan<T>(T x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.ScalarBinary<AddLanes, T>(x, y, z); return true; }
}

public readonly struct SubOp : IBinaryOp
{
    public static string Name => "sub";
    public static string Cuda => "x - y";
    public static T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x - y;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Binary<SubLanes, T>(x, y, z); return true; }
    public static bool TryForwardSpanScalar<T>(ReadOnlySpan<T> x, T y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.BinaryScalar<SubLanes, T>(x, y, z); return true; }
    public static bool TryForwardScalarSpan<T>(T x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.ScalarBinary<SubLanes, T>(x, y, z); return true; }
}

public readonly struct MulOp : IBinaryOp
{
    public static string Name => "mul";
    public static string Cuda => "x * y";
    public static T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x * y;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Binary<MulLanes, T>(x, y, z); return true; }
    public static bool TryForwardSpanScalar<T>(ReadOnlySpan<T> x, T y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.BinaryScalar<MulLanes, T>(x, y, z); return true; }
    public static bool TryForwardScalarSpan<T>(T x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.ScalarBinary<MulLanes, T>(x, y, z); return true; }
}

public readonly struct DivOp : IBinaryOp
{
    public static string Name => "div";
    public static string Cuda => "x / y";
    public static T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x / y;
    public static bool TryForwardSpan<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.Binary<DivLanes, T>(x, y, z); return true; }
    public static bool TryForwardSpanScalar<T>(ReadOnlySpan<T> x, T y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.BinaryScalar<DivLanes, T>(x, y, z); return true; }
    public static bool TryForwardScalarSpan<T>(T x, ReadOnlySpan<T> y, Span<T> z) where T : unmanaged, IFloatingPointIeee754<T> { VectorLoops.ScalarBinary<DivLanes, T>(x, y, z); return true; }
}

public readonly struct PowOp : IBinaryOp
{
    public static string Name => "pow";
    public static string Cuda => "pow(x, y)";
    public static T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => T.Pow(x, y);
}

/// <summary>Elementwise maximum; NaN propagates, as in PyTorch.</summary>
public readonly struct MaximumOp : IBinaryOp
{
    public static string Name => "maximum";
    public static string Cuda => "x != x || y != y ? x + y : fmax(x, y)";
    public static T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => T.IsNaN(x) || T.IsNaN(y) ? T.NaN : T.Max(x, y);
}

/// <summary>Elementwise minimum; NaN propagates, as in PyTorch.</summary>
public readonly struct MinimumOp : IBinaryOp
{
    public static string Name => "minimum";
    public static string Cuda => "x != x || y != y ? x + y : fmin(x, y)";
    public static T Forward<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => T.IsNaN(x) || T.IsNaN(y) ? T.NaN : T.Min(x, y);
}

public readonly struct EqOp : ICompareOp { public static string Name => "eq"; public static string Cuda => "x == y"; public static bool Test<T>(T x, T y) where T : unmanaged, INumber<T> => x == y; }
public readonly struct NeOp : ICompareOp { public static string Name => "ne"; public static string Cuda => "x != y"; public static bool Test<T>(T x, T y) where T : unmanaged, INumber<T> => x != y; }
public readonly struct GtOp : ICompareOp { public static string Name => "gt"; public static string Cuda => "x > y"; public static bool Test<T>(T x, T y) where T : unmanaged, INumber<T> => x > y; }
public readonly struct GeOp : ICompareOp { public static string Name => "ge"; public static string Cuda => "x >= y"; public static bool Test<T>(T x, T y) where T : unmanaged, INumber<T> => x >= y; }
public readonly struct LtOp : ICompareOp { public static string Name => "lt"; public static string Cuda => "x < y"; public static bool Test<T>(T x, T y) where T : unmanaged, INumber<T> => x < y; }
public readonly struct LeOp : ICompareOp { public static string Name => "le"; public static string Cuda => "x <= y"; public static bool Test<T>(T x, T y) where T : unmanaged, INumber<T> => x <= y; }
