using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tests.Gradients;

/// <summary>Gradients of index_select, gather and scatter_add; index tensors come from the case's seed.</summary>
public class IndexingGradients
{
    private static int Dim(Case c) => c.Choice % c.Operands[0].Shape.Length;

    private static bool HasRankAndSize(Case c) => c.Operands[0].Shape.Length > 0 && c.Operands[0].Shape[Dim(c)] > 0;

    private static Tensor RandomIndex(Case c, int[] shape, int high, int salt) =>
        Tensor.RandInt(0, high, shape, generator: new Engine.Randomness.Generator((ulong)(c.Seed + salt)));

    [Fact]
    public void IndexSelect() => GradientProperty.Check(Arbitrary(Single(1, 3), HasRankAndSize), (x, c) =>
    {
        int d = Dim(c);
        // Repeated indices make index_add accumulate: exactly the case a wrong backward gets wrong.
        using var index = RandomIndex(c, [1 + c.Choice % 5], x[0].Size(d), 11);
        return x[0].IndexSelect(d, index);
    });

    [Fact]
    public void Gather() => GradientProperty.Check(Arbitrary(Single(1, 3), HasRankAndSize), (x, c) =>
    {
        int d = Dim(c);
        var shape = x[0].Shape;
        shape[d] = 1 + c.Choice % 4;
        using var index = RandomIndex(c, shape, x[0].Size(d), 13);
        return x[0].Gather(d, index);
    });

    private static readonly Gen<int[][]> ScatterShapes =
        from self in Shape(1, 3).Where(s => s.All(d => d > 0))
        from extra in Gen.ArrayOf(Gen.Choose(0, 2), self.Length)
        select new[] { self, self.Select((d, i) => d + extra[i]).ToArray() };

    [Fact]
    public void ScatterAdd() => GradientProperty.Check(
        Arbitrary(Of(ScatterShapes), c => c.Operands[0].Shape.Length > 0 && c.Operands[0].Shape.Length == c.Operands[1].Shape.Length && c.Operands[0].Shape.All(d => d > 0)),
        (x, c) =>
        {
            int d = Dim(c);
            // index may not exceed self outside dim, nor src anywhere.
            var shape = x[0].Shape.Select((s, i) => Math.Min(s, x[1].Size(i))).ToArray();
            using var index = RandomIndex(c, shape, x[0].Size(d), 17);
            return x[0].ScatterAdd(d, index, x[1]);
        });
}
