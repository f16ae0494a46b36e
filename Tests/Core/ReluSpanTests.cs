using System.Numerics;
using Engine.Backends;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// ReLU's vector forms (masks instead of the scalar forms' branches) against its scalar forms, element by element
/// and bit for bit: signed zeros, NaNs, infinities, subnormals, and every length around the vector width.
/// </summary>
public class ReluSpanTests
{
    private static T[] Values<T>(int length, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] special = [T.Zero, T.NegativeZero, T.NaN, -T.NaN, T.PositiveInfinity, T.NegativeInfinity, T.Epsilon, -T.Epsilon, T.One, -T.One];
        var rng = new Random(seed);
        var v = new T[length];
        for (int i = 0; i < length; i++)
            v[i] = rng.Next(3) == 0 ? special[rng.Next(special.Length)] : T.CreateTruncating(rng.NextDouble() * 8 - 4);
        return v;
    }

    private static void SameBits<T>(T expected, T actual, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool same = typeof(T) == typeof(float)
            ? BitConverter.SingleToInt32Bits((float)(object)expected) == BitConverter.SingleToInt32Bits((float)(object)actual)
            : BitConverter.DoubleToInt64Bits((double)(object)expected) == BitConverter.DoubleToInt64Bits((double)(object)actual);
        Assert.True(same, $"{what}: {actual}, the scalar form gives {expected}");
    }

    private static void Check<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int length = 0; length <= 3 * Vector<T>.Count + 3; length++)
        {
            var x = Values<T>(length, length);
            var g = Values<T>(length, length + 1000);
            var y = new T[length];
            var gx = new T[length];
            if (!ReluOp.TryForwardSpan<T>(x, y, T.Zero, T.Zero)) return; // no vector hardware: the scalar loop is all there is
            Assert.True(ReluOp.TryBackwardSpan<T>(g, x, y, gx, T.Zero, T.Zero));
            for (int i = 0; i < length; i++)
            {
                SameBits(ReluOp.Forward(x[i], T.Zero, T.Zero), y[i], $"{typeof(T).Name} relu({x[i]}) at {i} of {length}");
                SameBits(g[i] * ReluOp.Derivative(x[i], y[i], T.Zero, T.Zero), gx[i], $"{typeof(T).Name} relu'({x[i]}) * {g[i]} at {i} of {length}");
            }
        }
    }

    [Fact]
    public void VectorFormsGiveTheScalarFormsBitsInF32() => Check<float>();

    [Fact]
    public void VectorFormsGiveTheScalarFormsBitsInF64() => Check<double>();

    [Fact]
    public void NegativeZeroGivesPositiveZeroAndNaNPassesThrough()
    {
        float[] x = [-0f, float.NaN, -1f, 2f, 0f, -0f, float.NaN, 3f, -0f];
        var y = new float[x.Length];
        Assert.True(ReluOp.TryForwardSpan<float>(x, y, 0, 0) || !Vector.IsHardwareAccelerated);
        if (!Vector.IsHardwareAccelerated) return;
        Assert.Equal(0, BitConverter.SingleToInt32Bits(y[0]));
        Assert.True(float.IsNaN(y[1]));
        Assert.Equal([0f, 2f, 0f], y[2..5]);
        Assert.Equal(0, BitConverter.SingleToInt32Bits(y[5]));
    }
}
