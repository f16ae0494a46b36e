using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine;

// Elementwise operations. Unary ops share one forward and one fused backward (g * op'(x, y)) through
// the op declarations in Backends/ElementwiseOps.cs; binary ops broadcast and reduce their gradients
// back to each input's shape.
public sealed partial class Tensor
{
    private void CheckFloat(string op)
    {
        ThrowIfDisposed(op);
        if (!DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected a floating point tensor, got {DType.TorchName()} with shape {Shp(this)}.");
    }

    // Internal, not private, so that Engine.Ops runs its own op structs (gelu, silu, ...) through the same
    // backend kernels and fused backward.
    internal Tensor Unary<TOp>(double a = 0, double b = 0) where TOp : IUnaryOp
    {
        CheckFloat(TOp.Name);
        long t0 = Stopwatch.GetTimestamp();
        var y = Empty(Layout.Shape, DType, Device);
        Backend.Unary<TOp>(this, y, a, b);
        if (Tape.ShouldRecord(this))
        {
            var sx = Tape.Save(this);
            var sy = Tape.Save(y);
            Tape.Record(TOp.Name, [this], [y], g =>
            {
                var x = sx.Value;
                var gx = Empty(x.Layout.Shape, x.DType, x.Device);
                x.Backend.UnaryBackward<TOp>(g[0], x, sy.Value, gx, a, b);
                return [gx];
            }, [sx, sy], t0);
        }
        return y;
    }

    /// <summary>-x.</summary>
    public Tensor Neg() => Unary<NegOp>();
    /// <summary>e^x.</summary>
    public Tensor Exp() => Unary<ExpOp>();
    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => Unary<LogOp>();
    /// <summary>Square root.</summary>
    public Tensor Sqrt() => Unary<SqrtOp>();
    /// <summary>1 / sqrt(x).</summary>
    public Tensor Rsqrt() => Unary<RsqrtOp>();
    /// <summary>|x|; the gradient at 0 is 0, as in PyTorch.</summary>
    public Tensor Abs() => Unary<AbsOp>();
    /// <summary>Sine.</summary>
    public Tensor Sin() => Unary<SinOp>();
    /// <summary>Cosine.</summary>
    public Tensor Cos() => Unary<CosOp>();
    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => Unary<TanhOp>();
    /// <summary>1 / (1 + e^-x), computed without overflow.</summary>
    public Tensor Sigmoid() => Unary<SigmoidOp>();
    /// <summary>max(x, 0); the gradient at 0 is 0.</summary>
    public Tensor Relu() => Unary<ReluOp>();
    /// <summary>1 / x.</summary>
    public Tensor Reciprocal() => Unary<ReciprocalOp>();

    /// <summary>Clamps to [min, max]; either bound may be omitted. The gradient passes where min &lt;= x &lt;= max.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: at least one of 'min' or 'max' must not be None.");
        return Unary<ClampOp>(min ?? double.NegativeInfinity, max ?? double.PositiveInfinity);
    }

    /// <summary>x ** exponent for a scalar exponent.</summary>
    public Tensor Pow(double exponent) => Unary<PowScalarOp>(exponent);

    /// <summary>x * scale + shift in one pass.</summary>
    public Tensor Affine(double scale, double shift) => Unary<AffineOp>(scale, shift);

    /// <summary>Adds a scalar.</summary>
    public Tensor Add(double value) => Affine(1, value);
    /// <summary>Multiplies by a scalar.</summary>
    public Tensor Mul(double value) => Affine(value, 0);

    private static Tensor Binary<TOp>(Tensor x, Tensor y, Func<Tensor, Tensor, Tensor, Tensor, (Tensor?, Tensor?)> backward, bool saveOutput = false) where TOp : IBinaryOp
    {
        CheckOperands(TOp.Name, x, y);
        long t0 = Stopwatch.GetTimestamp();
        var shape = Layout.BroadcastShapes(TOp.Name, x.Layout.Shape, y.Layout.Shape);
        var z = Empty(shape, x.DType, x.Device);
        x.Backend.Binary<TOp>(x, y, z);
        if (Tape.ShouldRecord(x, y))
        {
            var sx = Tape.Save(x);
            var sy = Tape.Save(y);
            var sz = saveOutput ? Tape.Save(z) : null;
            var xShape = x.Layout.Shape; var yShape = y.Layout.Shape;
            bool needX = x.RequiresGrad, needY = y.RequiresGrad;
            Tape.Record(TOp.Name, [x, y], [z], g =>
            {
                var (gx, gy) = backward(g[0], sx.Value, sy.Value, sz?.Value ?? g[0]);
                return [needX && gx is not null ? ReduceTo(gx, xShape) : null, needY && gy is not null ? ReduceTo(gy, yShape) : null];
            }, sz is null ? [sx, sy] : [sx, sy, sz], t0);
        }
        return z;
    }

