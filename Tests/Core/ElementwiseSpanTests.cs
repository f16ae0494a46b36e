using System.Numerics;
using Engine.Backends;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// The elementwise ops' own vector loops (<see cref="VectorLoops"/>: ordinary stores, where TensorPrimitives streams
/// large outputs past the cache) against the scalar operation element by element, bit for bit: every length around
/// the vector widths, a long one, special values (signed zeros, NaN, infinities, subnormals, extremes) in both
/// operands, the scalar-operand forms, and in place. <see cref="AddSpanTests"/> covers add's span form the same way.
/// </summary>
public class ElementwiseSpanTests
{
    private static IEnumerable<int> Lengths<T>() where T : unmanaged =>
        Enumerable.Range(0, 3 * System.Runtime.Intrinsics.Vector256<T>.Count + 3).Append(70_001);

    private static T[] Data<T>(Random rng, int length) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        T[] special = [T.Zero, T.NegativeZero, T.NaN, -T.NaN, T.PositiveInfinity, T.NegativeInfinity, T.Epsilon, -T.Epsilon, T.MaxValue, -T.MaxValue, T.One, -T.One];
        var x = new T[length];
        for (int i = 0; i < length; i++)
            x[i] = rng.Next(3) == 0 ? special[rng.Next(special.Length)] : T.CreateTruncating(rng.NextDouble() * 200 - 100);
        return x;
    }

    private static void Same<T>(Func<T, long> bits, T expected, T actual, string what) =>
        Assert.True(bits(expected) == bits(actual), $"{typeof(T).Name} {what}: expected {expected} (bits {bits(expected):x}), got {actual} (bits {bits(actual):x})");

    private static void CheckBinary<TOp, T>(Func<T, T, T> scalar, Func<T, long> bits)
        where TOp : IBinaryVectorOp where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var rng = new Random(11);
        foreach (int length in Lengths<T>())
        {
            T[] x = Data<T>(rng, length), y = Data<T>(rng, length), z = new T[length];
            T s = Data<T>(rng, 1)[0];
            VectorLoops.Binary<TOp, T>(x, y, z);
            for (int i = 0; i < length; i++) Same(bits, scalar(x[i], y[i]), z[i], $"length {length} at {i}: op({x[i]}, {y[i]})");
            VectorLoops.BinaryScalar<TOp, T>(x, s, z);
            for (int i = 0; i < length; i++) Same(bits, scalar(x[i], s), z[i], $"length {length} at {i}: op({x[i]}, scalar {s})");
            VectorLoops.ScalarBinary<TOp, T>(s, y, z);
            for (int i = 0; i < length; i++) Same(bits, scalar(s, y[i]), z[i], $"length {length} at {i}: op(scalar {s}, {y[i]})");
            var inPlace = (T[])x.Clone();
            VectorLoops.Binary<TOp, T>(inPlace, y, inPlace);
            for (int i = 0; i < length; i++) Same(bits, scalar(x[i], y[i]), inPlace[i], $"in place, length {length} at {i}");
        }
    }

    private static void CheckUnary<TOp, T>(Func<T, T> scalar, Func<T, long> bits)
        where TOp : IUnaryVectorOp where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var rng = new Random(13);
        foreach (int length in Lengths<T>())
        {
            T[] x = Data<T>(rng, length), y = new T[length];
            VectorLoops.Unary<TOp, T>(x, y);
            for (int i = 0; i < length; i++) Same(bits, scalar(x[i]), y[i], $"length {length} at {i}: op({x[i]})");
            VectorLoops.Unary<TOp, T>(x, x);
            for (int i = 0; i < length; i++) Same(bits, y[i], x[i], $"in place, length {length} at {i}");
        }
    }

    private static long B32(float v) => BitConverter.SingleToInt32Bits(v);

    [Fact]
    public void BinaryOpsGiveTheScalarBitsInF32()
    {
        CheckBinary<AddLanes, float>((x, y) => x + y, B32);
        CheckBinary<SubLanes, float>((x, y) => x - y, B32);
        CheckBinary<MulLanes, float>((x, y) => x * y, B32);
        CheckBinary<DivLanes, float>((x, y) => x / y, B32);
    }

    [Fact]
    public void BinaryOpsGiveTheScalarBitsInF64()
    {
        CheckBinary<AddLanes, double>((x, y) => x + y, BitConverter.DoubleToInt64Bits);
        CheckBinary<SubLanes, double>((x, y) => x - y, BitConverter.DoubleToInt64Bits);
        CheckBinary<MulLanes, double>((x, y) => x * y, BitConverter.DoubleToInt64Bits);
        CheckBinary<DivLanes, double>((x, y) => x / y, BitConverter.DoubleToInt64Bits);
    }

    [Fact]
    public void UnaryOpsGiveTheScalarBitsInF32()
    {
        CheckUnary<NegLanes, float>(x => -x, B32);
        CheckUnary<AbsLanes, float>(float.Abs, B32);
        CheckUnary<SqrtLanes, float>(float.Sqrt, B32);
        CheckUnary<ReciprocalLanes, float>(x => 1f / x, B32);
    }

    [Fact]
    public void UnaryOpsGiveTheScalarBitsInF64()
    {
        CheckUnary<NegLanes, double>(x => -x, BitConverter.DoubleToInt64Bits);
        CheckUnary<AbsLanes, double>(double.Abs, BitConverter.DoubleToInt64Bits);
        CheckUnary<SqrtLanes, double>(double.Sqrt, BitConverter.DoubleToInt64Bits);
        CheckUnary<ReciprocalLanes, double>(x => 1.0 / x, BitConverter.DoubleToInt64Bits);
    }

    private static void CheckProductGradients<T>(Func<T, long> bits) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var rng = new Random(19);
        foreach (int length in Lengths<T>())
        {
            T[] g = Data<T>(rng, length), x = Data<T>(rng, length), y = Data<T>(rng, length), gx = new T[length], gy = new T[length];
            VectorLoops.ProductGradients<T>(g, x, y, gx, gy);
            // The reference is the two products the fused loop replaced, g times the other operand, loop by loop.
            T[] ex = new T[length], ey = new T[length];
            VectorLoops.Binary<MulLanes, T>(g, y, ex);
            VectorLoops.Binary<MulLanes, T>(g, x, ey);
            for (int i = 0; i < length; i++)
            {
                Same(bits, ex[i], gx[i], $"length {length} at {i}: gx = {g[i]} * {y[i]}");
                Same(bits, ey[i], gy[i], $"length {length} at {i}: gy = {g[i]} * {x[i]}");
            }
            // In place: gx over g and gy over x, as a caller reusing its buffers would.
            T[] g2 = (T[])g.Clone(), x2 = (T[])x.Clone();
            VectorLoops.ProductGradients<T>(g2, x2, y, g2, x2);
            for (int i = 0; i < length; i++)
            {
                Same(bits, gx[i], g2[i], $"in place, length {length} at {i}: gx");
                Same(bits, gy[i], x2[i], $"in place, length {length} at {i}: gy");
            }
        }
    }

    /// <summary>Mul's backward in one pass: both products with the bits of the separate multiplications (NaN signs included).</summary>
    [Fact]
    public void ProductGradientsGiveTheScalarBits()
    {
        CheckProductGradients<float>(B32);
        CheckProductGradients<double>(BitConverter.DoubleToInt64Bits);
        var e = Assert.Throws<ArgumentException>(() => VectorLoops.ProductGradients<float>(new float[3], new float[3], new float[4], new float[3], new float[3]));
        Assert.Contains("elementwise", e.Message);
    }

    private static void CheckQuotientGradients<T>(Func<T, long> bits) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var rng = new Random(23);
        foreach (int length in Lengths<T>())
        {
            T[] g = Data<T>(rng, length), y = Data<T>(rng, length), z = Data<T>(rng, length), gx = new T[length], gy = new T[length];
            VectorLoops.QuotientGradients<T>(g, y, z, gx, gy);
            // The reference is the composition the fused loop replaced, one loop per operation (a NaN's sign follows
            // which operand the hardware sees first, so an inline scalar expression is no reference for NaNs).
            T[] ex = new T[length], ey = new T[length];
            VectorLoops.Binary<DivLanes, T>(g, y, ex);
            VectorLoops.Binary<DivLanes, T>(z, y, ey);
            VectorLoops.Binary<MulLanes, T>(g, ey, ey);
            VectorLoops.Unary<NegLanes, T>(ey, ey);
            for (int i = 0; i < length; i++)
            {
                Same(bits, ex[i], gx[i], $"length {length} at {i}: gx = {g[i]} / {y[i]}");
                Same(bits, ey[i], gy[i], $"length {length} at {i}: gy = -({g[i]} * ({z[i]} / {y[i]}))");
            }
            T[] g2 = (T[])g.Clone(), z2 = (T[])z.Clone();
            VectorLoops.QuotientGradients<T>(g2, y, z2, g2, z2);
            for (int i = 0; i < length; i++)
            {
                Same(bits, gx[i], g2[i], $"in place, length {length} at {i}: gx");
                Same(bits, gy[i], z2[i], $"in place, length {length} at {i}: gy");
            }
        }
    }

    /// <summary>Div's backward in one pass: g / y and -(g * (z / y)) with the bits of those operations done one by one.</summary>
    [Fact]
    public void QuotientGradientsGiveTheScalarBits()
    {
        CheckQuotientGradients<float>(B32);
        CheckQuotientGradients<double>(BitConverter.DoubleToInt64Bits);
        var e = Assert.Throws<ArgumentException>(() => VectorLoops.QuotientGradients<float>(new float[3], new float[3], new float[2], new float[3], new float[3]));
        Assert.Contains("elementwise", e.Message);
    }

    /// <summary>The ops' span forms route through the loops: sub, mul and div (both scalar sides) and affine's three branches.</summary>
    [Fact]
    public void OpSpanFormsMatchTheirScalarForms()
    {
        var rng = new Random(17);
        foreach (int length in new[] { 0, 1, 15, 16, 17, 33, 1001 })
        {
            float[] x = Data<float>(rng, length), y = Data<float>(rng, length), z = new float[length];
            Assert.True(SubOp.TryForwardSpan<float>(x, y, z));
            for (int i = 0; i < length; i++) Same(B32, SubOp.Forward(x[i], y[i]), z[i], $"sub at {i}");
            Assert.True(DivOp.TryForwardScalarSpan<float>(3f, y, z));
            for (int i = 0; i < length; i++) Same(B32, DivOp.Forward(3f, y[i]), z[i], $"3 / y at {i}");
            Assert.True(MulOp.TryForwardSpanScalar<float>(x, -0f, z));
            for (int i = 0; i < length; i++) Same(B32, MulOp.Forward(x[i], -0f), z[i], $"x * -0 at {i}");
            foreach (var (a, b) in new[] { (1f, -0f), (-2f, 0f), (0.5f, 3f) })
            {
                Assert.True(AffineOp.TryForwardSpan<float>(x, z, a, b));
                for (int i = 0; i < length; i++) Same(B32, AffineOp.Forward(x[i], a, b), z[i], $"affine({a}, {b}) at {i}");
            }
        }
    }

    [Fact]
    public void MismatchedLengthsAreRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => VectorLoops.Binary<AddLanes, float>(new float[3], new float[4], new float[3]));
        Assert.Contains("elementwise", e.Message);
    }
}
