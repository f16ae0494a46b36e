using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Ops;

/// <summary>Inputs and comparisons shared by the operator tests.</summary>
public static class ConvPoolTestData
{
    /// <summary>
    /// Standard normal values of <paramref name="shape"/>; when <paramref name="permuted"/>, laid out in
    /// reversed dimension order and permuted back (a channels-last-like, non-contiguous view).
    /// </summary>
    public static Tensor Randn(int[] shape, DType dtype, ulong seed, bool permuted = false)
    {
        var gen = new Generator(seed);
        if (!permuted || shape.Length < 2) return Tensor.Randn(shape, dtype, generator: gen);
        using var b = Tensor.Randn(shape.Reverse().ToArray(), dtype, generator: gen);
        return b.Permute(Enumerable.Range(0, shape.Length).Reverse().ToArray());
    }

    /// <summary>|actual − expected| ≤ tolerance · (scale + 1e-3) for each element, where scale is the sum of |terms| behind it.</summary>
    public static void AssertClose(double[] expected, double[] actual, double[] scale, double tolerance, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} elements, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= tolerance * (Math.Abs(scale[i]) + 1e-3)))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (|diff| {err:E2}, scale {scale[i]:E2})");
        }
    }

    /// <summary>Relative tolerance of a sum with rounding at every step: about 1e-5 for float, 1e-13 for double.</summary>
    public static double Tolerance(DType dtype) => dtype == DType.F32 ? 1e-5 : 1e-13;

    public static double[] Abs(double[] v) => v.Select(Math.Abs).ToArray();

    public static void Bitwise(double[] a, double[] b, string what)
    {
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
            if (BitConverter.DoubleToInt64Bits(a[i]) != BitConverter.DoubleToInt64Bits(b[i]))
                Assert.Fail($"{what}: element {i} differs: {a[i]:R} vs {b[i]:R}");
    }
}
