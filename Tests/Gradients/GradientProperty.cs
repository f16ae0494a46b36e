using Engine.Autograd;
using FsCheck;
using FsCheck.Fluent;

namespace Engine.Tests.Gradients;

/// <summary>
/// Runs "the tape's gradient equals float64 central differences" as an FsCheck property. A failure is
/// shrunk to a minimal case; the message shows the case (shapes, layouts, seed, choice), which rebuilds
/// the same inputs, and FsCheck's own replay seed.
/// </summary>
public static class GradientProperty
{
    /// <summary>Number of cases per property in the default suite.</summary>
    public const int DefaultCases = 100;

    /// <summary>Builds the leaf for an operand and the view of it the function should use.</summary>
    public static (Tensor Leaf, Func<Tensor, Tensor> Prepare) MakeInput(Operand op, int seed, Values values)
    {
        var (data, view, prepare) = MakeLayout(op, seed, values);
        return (view(data), prepare);
    }

    /// <summary>
    /// The parts of an operand, so that the same layout can be rebuilt on any device and dtype: the float64
    /// data on the CPU, the view of it that is the leaf (a permutation or a stepped slice, giving
    /// non-contiguous strides), and the view the function should use (a broadcast).
    /// </summary>
    public static (Tensor Data, Func<Tensor, Tensor> View, Func<Tensor, Tensor> Prepare) MakeLayout(Operand op, int seed, Values values)
    {
        var shape = op.Shape;
        var gen = new Engine.Randomness.Generator((ulong)seed);
        int rank = shape.Length;
        switch (op.Strides)
        {
            case Strides.Permuted when rank >= 2:
            {
                // A base laid out in reversed dimension order, permuted back: same shape, transposed strides.
                var reversed = shape.Reverse().ToArray();
                var perm = Enumerable.Range(0, rank).Reverse().ToArray();
                return (Fill(reversed, values, gen), b => b.Permute(perm), x => x);
            }
            case Strides.Stepped when rank >= 1:
            {
                var wide = (int[])shape.Clone();
                wide[^1] = Math.Max(1, shape[^1] * 2);
                return (Fill(wide, values, gen), b => b.Slice(-1, 0, null, 2).Narrow(-1, 0, shape[^1]), x => x);
            }
            case Strides.Expanded when rank >= 1:
            {
                // Every other dimension of size > 1 becomes 1 in the leaf and is broadcast back.
                var small = shape.Select((d, i) => (i + seed) % 2 == 0 && d > 1 ? 1 : d).ToArray();
                return (Fill(small, values, gen), b => b, x => x.Expand(shape));
            }
            default:
                return (Fill(shape, values, gen), b => b, x => x);
        }
    }

    private static Tensor Fill(int[] shape, Values values, Engine.Randomness.Generator gen)
    {
        switch (values)
        {
            case Values.Positive:
            {
                using var u = Tensor.Rand(shape, DType.F64, generator: gen);
                return u.Affine(2, 0.5);
            }
            case Values.GridA or Values.GridB:
            {
                using var k = Tensor.RandInt(-20, 20, shape, DType.F64, generator: gen);
                return k.Affine(0.1, values == Values.GridA ? 0.03 : 0.07);
            }
            case Values.Distinct:
            {
                using var keys = Tensor.Rand(shape, DType.F64, generator: gen);
                var k = keys.ToArray<double>();
                var rank = new double[k.Length];
                var order = Enumerable.Range(0, k.Length).OrderBy(i => k[i]).ToArray();
                for (int r = 0; r < order.Length; r++) rank[order[r]] = 0.1 * r - 0.05 * k.Length + 0.03;
                return Tensor.FromArray(rank, shape);
            }
            default:
                return Tensor.Randn(shape, DType.F64, generator: gen);
        }
    }

    /// <summary>A check of one case: null when it passes, else a description of the failure.</summary>
    public delegate string? CaseCheck(Case c, Func<Tensor[], Case, Tensor> function, Func<int, Values>? values);

    [ThreadStatic] private static (CaseCheck Check, int Cases)? _override;

    /// <summary>
    /// Runs every property checked on this thread until the scope ends with <paramref name="check"/> instead of
    /// the gradient check, on <paramref name="cases"/> cases: the same operations, value domains and generated
    /// cases serve another property (the GPU-vs-CPU comparison, <c>Tests/Cuda/Backend</c>).
    /// </summary>
    public static IDisposable Override(CaseCheck check, int cases)
    {
        var previous = _override;
        _override = (check, cases);
        return new OverrideScope(previous);
    }

    /// <summary>Properties run under the current override on this thread.</summary>
    [ThreadStatic] public static int OverriddenRuns;

    private sealed class OverrideScope((CaseCheck, int)? previous) : IDisposable
    {
        public void Dispose() => _override = previous;
    }

    /// <summary>Checks one case; returns null when it passes, else a description of the failure.</summary>
    public static string? CheckCase(Case c, Func<Tensor[], Case, Tensor> function, Func<int, Values>? values = null, GradCheckOptions? options = null)
    {
        if (_override is { } o) return o.Check(c, function, values);
        using var scope = Tensor.Scope();
        var inputs = c.Operands.Select((o, i) => MakeInput(o, c.Seed + 7919 * i, values?.Invoke(i) ?? Values.Normal)).ToArray();
        var leaves = inputs.Select(p => p.Leaf).ToArray();
        var result = GradCheck.Check(xs => function(xs.Select((x, i) => inputs[i].Prepare(x)).ToArray(), c), leaves, options);
        return result.Passed ? null : $"{c}: {result}";
    }

    /// <summary>Runs the property over <paramref name="cases"/> generated cases and throws with the shrunk counterexample on failure.</summary>
    public static void Check(Arbitrary<Case> arbitrary, Func<Tensor[], Case, Tensor> function, Func<int, Values>? values = null, int cases = DefaultCases, GradCheckOptions? options = null)
    {
        if (_override is { } o) { cases = o.Cases; OverriddenRuns++; }
        var property = Prop.ForAll(arbitrary, c =>
        {
            var failure = CheckCase(c, function, values, options);
            return (failure is null).Label(failure ?? "ok");
        });
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(cases), property);
    }
}
