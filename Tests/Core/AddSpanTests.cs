using System.Numerics;
using Engine.Backends;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// add's own vector loop (ordinary stores, so its output stays in cache for the next op, where TensorPrimitives
/// streams large outputs past the cache) against x + y element by element, bit for bit, at every length around
/// the vector width and for the special values.
/// </summary>
public class AddSpanTests
{
    private static void Check<T>(Func<T, long> bits) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        T[] special = [T.Zero, T.NegativeZero, T.NaN, T.PositiveInfinity, T.NegativeInfinity, T.Epsilon, -T.Epsilon, T.MaxValue, -T.MaxValue];
        var rng = new Random(typeof(T) == typeof(float) ? 5 : 7);
        foreach (int length in Enumerable.Range(0, 3 * Vector<T>.Count + 4).Append(70_001))
        {
            var x = new T[length];
            var y = new T[length];
            for (int i = 0; i < length; i++)
            {
                x[i] = rng.Next(4) == 0 ? special[rng.Next(special.Length)] : T.CreateTruncating(rng.NextDouble() * 200 - 100);
                y[i] = rng.Next(4) == 0 ? special[rng.Next(special.Length)] : T.CreateTruncating(rng.NextDouble() * 200 - 100);
            }
            var z = new T[length];
            Assert.True(AddOp.TryForwardSpan<T>(x, y, z));
            for (int i = 0; i < length; i++)
                Assert.True(bits(x[i] + y[i]) == bits(z[i]), $"{typeof(T).Name} length {length} at {i}: {x[i]} + {y[i]} gave {z[i]}");
        }
    }

    [Fact]
    public void GivesTheBitsOfScalarAdditionInF32() => Check<float>(v => BitConverter.SingleToInt32Bits(v));

    [Fact]
    public void GivesTheBitsOfScalarAdditionInF64() => Check<double>(BitConverter.DoubleToInt64Bits);
}