    /// <summary>A broadcast gradient summed back to an input's shape.</summary>
    private static Tensor ReduceTo(Tensor g, int[] shape) =>
        g.Layout.Shape.AsSpan().SequenceEqual(shape) ? g : g.SumTo(shape);

    internal static void CheckOperands(string op, Tensor x, Tensor y)
    {
        x.ThrowIfDisposed(op);
        y.ThrowIfDisposed(op);
        if (x.Device != y.Device)
            throw new ArgumentException($"{op}: expected all tensors to be on the same device, but found {x.Device} and {y.Device} (shapes {Shp(x)} and {Shp(y)}).");
        if (x.DType != y.DType)
            throw new ArgumentException($"{op}: expected both operands to have the same dtype, but got {x.DType.TorchName()} and {y.DType.TorchName()} (shapes {Shp(x)} and {Shp(y)}); convert one with ToDType.");
        if (!x.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected floating point tensors, got {x.DType.TorchName()} (shapes {Shp(x)} and {Shp(y)}).");
    }

    /// <summary>x + y with broadcasting.</summary>
    public Tensor Add(Tensor other) => Binary<AddOp>(this, other, (g, x, y, z) => (g, g));

    /// <summary>x - y with broadcasting.</summary>
    public Tensor Sub(Tensor other) => Binary<SubOp>(this, other, (g, x, y, z) => (g, g.Neg()));

    /// <summary>x * y with broadcasting.</summary>
    public Tensor Mul(Tensor other) => Binary<MulOp>(this, other, (g, x, y, z) => ProductGradients(g, x, y));

    /// <summary>(g * y, g * x) in one pass over g where the device has one (the bits of two multiplications).</summary>
    private static (Tensor, Tensor) ProductGradients(Tensor g, Tensor x, Tensor y)
    {
        var gx = Empty(g.Layout.Shape, g.DType, g.Device);
        var gy = Empty(g.Layout.Shape, g.DType, g.Device);
        g.Backend.ProductGradients(g, x, y, gx, gy);
        return (gx, gy);
    }

    /// <summary>x / y with broadcasting.</summary>
    public Tensor Div(Tensor other) => Binary<DivOp>(this, other, (g, x, y, z) =>
    {
        // g / y and -(g * ((x / y) / y)), PyTorch's order: dividing z by y before the multiplication keeps the
        // divisor's gradient finite where g * z alone would overflow. One pass where the device has one.
        var gx = Empty(g.Layout.Shape, g.DType, g.Device);
        var gy = Empty(g.Layout.Shape, g.DType, g.Device);
        g.Backend.QuotientGradients(g, y, z, gx, gy);
        return (gx, gy);
    }, saveOutput: true);

    /// <summary>
    /// x ** y elementwise with broadcasting. As in PyTorch, the base's gradient is 0 where y == 0 (not
    /// 0 * x^-1, NaN at x == 0), and the exponent's gradient x^y log x is 0 where x == 0 and y &gt;= 0 only
    /// (where it is -inf for y &lt; 0).
    /// </summary>
    public Tensor Pow(Tensor exponent) => Binary<PowOp>(this, exponent, (g, x, y, z) =>
    {
        using var zero = ZeroLike(g);
        using var one = OneLike(y);
        using var yIsZero = y.Eq(zero);
        using var yMinusOne = y.Sub(one);
        using var power = x.Pow(yMinusOne);
        using var slope = y.Mul(power);
        using var dx = g.Mul(slope);
        var gx = Where(yIsZero, zero, dx);
        using var xIsZero = x.Eq(zero);
        using var yNonNegative = y.Ge(zero);
        using var logX = x.Log();
        using var zLogX = z.Mul(logX);
        using var whereYNonNegative = Where(yNonNegative, zero, zLogX);
        using var masked = Where(xIsZero, whereYNonNegative, zLogX);
        var gy = g.Mul(masked);
        return (gx, gy);
    }, saveOutput: true);

    /// <summary>Elementwise maximum with broadcasting; ties split the gradient equally, as in PyTorch.</summary>
    public static Tensor Maximum(Tensor x, Tensor y) => Binary<MaximumOp>(x, y, (g, a, b, z) => ExtremumGrad(g, a, b));

    /// <summary>Elementwise minimum with broadcasting; ties split the gradient equally.</summary>
    public static Tensor Minimum(Tensor x, Tensor y) => Binary<MinimumOp>(x, y, (g, a, b, z) => ExtremumGrad(g, b, a));

    private static (Tensor?, Tensor?) ExtremumGrad(Tensor g, Tensor winner, Tensor loser)
    {
        // weight = 1 where 'winner' wins, 0 where it loses, 1/2 on ties.
        using var wins = winner.Gt(loser).ToDType(g.DType);
        using var ties = winner.Eq(loser).ToDType(g.DType);
        using var w = wins.Add(ties.Mul(0.5));
        return (g.Mul(w), g.Sub(g.Mul(w)));
    }

    private Tensor ZeroLike(Tensor t) => Scalar(0, t.DType, t.Device);
    private static Tensor OneLike(Tensor t) => Scalar(1, t.DType, t.Device);

    private static Tensor Compare<TOp>(Tensor x, Tensor y) where TOp : ICompareOp
    {
        x.ThrowIfDisposed(TOp.Name);
        y.ThrowIfDisposed(TOp.Name);
        if (x.Device != y.Device)
            throw new ArgumentException($"{TOp.Name}: expected all tensors to be on the same device, but found {x.Device} and {y.Device} (shapes {Shp(x)} and {Shp(y)}).");
        if (x.DType != y.DType)
            throw new ArgumentException($"{TOp.Name}: expected both operands to have the same dtype, but got {x.DType.TorchName()} and {y.DType.TorchName()} (shapes {Shp(x)} and {Shp(y)}).");
        var shape = Layout.BroadcastShapes(TOp.Name, x.Layout.Shape, y.Layout.Shape);
        var z = Empty(shape, DType.Bool, x.Device);
        x.Backend.Compare<TOp>(x, y, z);
        return z;
    }

    private Tensor ScalarOf(double v) => Scalar(v, DType, Device);

    /// <summary>x == y (Bool).</summary>
    public Tensor Eq(Tensor other) => Compare<EqOp>(this, other);
    /// <summary>x != y (Bool).</summary>
    public Tensor Ne(Tensor other) => Compare<NeOp>(this, other);
    /// <summary>x &gt; y (Bool).</summary>
    public Tensor Gt(Tensor other) => Compare<GtOp>(this, other);
    /// <summary>x &gt;= y (Bool).</summary>
    public Tensor Ge(Tensor other) => Compare<GeOp>(this, other);
    /// <summary>x &lt; y (Bool).</summary>
    public Tensor Lt(Tensor other) => Compare<LtOp>(this, other);
    /// <summary>x &lt;= y (Bool).</summary>
    public Tensor Le(Tensor other) => Compare<LeOp>(this, other);
    /// <summary>x == value (Bool).</summary>
    public Tensor Eq(double value) { using var s = ScalarOf(value); return Eq(s); }
    /// <summary>x &gt; value (Bool).</summary>
    public Tensor Gt(double value) { using var s = ScalarOf(value); return Gt(s); }
    /// <summary>x &lt; value (Bool).</summary>
    public Tensor Lt(double value) { using var s = ScalarOf(value); return Lt(s); }

    /// <summary>Picks x where <paramref name="condition"/> is true and y elsewhere, broadcasting all three.</summary>
    public static Tensor Where(Tensor condition, Tensor x, Tensor y)
    {
        condition.ThrowIfDisposed("where");
        x.ThrowIfDisposed("where");
        y.ThrowIfDisposed("where");
        if (condition.DType != DType.Bool)
            throw new ArgumentException($"where: expected condition to be a bool tensor, but got {condition.DType.TorchName()} (shape {Shp(condition)}).");
        if (x.DType != y.DType || x.Device != y.Device || condition.Device != x.Device)
            throw new ArgumentException($"where: expected x and y to have the same dtype and device as each other and the condition; got x {Shp(x)} " +
                $"{x.DType.TorchName()} on {x.Device} and y {Shp(y)} {y.DType.TorchName()} on {y.Device}, condition {Shp(condition)} on {condition.Device}.");
        var shape = Layout.BroadcastShapes("where", condition.Layout.Shape, x.Layout.Shape, y.Layout.Shape);
        var z = Empty(shape, x.DType, x.Device);
        x.Backend.Where(condition, x, y, z);
        if (Tape.ShouldRecord(x, y))
        {
            var sc = Tape.Save(condition);
            var xShape = x.Layout.Shape; var yShape = y.Layout.Shape;
            bool needX = x.RequiresGrad, needY = y.RequiresGrad;
            Tape.Record("where", [x, y], [z], g =>
            {
                using var zero = Scalar(0, g[0].DType, g[0].Device);
                Tensor? gx = null, gy = null;
                if (needX) { using var t = Where(sc.Value, g[0], zero); gx = t.SumTo(xShape); }
                if (needY) { using var t = Where(sc.Value, zero, g[0]); gy = t.SumTo(yShape); }
                return [gx, gy];
            }, [sc]);
        }
        return z;
    }

    /// <summary>
    /// Replaces elements where <paramref name="mask"/> is true by <paramref name="value"/> (out of place). As
    /// PyTorch's out-of-place <c>masked_fill</c>, the tensor and the mask broadcast together: the result has
    /// their broadcast shape, which may be larger than this tensor's, and the gradient is summed back to it.
    /// </summary>
    public Tensor MaskedFill(Tensor mask, double value)
    {
        ThrowIfDisposed("masked_fill");
        mask.ThrowIfDisposed("masked_fill");
        if (mask.DType != DType.Bool)
            throw new ArgumentException($"masked_fill: expected a bool mask, got {mask.DType.TorchName()} (shape {Shp(mask)}).");
        // Checked here, not left to where, so that the error names masked_fill.
        Layout.BroadcastShapes("masked_fill", Layout.Shape, mask.Layout.Shape);
        using var fill = ScalarOf(value);
        return Where(mask, fill, this);
    }

    /// <summary>Adds <paramref name="other"/> (broadcast) into this tensor in place, like <c>add_</c>; with <paramref name="alpha"/>, adds alpha * other.</summary>
    public Tensor AddInPlace(Tensor other, double alpha = 1)
    {
        CheckInPlace("add_", other);
        CheckOperands("add_", this, other);
        using var scaled = alpha == 1 ? other.Alias() : other.Mul(alpha);
        var shape = Layout.BroadcastShapes("add_", Layout.Shape, other.Layout.Shape);
        if (!shape.AsSpan().SequenceEqual(Layout.Shape))
            throw new ArgumentException($"add_: output with shape {Shp(this)} doesn't match the broadcast shape {Layout.Format(shape)}.");
        Backend.Binary<AddOp>(this, scaled, this);
        Storage.BumpVersion();
        return this;
    }

    /// <summary>Multiplies this tensor by a scalar in place, like <c>mul_</c>.</summary>
    public Tensor MulInPlace(double value)
    {
        CheckInPlace("mul_");
        CheckFloat("mul_");
        Backend.Unary<AffineOp>(this, this, value, 0);
        Storage.BumpVersion();
        return this;
    }

#pragma warning disable CS1591 // operators mirror the named methods above
    public static Tensor operator +(Tensor x, Tensor y) => x.Add(y);
    public static Tensor operator -(Tensor x, Tensor y) => x.Sub(y);
    public static Tensor operator *(Tensor x, Tensor y) => x.Mul(y);
    public static Tensor operator /(Tensor x, Tensor y) => x.Div(y);
    public static Tensor operator -(Tensor x) => x.Neg();
    public static Tensor operator +(Tensor x, double y) => x.Add(y);
    public static Tensor operator +(double x, Tensor y) => y.Add(x);
    public static Tensor operator -(Tensor x, double y) => x.Add(-y);
    public static Tensor operator -(double x, Tensor y) => y.Affine(-1, x);
    public static Tensor operator *(Tensor x, double y) => x.Mul(y);
    public static Tensor operator *(double x, Tensor y) => y.Mul(x);
    public static Tensor operator /(Tensor x, double y) => x.Div(y);
    public static Tensor operator /(double x, Tensor y) { using var s = y.ScalarOf(x); return s.Div(y); }
#pragma warning restore CS1591

    /// <summary>Divides by a scalar: a true division, not a multiplication by its (rounded) reciprocal.</summary>
    public Tensor Div(double value)
    {
        using var s = ScalarOf(value);
        return Div(s);
    }
}
