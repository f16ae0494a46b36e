using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Gradients through time of the fused LSTM operators, for the input, the initial states and every weight.
/// The case's choice picks the hyper-parameters (bidirectional, layers, biases, batch-first, initial states
/// given or not); the operands are [input, h0, c0, flat weights...] built to match, in random layouts.
/// </summary>
public class RecurrentGradients
{
    private sealed record LstmHyper(bool Bidirectional, int Layers, bool Bias, bool BatchFirst, bool State)
    {
        public static LstmHyper Of(int choice) => new(choice % 2 == 1, 1 + choice / 2 % 2, choice / 4 % 2 == 0, choice / 8 % 2 == 1, choice / 16 % 2 == 1);
        public int Dirs => Bidirectional ? 2 : 1;
    }

    private static readonly Gen<Strides> AnyLayout = Gen.Elements(Strides.Contiguous, Strides.Permuted, Strides.Stepped, Strides.Expanded);

    private static int[][] LstmShapes(LstmHyper hp, int n, int t, int c, int d)
    {
        var shapes = new List<int[]> { hp.BatchFirst ? new[] { n, t, c } : new[] { t, n, c }, new[] { hp.Layers * hp.Dirs, n, d }, new[] { hp.Layers * hp.Dirs, n, d } };
        for (int l = 0; l < hp.Layers; l++)
            for (int k = 0; k < hp.Dirs; k++)
            {
                shapes.Add([4 * d, l == 0 ? c : hp.Dirs * d]);
                shapes.Add([4 * d, d]);
                if (hp.Bias) { shapes.Add([4 * d]); shapes.Add([4 * d]); }
            }
        return [.. shapes];
    }

    private static (int N, int T, int C, int D) LstmDims(Case c)
    {
        var hp = LstmHyper.Of(c.Choice);
        var x = c.Operands[0].Shape;
        return (hp.BatchFirst ? x[0] : x[1], hp.BatchFirst ? x[1] : x[0], x[2], c.Operands[1].Shape[2]);
    }

    private static bool LstmValid(Case c)
    {
        if (c.Operands.Length < 5 || c.Operands[0].Shape.Length != 3 || c.Operands[1].Shape.Length != 3) return false;
        var (n, t, ch, d) = LstmDims(c);
        if (d < 1 || t < 1) return false;
        var expected = LstmShapes(LstmHyper.Of(c.Choice), n, t, ch, d);
        return expected.Length == c.Operands.Length && expected.Zip(c.Operands).All(p => p.First.SequenceEqual(p.Second.Shape));
    }

    private static Gen<Case> Cases(Func<int, int, int, int, int, int[][]> shapes, int choices) =>
        from choice in Gen.Choose(0, choices - 1)
        from n in Gen.Choose(1, 3)
        from t in Gen.Choose(1, 4)
        from c in Gen.Choose(1, 3)
        from d in Gen.Choose(1, 3)
        let s = shapes(choice, n, t, c, d)
        from layouts in Gen.ArrayOf(AnyLayout, s.Length)
        from seed in Gen.Choose(0, 1_000_000)
        select new Case(s.Select((x, i) => new Operand(x, layouts[i])).ToArray(), seed, choice);

    [Fact]
    public void Lstm() => GradientProperty.Check(
        Arbitrary(Cases((choice, n, t, c, d) => LstmShapes(LstmHyper.Of(choice), n, t, c, d), 32), LstmValid),
        (x, c) =>
        {
            var hp = LstmHyper.Of(c.Choice);
            var (o, hn, cn) = F.Lstm(x[0], x[3..], hp.Layers, hp.Bidirectional, hp.BatchFirst,
                hp.State ? x[1] : null, hp.State ? x[2] : null, hasBiases: hp.Bias);
            return Tensor.Cat([o.Flatten(), hn.Flatten(), cn.Flatten()]);
        }, cases: 60);

    /// <summary>Choice: bidirectional (choice % 2), which LSTMs exist (both, vertical only, horizontal only: choice / 2 % 3), biases (choice / 6 % 2 == 0).</summary>
    private static int[][] GridShapes(int choice, int b, int h, int w, int c, int d)
    {
        int dirs = choice % 2 == 1 ? 2 : 1, which = choice / 2 % 3;
        bool bias = choice / 6 % 2 == 0;
        var shapes = new List<int[]> { new[] { b, h, w, c } };
        int lstms = which == 0 ? 2 : 1;
        for (int k = 0; k < lstms * dirs; k++)
        {
            shapes.Add([4 * d, c]); shapes.Add([4 * d, d]);
            if (bias) { shapes.Add([4 * d]); shapes.Add([4 * d]); }
        }
        return [.. shapes];
    }

    private static bool GridValid(Case c)
    {
        if (c.Operands.Length < 3 || c.Operands[0].Shape.Length != 4 || c.Operands[2].Shape.Length != 2) return false;
        var x = c.Operands[0].Shape;
        int d = c.Operands[2].Shape[1];
        if (d < 1) return false;
        var expected = GridShapes(c.Choice, x[0], x[1], x[2], x[3], d);
        return expected.Length == c.Operands.Length && expected.Zip(c.Operands).All(p => p.First.SequenceEqual(p.Second.Shape));
    }

    private static readonly Gen<Case> GridCases =
        from choice in Gen.Choose(0, 11)
        from b in Gen.Choose(1, 2)
        from h in Gen.Choose(1, 3)
        from w in Gen.Choose(1, 3)
        from c in Gen.Choose(1, 3)
        from d in Gen.Choose(1, 2)
        let s = GridShapes(choice, b, h, w, c, d)
        from layouts in Gen.ArrayOf(AnyLayout, s.Length)
        from seed in Gen.Choose(0, 1_000_000)
        select new Case(s.Select((x, i) => new Operand(x, layouts[i])).ToArray(), seed, choice);

    [Fact]
    public void Lstm2d() => GradientProperty.Check(Arbitrary(GridCases, GridValid), (x, c) =>
    {
        bool bidirectional = c.Choice % 2 == 1, bias = c.Choice / 6 % 2 == 0;
        int which = c.Choice / 2 % 3, per = (bidirectional ? 2 : 1) * (bias ? 4 : 2);
        var first = x[1..(1 + per)];
        var second = which == 0 ? x[(1 + per)..] : null;
        return which switch
        {
            0 => F.Lstm2d(x[0], first, second, bidirectional, bias),
            1 => F.Lstm2d(x[0], first, null, bidirectional, bias),
            _ => F.Lstm2d(x[0], null, first, bidirectional, bias),
        };
    }, cases: 60);
}
