using System.Runtime.Intrinsics;
using Engine.Ops;
using Engine.Tests.Core;
using Engine.Tests.Support;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The float exp of <see cref="ExpF32"/> against double over a sweep of inputs, and the fused float softmax rows of
/// <see cref="SoftmaxRowF32"/> against double loops, with the same bits at 512 and 256 bits (they switch
/// <see cref="VectorWidth.Use512"/>, so they run alone).
/// </summary>
[Collection(SerialCollection.Name)]
public class SoftmaxRowF32Tests
{
    /// <summary>Error of <paramref name="got"/> in units of the last place of the float nearest <paramref name="exact"/> (2^-149 for subnormals).</summary>
    private static double Ulps(float got, double exact)
    {
        double magnitude = Math.Max(Math.Abs(exact), double.Epsilon);
        double ulp = Math.Max(Math.Pow(2, Math.Floor(Math.Log2(magnitude)) - 23), Math.Pow(2, -149));
        return Math.Abs(got - exact) / ulp;
    }

    private static unsafe float[] VectorExp(float[] x, bool wide)
    {
        var y = new float[x.Length];
        fixed (float* xp = x, yp = y)
        {
            int lanes = wide ? 16 : 8, i = 0;
            for (; i + lanes <= x.Length; i += lanes)
                if (wide) ExpF32.Exp(Vector512.Load(xp + i)).Store(yp + i);
                else ExpF32.Exp(Vector256.Load(xp + i)).Store(yp + i);
            for (; i < x.Length; i++) yp[i] = ExpF32.Exp(xp[i]);
        }
        return y;
    }

