using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Float64 gradient properties of dropout and drop-path. Each evaluation draws its mask from a generator
/// seeded by the case, so every evaluation of the check sees the same mask.
/// </summary>
public class RegularizeGradients
{
    private static double P(Case c) => new[] { 0, 0.1, 0.5, 0.9, 1 }[c.Choice % 5];

    [Fact]
    public void Dropout() => GradientProperty.Check(Arbitrary(Single()),
        (x, c) => F.Dropout(x[0], P(c), training: c.Choice / 5 % 4 != 0, generator: new Engine.Randomness.Generator((ulong)c.Seed)));

    [Fact]
    public void DropPath() => GradientProperty.Check(Arbitrary(Single(minRank: 1), c => c.Operands[0].Shape.Length >= 1),
        (x, c) => F.DropPath(x[0], P(c), training: c.Choice / 5 % 4 != 0, scaleByKeep: c.Choice / 20 % 2 == 0,
            generator: new Engine.Randomness.Generator((ulong)c.Seed)));
}
