using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tests.Gradients;

/// <summary>Gradients of views and shape operations.</summary>
public class ShapeGradients
{
    private static void Single(Func<Tensor, Case, Tensor> op, Func<Case, bool>? valid = null, int minRank = 0) =>
        GradientProperty.Check(Arbitrary(Generators.Single(minRank), valid), (x, c) => op(x[0], c));

    private static int Dim(Case c) => c.Choice % Math.Max(1, c.Operands[0].Shape.Length);

    [Fact]
    public void Reshape() => Single((x, c) => x.Reshape(x.Shape.Reverse().ToArray()).Reshape(-1));

    [Fact]
    public void ViewOfContiguous() => Single((x, c) => x.Contiguous().View(-1));

    [Fact]
    public void Permute() => Single((x, c) =>
    {
        var perm = Enumerable.Range(0, x.Rank).OrderBy(i => (i * 7 + c.Choice) % (x.Rank + 1)).ToArray();
        return x.Permute(perm);
    });

    [Fact] public void Transpose() => Single((x, c) => x.Transpose(0, -1), minRank: 1);

    [Fact]
    public void Narrow() => Single((x, c) =>
    {
        int d = Dim(c), size = x.Size(d);
        int start = size == 0 ? 0 : c.Choice % size;
        return x.Narrow(d, start, (size - start) / 2 + (size - start) % 2);
    }, minRank: 1);

    [Fact] public void SliceWithStep() => Single((x, c) => x.Slice(Dim(c), 1, null, 2), minRank: 1);

    [Fact] public void Select() => Single((x, c) => x.Select(Dim(c), c.Choice % x.Size(Dim(c))), c => c.Operands[0].Shape.Length > 0 && c.Operands[0].Shape[Dim(c)] > 0, 1);

    [Fact] public void SqueezeUnsqueeze() => Single((x, c) => x.Unsqueeze(c.Choice % (x.Rank + 1)).Squeeze());

    [Fact] public void Flatten() => Single((x, c) => x.Flatten(Dim(c)), minRank: 1);

    [Fact]
    public void Expand() => Single((x, c) =>
    {
        // Make every size-1 dimension 3 wide and add a leading dimension of 2.
        int[] target = [2, .. x.Shape.Select(d => d == 1 ? 3 : d)];
        return x.Expand(target);
    });

    private static readonly Gen<int[][]> CatShapes =
        from rank in Gen.Choose(1, 3)
        from baseShape in Gen.ArrayOf(Gen.Choose(1, 3), rank)
        from dim in Gen.Choose(0, rank - 1)
        from sizes in Gen.ArrayOf(Gen.Choose(0, 3), 3)
        select sizes.Select(s => baseShape.Select((d, i) => i == dim ? s : d).ToArray()).ToArray();

    private static int CatDim(Case c)
    {
        var shapes = c.Operands.Select(o => o.Shape).ToArray();
        for (int d = 0; d < shapes[0].Length; d++)
            if (shapes.Any(s => s[d] != shapes[0][d])) return d;
        return c.Choice % shapes[0].Length;
    }

    private static bool CatValid(Case c)
    {
        var shapes = c.Operands.Select(o => o.Shape).ToArray();
        if (shapes.Any(s => s.Length != shapes[0].Length || s.Length == 0)) return false;
        int d = CatDim(c);
        return shapes.All(s => s.Where((v, i) => i != d).SequenceEqual(shapes[0].Where((v, i) => i != d)));
    }

    [Fact]
    public void Cat() => GradientProperty.Check(Arbitrary(Of(CatShapes), CatValid), (x, c) => Tensor.Cat(x, CatDim(c)));

    [Fact]
    public void Stack() => GradientProperty.Check(Arbitrary(Broadcast(3), c => c.Operands.All(o => o.Shape.SequenceEqual(c.Operands[0].Shape))),
        (x, c) => Tensor.Stack(x.Select(t => t.Contiguous()).ToArray(), c.Choice % (x[0].Rank + 1)));

    [Fact]
    public void Split() => Single((x, c) =>
    {
        // Weight each piece differently so a wrong routing of gradients cannot cancel out.
        var parts = x.Split(2, Dim(c));
        return Tensor.Cat(parts.Select((p, i) => p * (i + 1.0)).ToArray(), Dim(c));
    }, minRank: 1);

    [Fact]
    public void Chunk() => Single((x, c) =>
    {
        var parts = x.Chunk(1 + c.Choice % 3, Dim(c));
        return Tensor.Cat(parts.Select((p, i) => p * (i + 1.0)).ToArray(), Dim(c));
    }, minRank: 1);

    [Fact]
    public void Pad() => Single((x, c) =>
    {
        // Up to two trailing dimensions, amounts from -1 to 2 (negative crops), never below size 0.
        int pairs = Math.Min(2, x.Rank);
        var pad = new int[2 * pairs];
        for (int i = 0; i < pad.Length; i++)
        {
            int d = x.Rank - 1 - i / 2;
            pad[i] = (c.Choice / (i + 1)) % 4 - 1;
            if (pad[i] < 0 && x.Size(d) < 2) pad[i] = 0;
        }
        return x.Pad(pad, 0.5);
    }, minRank: 1);

    [Fact]
    public void CloneAndContiguous() => Single((x, c) => x.Clone().Contiguous());
}
