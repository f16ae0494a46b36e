using FsCheck;
using FsCheck.Fluent;

namespace Engine.Tests.Gradients;

/// <summary>How a generated operand is laid out in memory.</summary>
public enum Strides
{
    /// <summary>Row-major, no gaps.</summary>
    Contiguous,
    /// <summary>A permuted view of a contiguous base.</summary>
    Permuted,
    /// <summary>Every second element of a base twice as long in the last dimension.</summary>
    Stepped,
    /// <summary>A smaller leaf broadcast up to the shape inside the function (zero strides).</summary>
    Expanded,
}

/// <summary>Where an operand's values are drawn from, to keep away from an operation's kinks.</summary>
public enum Values
{
    /// <summary>Standard normal.</summary>
    Normal,
    /// <summary>In [0.5, 2.5): safe for log, sqrt, division.</summary>
    Positive,
    /// <summary>k/10 + 0.03: at least 0.03 from 0, from ±0.5 and from every Grid B value.</summary>
    GridA,
    /// <summary>k/10 + 0.07: never within 0.04 of a Grid A value.</summary>
    GridB,
    /// <summary>A random permutation of distinct values 0.1 apart: no ties for max and min.</summary>
    Distinct,
}

/// <summary>One input of a generated case: its shape and how it is laid out.</summary>
public sealed record Operand(int[] Shape, Strides Strides)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Layout.Format(Shape)}/{Strides}";
}

/// <summary>
/// A generated test case: operands, the seed their values come from, and a free integer an operation
/// may use to pick its parameters (axes, sizes, ...). The printed form replays the case exactly.
/// </summary>
public sealed record Case(Operand[] Operands, int Seed, int Choice)
{
    /// <inheritdoc/>
    public override string ToString() => $"Case(operands: {string.Join(", ", Operands.Select(o => o.ToString()))}; seed: {Seed}; choice: {Choice})";
}

/// <summary>FsCheck generators and shrinkers for shapes, broadcast groups and layouts.</summary>
public static class Generators
{
    /// <summary>Gradient checks evaluate the function twice per element, so shapes stay small.</summary>
    public const int MaxElements = 60;

    private static readonly Gen<int> Size = Gen.Frequency(
        (1, Gen.Constant(0)), (5, Gen.Constant(1)), (10, Gen.Choose(2, 4)), (3, Gen.Choose(5, 7)));

    /// <summary>Shapes of rank 0 to <paramref name="maxRank"/> with sizes 0 to 7.</summary>
    public static Gen<int[]> Shape(int minRank = 0, int maxRank = 4) =>
        from rank in Gen.Choose(minRank, maxRank)
        from dims in Gen.ArrayOf(Size, rank)
        where Layout.Count(dims) <= MaxElements
        select dims;

    private static readonly Gen<Strides> AnyStrides = Gen.Elements(Strides.Contiguous, Strides.Permuted, Strides.Stepped, Strides.Expanded);

    /// <summary>Shapes that broadcast to <paramref name="full"/>: leading dimensions dropped, some sizes set to 1.</summary>
    public static Gen<int[]> BroadcastableTo(int[] full) =>
        from drop in Gen.Choose(0, full.Length)
        from ones in Gen.ArrayOf(Gen.Frequency((2, Gen.Constant(false)), (1, Gen.Constant(true))), full.Length)
        select full.Skip(drop).Select((d, i) => ones[i + drop] ? 1 : d).ToArray();

    /// <summary>A case of <paramref name="count"/> broadcast-compatible operands.</summary>
    public static Gen<Case> Broadcast(int count, int minRank = 0, int maxRank = 4) =>
        from full in Shape(minRank, maxRank)
        from shapes in Gen.CollectToArray(Enumerable.Range(0, count).Select(i => i == 0 && count == 1 ? Gen.Constant(full) : BroadcastableTo(full)))
        from strides in Gen.ArrayOf(AnyStrides, count)
        from seed in Gen.Choose(0, 1_000_000)
        from choice in Gen.Choose(0, 1000)
        select new Case(shapes.Select((s, i) => new Operand(s, strides[i])).ToArray(), seed, choice);

