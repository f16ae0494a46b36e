using Engine.Ops;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The F32 exact GELU's own Φ (<c>GeluF32</c>) against the double path: the error it states, over every binade and
/// its special values. Both vector widths give the same bits (<see cref="VectorWidthTests"/>), so this covers both.
/// </summary>
public class GeluF32Tests
{
    private const float MinNormal = 1.17549435e-38f;

    /// <summary>Forward and derivative of the F32 op, and of the scalar double op (the reference), at each x.</summary>
    private static (float[] Y, float[] D, double[] ExactY, double[] ExactD) Evaluate(float[] x)
    {
        using var scope = Tensor.Scope();
        var leaf = Tensor.FromArray(x).RequiresGradInPlace();
        var y = F.Gelu(leaf);
        y.Backward(Tensor.FromArray(Enumerable.Repeat(1f, x.Length).ToArray()));
        var exactY = x.Select(v => GeluOp.Forward((double)v, 0.0, 0.0)).ToArray();
        var exactD = x.Select(v => GeluOp.Derivative((double)v, 0.0, 0.0, 0.0)).ToArray();
        return (y.ToArray<float>(), leaf.Grad!.ToArray<float>(), exactY, exactD);
    }

    /// <summary>
    /// Every 1021st float of magnitude up to 14, both signs (each binade from the subnormals up, the far tail where
    /// the value leaves float's normal range at x = -13.2, and the derivative's switch of method at |x| = 1), and the
    /// floats around 1 and 13.5: the forward within 4.3 ulps, the derivative within 1.3 ulps of max(|value|, 1) (this
    /// sweep finds 3.86 and 1.24; values below 1e-37 are left to <see cref="ForwardSweepStaysWithinTheStatedError"/>).
    /// </summary>
    [Fact]
    public void EveryBinadeStaysWithinTheStatedError()
    {
        var x = new List<float>();
        for (uint bits = 0; bits <= 0x41600000u; bits += 1021)
        {
            float v = BitConverter.UInt32BitsToSingle(bits);
            x.Add(v);
            x.Add(-v);
        }
        foreach (float edge in new[] { 1f, 13.5f })
            for (int k = -64; k <= 64; k++)
            {
                float v = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(edge) + k);
                x.Add(v);
                x.Add(-v);
            }
        var (y, d, exactY, exactD) = Evaluate(x.ToArray());
        var (worstY, atY) = ActivationTests.MaxUlps(y, exactY, 0);
        var (worstD, atD) = ActivationTests.MaxUlps(d, exactD, 1);
        Assert.True(worstY <= 4.3 && worstD <= 1.3,
            $"gelu f32: forward {worstY:F2} ulps at x = {x[atY]:R}, derivative {worstD:F2} ulps of max(|d|, 1) at x = {x[atD]:R}");
    }

    /// <summary>
    /// The forward over every 61st float of magnitude up to 20 (both signs, 36 million arguments: every binade, the
    /// far tail where Φ(x) and then the value leave float's normal range, the clamp at 14.5) and the 17 floats around
    /// every power of two, against the double path: within 4.3 ulps where the value is a normal float and Φ(x) is too
    /// (GeluF32's method gives 4.21); within 3.0 where the value is normal but Φ(x) is not (x from -13.16 to -12.93,
    /// 2.95: u is in the value before its scaling into the subnormals, one rounding there; the form before, with Φ(-u)
    /// rounded first, gave 9.3); within 2.0 steps of 2⁻¹⁴⁹ where the value is subnormal (1.89; before 8.1). Takes about a second (the reference is split over the threads).
    /// </summary>
    [Fact]
    public void ForwardSweepStaysWithinTheStatedError()
    {
        var xs = new List<float>();
        for (uint bits = 0; bits <= 0x41A00000u; bits += 61)
        {
            xs.Add(BitConverter.UInt32BitsToSingle(bits));
            xs.Add(-BitConverter.UInt32BitsToSingle(bits));
        }
        for (uint exponent = 1; exponent < 255; exponent++)
            for (int k = -8; k <= 8; k++)
            {
                float v = BitConverter.UInt32BitsToSingle((uint)((exponent << 23) + k));
                xs.Add(v);
                xs.Add(-v);
            }
        float[] x = xs.ToArray();
        float[] y;
        using (Tensor.Scope())
            y = F.Gelu(Tensor.FromArray(x)).ToArray<float>();

        const double Smallest = 1.4012984643248171e-45, MinNormalD = 1.1754943508222875e-38;
        int parts = Environment.ProcessorCount;
        var worst = new (double Ulps, int At)[parts * 3];
        Parallel.For(0, parts, part =>
        {
            for (int i = part; i < x.Length; i += parts)
            {
                double exact = GeluOp.Forward((double)x[i], 0.0, 0.0);
                double magnitude = Math.Abs(exact);
                int region;
                double error;
                if (magnitude < MinNormalD)
                {
                    region = 2;
                    error = Math.Abs(y[i] - exact) / Smallest;
                }
                else
                {
                    region = x[i] < 0 && magnitude / -x[i] < MinNormalD ? 1 : 0;
                    float rounded = (float)magnitude;
                    error = Math.Abs(y[i] - exact) / (MathF.BitIncrement(rounded) - rounded);
                }
                if (!(error <= worst[part * 3 + region].Ulps)) worst[part * 3 + region] = (double.IsNaN(error) ? double.PositiveInfinity : error, i);
            }
        });
        string Worst(int region)
        {
            var w = Enumerable.Range(0, parts).Select(p => worst[p * 3 + region]).MaxBy(v => v.Ulps);
            return $"{w.Ulps:F2} at x = {x[w.At]:R} (gelu {y[w.At]:R}, double path {GeluOp.Forward((double)x[w.At], 0.0, 0.0):R})";
        }
        double Max(int region) => Enumerable.Range(0, parts).Max(p => worst[p * 3 + region].Ulps);
        Assert.True(Max(0) <= 4.3 && Max(1) <= 3.0 && Max(2) <= 2.0,
            $"gelu f32 forward: normal {Worst(0)} ulps; Φ subnormal {Worst(1)} ulps; subnormal values {Worst(2)} steps of 2^-149");
    }

    /// <summary>
    /// ±0 (with its sign), NaN, ±∞, the largest floats, subnormals and the method's switch points give what the double
    /// path gives rounded to float: GELU(-∞) and the derivative at ±∞ are NaN there too (∞ · 0), as in PyTorch.
    /// </summary>
    /// <summary>
    /// The derivative (the backward with a gradient of ones) over every 61st float of magnitude up to 20, both signs (36
    /// million arguments), against the double path: within 1.3 ulps of max(|value|, 1) (GeluF32's method gives 1.25, near
    /// x = 0⁺ where 1 - Q takes Φ(-u)'s error whole). It shares the forward's pieces
    /// (<c>GeluF32</c>), so this checks Φ(-u) and φ(u) through another combination than the forward's.
    /// </summary>
    [Fact]
    public void DerivativeSweepStaysWithinTheStatedError()
    {
        var xs = new List<float>();
        for (uint bits = 0; bits <= 0x41A00000u; bits += 61)
        {
            xs.Add(BitConverter.UInt32BitsToSingle(bits));
            xs.Add(-BitConverter.UInt32BitsToSingle(bits));
        }
        float[] x = xs.ToArray();
        float[] d;
        using (Tensor.Scope())
        {
            var leaf = Tensor.FromArray(x).RequiresGradInPlace();
            F.Gelu(leaf).Backward(Tensor.Ones([x.Length]));
            d = leaf.Grad!.ToArray<float>();
        }
        int parts = Environment.ProcessorCount;
        var worst = new (double Ulps, int At)[parts];
        Parallel.For(0, parts, part =>
        {
            for (int i = part; i < x.Length; i += parts)
            {
                double exact = GeluOp.Derivative((double)x[i], 0.0, 0.0, 0.0);
                float scale = (float)Math.Max(Math.Abs(exact), 1);
                double error = Math.Abs(d[i] - exact) / (MathF.BitIncrement(scale) - scale);
                if (!(error <= worst[part].Ulps)) worst[part] = (double.IsNaN(error) ? double.PositiveInfinity : error, i);
            }
        });
        var w = worst.MaxBy(v => v.Ulps);
        Assert.True(w.Ulps <= 1.3, $"gelu f32 derivative: {w.Ulps:F2} ulps of max(|d|, 1) at x = {x[w.At]:R} (gelu' {d[w.At]:R}, double path {GeluOp.Derivative((double)x[w.At], 0.0, 0.0, 0.0):R})");
    }

    /// <summary>
    /// The 512-bit forward's two loops (m by vmaxps with -∞ written afterwards when input and output are apart; by
    /// vfixupimmps in place) give the same bits, -∞ anywhere (first element, mid-block, the last whole block, the tail)
    /// giving the NaN, for lengths around the vector widths.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(40)]
    [InlineData(16 * 64 + 7)]
    public void InPlaceAndApartGiveTheSameBitsNegativeInfinityIncluded(int n)
    {
        var random = new Random(n);
        float[] x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 30 - 15)).ToArray();
        foreach (int at in new[] { 0, 5, n / 2, n - 20, n - 1 })
            if (at >= 0 && at < n) x[at] = float.NegativeInfinity;
        var apart = new float[n];
        Assert.True(GeluVector.TryForward<float>(x, apart) || !System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated);
        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) return;
        var inPlace = (float[])x.Clone();
        GeluVector.TryForward<float>(inPlace, inPlace);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(inPlace[i]), BitConverter.SingleToInt32Bits(apart[i]));
            if (float.IsNegativeInfinity(x[i])) Assert.True(float.IsNaN(apart[i]), $"gelu(-inf) at {i} of {n}: {apart[i]}");
        }
    }

    [Fact]
    public void SpecialValuesMatchTheDoublePath()
    {
        float[] x = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e30f, -1e30f,
            1e-40f, -1e-40f, float.Epsilon, -float.Epsilon, 1e-20f, -1e-20f, 1f, -1f, MathF.BitDecrement(1f), -MathF.BitDecrement(1f),
            13.2f, -13.2f, 13.5f, -13.5f, -13.9f, 14.5f, -14.5f, 20f, -20f, 100f, -100f];
        var (y, d, exactY, exactD) = Evaluate(x);
        for (int i = 0; i < x.Length; i++)
        {
            float ey = (float)exactY[i], ed = (float)exactD[i];
            // Results below float's normal range may flush to 0 (GELU(-13.5) is 1e-40); the others are within a few ulps.
            Assert.True(float.IsNaN(ey) ? float.IsNaN(y[i]) : (y[i] == ey || Math.Abs(y[i] - ey) <= MinNormal + 4e-7 * Math.Abs(ey)) && float.IsNegative(y[i]) == float.IsNegative(ey),
                $"gelu({x[i]:R}) = {y[i]:R}, double path {exactY[i]:R}");
            Assert.True(float.IsNaN(ed) ? float.IsNaN(d[i]) : d[i] == ed || Math.Abs(d[i] - ed) <= MinNormal + 2e-7 * Math.Max(Math.Abs(ed), 1),
                $"gelu'({x[i]:R}) = {d[i]:R}, double path {exactD[i]:R}");
        }
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(y[1]));
        Assert.Equal(float.PositiveInfinity, y[3]);
        Assert.Equal(float.MaxValue, y[5]);
    }
}