    /// <summary>
    /// Every 1021st float from −105 to 90 (subnormal results, the overflow edge and both signs of zero included): within
    /// one ulp of exp in double at 512 bits, 256 bits and one at a time, the three bit for bit the same.
    /// </summary>
    [Fact]
    public void ExpIsWithinOneUlpOfDoubleAndTheSameAtEveryWidth()
    {
        var inputs = new List<float>();
        for (int bits = BitConverter.SingleToInt32Bits(90f); bits >= 0; bits -= 1021) inputs.Add(BitConverter.Int32BitsToSingle(bits));
        for (int bits = unchecked((int)0x80000000); bits <= BitConverter.SingleToInt32Bits(-105f); bits += 1021) inputs.Add(BitConverter.Int32BitsToSingle(bits));
        inputs.AddRange([0f, -0f, 88.72283f, 88.72284f, 88.8f, -87.33655f, -103.97208f, -103.97209f, -104f, -1e-30f, 1e-30f, 0.34657359f, -0.34657359f]);
        var x = inputs.ToArray();
        var scalar = x.Select(ExpF32.Exp).ToArray();
        VectorWidthTests.SameBits(scalar.Select(v => (double)v).ToArray(), VectorExp(x, wide: true).Select(v => (double)v).ToArray(), "exp 512-bit vs scalar");
        VectorWidthTests.SameBits(scalar.Select(v => (double)v).ToArray(), VectorExp(x, wide: false).Select(v => (double)v).ToArray(), "exp 256-bit vs scalar");
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double exact = Math.Exp(x[i]);
            if (exact > float.MaxValue)
            {
                Assert.True(float.IsPositiveInfinity(scalar[i]) || Ulps(scalar[i], exact) <= 1, $"exp({x[i]:R}) = {scalar[i]:R}, expected +inf");
                continue;
            }
            double err = Ulps(scalar[i], exact);
            worst = Math.Max(worst, err);
            Assert.True(err <= 1, $"exp({x[i]:R}) = {scalar[i]:R}, expected {exact:R} ({err:F2} ulp)");
        }
        Assert.True(worst > 0.4, $"the sweep never left half an ulp ({worst:F2}): the comparison is not measuring anything");
    }

    /// <summary>
    /// The softmax rows' own exp (<see cref="SoftmaxExpF32"/>, for t = x − max ≤ 0): every 97th float from −0 down to −110
    /// and the edges, at 512 and 256 bits bit for bit the same; within 1.5e-7 + 3e-9 |t| of exp in double, relative, where the
    /// result is a normal float (t ≥ −87.33), and that plus half a step of 2⁻¹⁴⁹ below it; 0 from −104 down; NaN for NaN, 0 for −∞, 1 for ±0.
    /// </summary>
    [Fact]
    public unsafe void SoftmaxExpIsWithinItsStatedErrorAndTheSameAtBothWidths()
    {
        var inputs = new List<float>();
        for (int bits = unchecked((int)0x80000000); bits <= BitConverter.SingleToInt32Bits(-110f); bits += 97) inputs.Add(BitConverter.Int32BitsToSingle(bits));
        inputs.AddRange([0f, -0f, -87.33655f, -87.33654f, -103.97208f, -103.97209f, -104f, -1e-30f, -0.34657359f, -0.3465736f,
            float.NegativeInfinity, float.NaN, float.MinValue]);
        while (inputs.Count % 16 != 0) inputs.Add(-1f);
        var x = inputs.ToArray();
        var wide = new float[x.Length];
        var narrow = new float[x.Length];
        fixed (float* xp = x, wp = wide, np = narrow)
            for (int i = 0; i < x.Length; i += 16)
            {
                SoftmaxExpF32.Exp(Vector512.Load(xp + i)).Store(wp + i);
                SoftmaxExpF32.Exp(Vector256.Load(xp + i)).Store(np + i);
                SoftmaxExpF32.Exp(Vector256.Load(xp + i + 8)).Store(np + i + 8);
            }
        VectorWidthTests.SameBits(wide.Select(v => (double)v).ToArray(), narrow.Select(v => (double)v).ToArray(), "softmax exp 512-bit vs 256-bit");
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float t = x[i], got = wide[i];
            if (float.IsNaN(t)) { Assert.True(float.IsNaN(got), "exp(NaN)"); continue; }
            if (t <= -104f) { Assert.True(got == 0f, $"exp({t:R}) = {got:R}, expected 0"); continue; }
            double exact = Math.Exp(t);
            // Relative: the polynomial and the roundings (1.41e-7 found), and ln2's float error times n (3e-9 |t|); a
            // subnormal result adds its one rounding, half a step of 2^-149.
            double bound = (1.5e-7 + 3e-9 * Math.Abs(t)) * exact + (exact < 1.1754943508222875e-38 ? 0.5 * Math.Pow(2, -149) : 0);
            double error = Math.Abs(got - exact);
            worst = Math.Max(worst, error / bound);
            Assert.True(error <= bound, $"softmax exp({t:R}) = {got:R}, expected {exact:R} (error {error:E2}, bound {bound:E2})");
        }
        Assert.True(worst > 0.5, $"the sweep never came near the bound ({worst:F2} of it): the comparison is not measuring anything");
        Assert.Equal(1f, wide[Array.IndexOf(x, 0f)]);
    }

    [Fact]
    public void ExpOfSpecialValues()
    {
        float[] x = [float.NegativeInfinity, float.PositiveInfinity, float.NaN, float.MinValue, float.MaxValue, -200f, 200f, 0f, -0f];
        foreach (var y in new[] { x.Select(ExpF32.Exp).ToArray(), VectorExp([.. x, .. new float[7]], true), VectorExp([.. x, .. new float[7]], false) })
        {
            Assert.Equal(0f, y[0]);
            Assert.True(float.IsPositiveInfinity(y[1]));
            Assert.True(float.IsNaN(y[2]));
            Assert.Equal(0f, y[3]);
            Assert.True(float.IsPositiveInfinity(y[4]));
            Assert.Equal(0f, y[5]);
            Assert.True(float.IsPositiveInfinity(y[6]));
            Assert.Equal(1f, y[7]);
            Assert.Equal(1f, y[8]);
        }
    }

    private static double[] Row(double[] v, int r, int n) => v.Skip(r * n).Take(n).ToArray();

    /// <summary>softmax or log_softmax of each row in double, and the gradient for the upstream gradient g.</summary>
    private static (double[] Y, double[] Gx) Reference(double[] x, double[] g, int rows, int n, bool log)
    {
        var y = new double[x.Length];
        var gx = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            var v = Row(x, r, n);
            double max = v.Aggregate(double.NegativeInfinity, Math.Max), sum = v.Sum(e => Math.Exp(e - max));
            for (int i = 0; i < n; i++) y[r * n + i] = log ? v[i] - max - Math.Log(sum) : Math.Exp(v[i] - max) / sum;
            var p = Enumerable.Range(0, n).Select(i => Math.Exp(v[i] - max) / sum).ToArray();
            double gs = Row(g, r, n).Sum(), dot = Enumerable.Range(0, n).Sum(i => g[r * n + i] * p[i]);
            for (int i = 0; i < n; i++) gx[r * n + i] = log ? g[r * n + i] - p[i] * gs : p[i] * (g[r * n + i] - dot);
        }
        return (y, gx);
    }

    /// <summary>
    /// Rows of every length class (a tail only, whole blocks of 32, blocks and a 16-, 8- or scalar tail, the bench's
    /// 1000) with ordinary logits, large ones, −inf entries, and rows holding NaN, +inf or only −inf (NaN throughout,
    /// as in PyTorch): forward and gradient against double, the same bits at both widths.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RowsMatchDoubleAndGiveTheSameBitsAtBothWidths(bool log)
    {
        var rng = new System.Random(log ? 7 : 8);
        foreach (int n in new[] { 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 56, 63, 100, 1000, 1031 })
        {
            const int rows = 8;
            var x = new float[rows * n];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 40 - 20);
            for (int i = 0; i < n; i++) x[n + i] = (float)(rng.NextDouble() * 2e4 - 1e4);    // row 1: large logits
            x[2 * n + rng.Next(n)] = float.NegativeInfinity;                                    // row 2: a masked entry
            x[3 * n + rng.Next(n)] = float.NaN;                                                 // row 3: NaN
            x[4 * n + rng.Next(n)] = float.PositiveInfinity;                                    // row 4: +inf
            for (int i = 0; i < n; i++) x[5 * n + i] = float.NegativeInfinity;                  // row 5: all masked
            var g = Enumerable.Range(0, x.Length).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var (wide, narrow) = VectorWidthTests.BothWidths(() =>
            {
                using var scope = Tensor.Scope();
                var leaf = Tensor.FromArray(x, [rows, n]).RequiresGradInPlace();
                var y = log ? F.LogSoftmax(leaf, -1) : F.Softmax(leaf, -1);
                y.Backward(Tensor.FromArray(g, [rows, n]));
                return [ActivationTests.ToDoubles(y), ActivationTests.ToDoubles(leaf.Grad!)];
            });
            VectorWidthTests.SameBits(wide[0], narrow[0], $"n={n} forward");
            VectorWidthTests.SameBits(wide[1], narrow[1], $"n={n} gradient");
            var (ey, egx) = Reference(x.Select(v => (double)v).ToArray(), g.Select(v => (double)v).ToArray(), rows, n, log);
            // x − max is rounded to float before its exp (as in PyTorch): up to 40·2^-24 ≈ 2.4e-6 relative for logits 40 apart.
            Engine.Tests.Core.Reference.Close(ey, wide[0], 4e-6, log ? 4e-6 : 1e-30, $"{(log ? "log_softmax" : "softmax")} n={n} forward");
            Engine.Tests.Core.Reference.Close(egx, wide[1], 1e-5, 1e-6, $"{(log ? "log_softmax" : "softmax")} n={n} gradient");
            for (int i = 0; i < n; i++) Assert.True(double.IsNaN(wide[0][3 * n + i]) && double.IsNaN(wide[0][4 * n + i]) && double.IsNaN(wide[0][5 * n + i]), $"n={n}: NaN rows");
        }
    }

    /// <summary>
    /// A softmax gradient large enough to be written with non-temporal stores (2 M floats and more, AVX-512) gives, row
    /// by row, the bits of the same rows run as small tensors (ordinary stores): rows of 1025 floats, so every row
    /// starts at another offset from a 64-byte boundary and the head before the first aligned store varies; several
    /// threads, so the fence after each thread's rows is exercised too.
    /// </summary>
    [Fact]
    public void StreamedSoftmaxGradientGivesTheBitsOfOrdinaryStores()
    {
        const int rows = 2100, n = 1025;
        using var scope = Tensor.Scope();
        var gen = new Engine.Randomness.Generator(31);
        var x = Tensor.Randn([rows, n], DType.F32, Device.Cpu, gen);
        var g = Tensor.Randn([rows, n], DType.F32, Device.Cpu, gen);
        var leaf = x.Detach().RequiresGradInPlace();
        F.Softmax(leaf, 1).Backward(g);
        var big = leaf.Grad!.ToArray<float>();
        var xs = x.ToArray<float>();
        var gs = g.ToArray<float>();
        foreach (int r in new[] { 0, 1, 2, 3, 15, 16, 17, 1049, 1050, rows - 2, rows - 1 })
        {
            using var inner = Tensor.Scope();
            var row = Tensor.FromArray(xs.AsSpan(r * n, n).ToArray()).Reshape([1, n]).RequiresGradInPlace();
            F.Softmax(row, 1).Backward(Tensor.FromArray(gs.AsSpan(r * n, n).ToArray()).Reshape([1, n]));
            var small = row.Grad!.ToArray<float>();
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(small[i]) == BitConverter.SingleToInt32Bits(big[r * n + i]),
                    $"row {r}, element {i}: {big[r * n + i]:R} streamed, {small[i]:R} ordinary");
        }
    }
}
