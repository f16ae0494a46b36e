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
    /// the value leaves float's normal range at x = -13.2, and the switch of method at |x| = 1), and the floats
    /// around 1 and 13.5: the forward within 5.25 ulps, the derivative within 1.25 ulps of max(|value|, 1) (the
    /// method's error over 40 million such arguments is 5.1 and 1.1, see GeluF32; this sweep finds 4.8 and 1.1 since the
    /// forward became one piece, 4.5 and 1.1 before).
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
        Assert.True(worstY <= 5.25 && worstD <= 1.25,
            $"gelu f32: forward {worstY:F2} ulps at x = {x[atY]:R}, derivative {worstD:F2} ulps of max(|d|, 1) at x = {x[atD]:R}");
    }

    /// <summary>
    /// ±0 (with its sign), NaN, ±∞, the largest floats, subnormals and the method's switch points give what the double
    /// path gives rounded to float: GELU(-∞) and the derivative at ±∞ are NaN there too (∞ · 0), as in PyTorch.
    /// </summary>
    [Fact]
    public void SpecialValuesMatchTheDoublePath()
    {
        float[] x = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e30f, -1e30f,
            1e-40f, -1e-40f, float.Epsilon, -float.Epsilon, 1e-20f, -1e-20f, 1f, -1f, MathF.BitDecrement(1f), -MathF.BitDecrement(1f),
            13.2f, -13.2f, 13.5f, -13.5f, 20f, -20f, 100f, -100f];
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
