using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Float64 gradient properties of rfft2, irfft2 (half spectra that are not Hermitian, odd and even
/// widths), the complex group-linear, the complex product and the whole AFF token mixer.
/// </summary>
public class SpectralGradients
{
    private static readonly string?[] Norms = [null, "ortho", "forward"];

    private static readonly Gen<int> Side = Gen.Frequency((3, Gen.Constant(1)), (6, Gen.Choose(2, 5)), (1, Gen.Choose(6, 9)));

    private static Gen<int[]> Batch(int maxRank) =>
        from rank in Gen.Choose(0, maxRank)
        from dims in Gen.ArrayOf(Gen.Frequency((1, Gen.Constant(0)), (3, Gen.Constant(1)), (4, Gen.Choose(2, 3))), rank)
        select dims;

    private static bool Small(Case c) => c.Operands.All(o => Layout.Count(o.Shape) <= 3 * MaxElements);

    /// <summary>x of shape (*, H, W), H and W at least 1.</summary>
    private static readonly Gen<int[][]> RealMaps =
        from b in Batch(2) from h in Side from w in Side
        select new[] { b.Concat([h, w]).ToArray() };

    private static bool RealValid(Case c) => Small(c) && c.Operands[0].Shape is { Length: >= 2 } s && s[^1] >= 1 && s[^2] >= 1;

    /// <summary>Each DFT path forced in turn: the dense matrix, the separable pass with GEMM, with FFT.</summary>
    [Theory]
    [InlineData("dense")]
    [InlineData("gemm")]
    [InlineData("fft")]
    public void Rfft2(string path)
    {
        using var forced = Engine.Tests.Ops.SpectralTests.Force(path);
        GradientProperty.Check(Arbitrary(Of(RealMaps), RealValid), (x, c) => F.Rfft2(x[0], Norms[c.Choice % 3]), cases: 50);
    }

    /// <summary>The width is odd or even (from the choice), so K = ⌊W/2⌋ + 1 gets a Nyquist column or not.</summary>
    private static int Width(Case c) => 2 * (c.Operands[0].Shape[^2] - 1) + c.Choice / 3 % 2;

    private static readonly Gen<int[][]> Spectra =
        from b in Batch(2) from h in Side from k in Gen.Choose(1, 5)
        select new[] { b.Concat([h, k, 2]).ToArray() };

    private static bool SpectrumValid(Case c) => Small(c) && c.Operands[0].Shape is { Length: >= 3 } s && s[^1] == 2 && s[^2] >= 1 && s[^3] >= 1
        && 2 * (s[^2] - 1) + c.Choice / 3 % 2 >= 1;

    [Theory]
    [InlineData("dense")]
    [InlineData("gemm")]
    [InlineData("fft")]
    public void Irfft2(string path)
    {
        using var forced = Engine.Tests.Ops.SpectralTests.Force(path);
        GradientProperty.Check(Arbitrary(Of(Spectra), SpectrumValid), (x, c) => F.Irfft2(x[0], [x[0].Shape[^3], Width(c)], Norms[c.Choice % 3]), cases: 50);
    }

    /// <summary>x (N, G·dIn, *, 2), weight (2, G, dIn, dOut), bias (2, G, dOut).</summary>
    private static readonly Gen<int[][]> GroupLinearShapes =
        from n in Gen.Choose(1, 2) from g in Gen.Choose(1, 3) from din in Gen.Choose(1, 3) from dout in Gen.Choose(1, 3)
        from spatial in Gen.Choose(0, 2)
        from dims in Gen.ArrayOf(Gen.Choose(1, 3), spatial)
        select new[] { new[] { n, g * din }.Concat(dims).Append(2).ToArray(), new[] { 2, g, din, dout }, new[] { 2, g, dout } };

    private static bool GroupLinearValid(Case c)
    {
        var (x, w, b) = (c.Operands[0].Shape, c.Operands[1].Shape, c.Operands[2].Shape);
        return Small(c) && x.Length >= 3 && x[^1] == 2 && w.Length == 4 && w[0] == 2 && w[1] >= 1 && x[1] == w[1] * w[2]
            && b.SequenceEqual(new[] { 2, w[1], w[3] });
    }

    /// <summary>Both kernels: the vector loops of small groups and (forced for these small shapes) the GEMM path.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ComplexGroupLinear(bool gemmPath)
    {
        Engine.Ops.AdaptiveFilterKernels.DirectMaxWeights = gemmPath ? 0 : 256;
        try
        {
            GradientProperty.Check(Arbitrary(Of(GroupLinearShapes), GroupLinearValid),
                (x, c) => F.ComplexGroupLinear(x[0], x[1], c.Choice % 2 == 0 ? x[2] : null));
        }
        finally { Engine.Ops.AdaptiveFilterKernels.DirectMaxWeights = 256; }
    }

    private static readonly Gen<int[][]> PairShapes =
        from b in Batch(3)
        select new[] { b.Append(2).ToArray(), b.Append(2).ToArray() };

    private static bool PairValid(Case c) => c.Operands[0].Shape.SequenceEqual(c.Operands[1].Shape) && c.Operands[0].Shape[^1] == 2;

    [Fact]
    public void ComplexMul() => GradientProperty.Check(Arbitrary(Of(PairShapes), PairValid), (x, c) => F.ComplexMul(x[0], x[1]));

    /// <summary>x (N, G·d, H, W) and the four mixer parameters; λ is 0 or 0.01 and φ SiLU or identity (from the choice).</summary>
    private static readonly Gen<int[][]> MixerShapes =
        from n in Gen.Choose(1, 2) from g in Gen.Choose(1, 2) from d in Gen.Choose(1, 2) from h in Gen.Choose(1, 4) from w in Gen.Choose(1, 5)
        select new[] { new[] { n, g * d, h, w }, new[] { 2, g, d, d }, new[] { 2, g, d }, new[] { 2, g, d, d }, new[] { 2, g, d } };

    private static bool MixerValid(Case c)
    {
        var s = c.Operands.Select(o => o.Shape).ToArray();
        return s[0].Length == 4 && s[1].Length == 4 && s[0][1] == s[1][1] * s[1][2] && s[1][2] == s[1][3]
            && s[3].SequenceEqual(s[1]) && s[2].SequenceEqual(new[] { 2, s[1][1], s[1][2] }) && s[4].SequenceEqual(s[2])
            && s[0].All(v => v >= 1) && Layout.Count(s[0]) <= MaxElements;
    }

    [Fact]
    public void AdaptiveFrequencyFilter() => GradientProperty.Check(Arbitrary(Of(MixerShapes), MixerValid),
        (x, c) => F.AdaptiveFrequencyFilter(x[0], x[1], x[2], x[3], x[4], c.Choice % 2 == 0 ? 0.0 : 0.01, c.Choice / 2 % 2 == 0 ? "silu" : "identity"),
        cases: 40);
}