    /// <summary>A case with one operand of any shape.</summary>
    public static Gen<Case> Single(int minRank = 0, int maxRank = 4) => Broadcast(1, minRank, maxRank);

    /// <summary>A case from given shapes, with random layouts, seed and choice.</summary>
    public static Gen<Case> Of(Gen<int[][]> shapes) =>
        from s in shapes
        from strides in Gen.ArrayOf(AnyStrides, s.Length)
        from seed in Gen.Choose(0, 1_000_000)
        from choice in Gen.Choose(0, 1000)
        select new Case(s.Select((x, i) => new Operand(x, strides[i])).ToArray(), seed, choice);

    /// <summary>
    /// Smaller cases: contiguous layouts, each dimension shrunk (alone and aligned across operands), the
    /// leading dimension dropped, a smaller choice. <paramref name="valid"/> rejects cases an operation cannot take.
    /// </summary>
    public static IEnumerable<Case> Shrink(Case c, Func<Case, bool> valid)
    {
        var candidates = new List<Case>();
        for (int k = 0; k < c.Operands.Length; k++)
            if (c.Operands[k].Strides != Strides.Contiguous)
                candidates.Add(c with { Operands = Replace(c.Operands, k, c.Operands[k] with { Strides = Strides.Contiguous }) });
        int maxRank = c.Operands.Max(o => o.Shape.Length);
        // Aligned from the right, as broadcasting aligns them.
        for (int t = 1; t <= maxRank; t++)
        {
            candidates.Add(c with { Operands = c.Operands.Select(o => ShrinkAt(o, t, toOne: true)).ToArray() });
            candidates.Add(c with { Operands = c.Operands.Select(o => ShrinkAt(o, t, toOne: false)).ToArray() });
        }
        candidates.Add(c with { Operands = c.Operands.Select(o => o.Shape.Length == maxRank && maxRank > 0 ? o with { Shape = o.Shape[1..] } : o).ToArray() });
        for (int k = 0; k < c.Operands.Length; k++)
            for (int d = 0; d < c.Operands[k].Shape.Length; d++)
                if (c.Operands[k].Shape[d] > 1)
                {
                    var shape = (int[])c.Operands[k].Shape.Clone();
                    shape[d]--;
                    candidates.Add(c with { Operands = Replace(c.Operands, k, c.Operands[k] with { Shape = shape }) });
                }
        if (c.Choice > 0) { candidates.Add(c with { Choice = 0 }); candidates.Add(c with { Choice = c.Choice / 2 }); }
        return candidates.Where(x => !SameCase(x, c)).Where(valid).Distinct(CaseComparer.Instance);
    }

    private static Operand ShrinkAt(Operand o, int fromRight, bool toOne)
    {
        int d = o.Shape.Length - fromRight;
        if (d < 0 || o.Shape[d] <= 1) return o;
        var s = (int[])o.Shape.Clone();
        s[d] = toOne ? 1 : s[d] - 1;
        return o with { Shape = s };
    }

    private static Operand[] Replace(Operand[] ops, int k, Operand o)
    {
        var copy = (Operand[])ops.Clone();
        copy[k] = o;
        return copy;
    }

    private static bool SameCase(Case a, Case b) => a.ToString() == b.ToString();

    private sealed class CaseComparer : IEqualityComparer<Case>
    {
        public static readonly CaseComparer Instance = new();
        public bool Equals(Case? x, Case? y) => x?.ToString() == y?.ToString();
        public int GetHashCode(Case c) => c.ToString().GetHashCode();
    }

    /// <summary>True when the operands' shapes broadcast together.</summary>
    public static bool Broadcastable(Case c)
    {
        try { Layout.BroadcastShapes("check", c.Operands.Select(o => o.Shape).ToArray()); return true; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>The arbitrary FsCheck runs: the generator, and the shrinker restricted to valid cases.</summary>
    public static Arbitrary<Case> Arbitrary(Gen<Case> gen, Func<Case, bool>? valid = null)
    {
        var v = valid ?? (_ => true);
        return Arb.From(gen.Where(v), c => Shrink(c, v));
    }
}
