using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Core;

/// <summary>
/// Dimension arguments as PyTorch wraps them: a tensor of rank r takes dims -r..r-1, a 0-dim tensor counts as
/// having one dim (so -1 and 0), and a list of dims may not name the same dim twice.
/// </summary>
public class DimArgumentTests
{
    private static void ContainsAll(string message, params string[] parts)
    {
        foreach (var p in parts) Assert.True(message.Contains(p), $"expected \"{p}\" in: {message}");
    }

    /// <summary>Ops that take one existing dim of their input; each is run with that dim.</summary>
    private static readonly (string Op, Func<Tensor, int, Tensor> Run)[] OneDimOps =
    [
        ("sum", (t, d) => t.Sum(d)),
        ("mean", (t, d) => t.Mean(d)),
        ("max", (t, d) => t.Max(d)),
        ("min", (t, d) => t.Min(d)),
        ("var", (t, d) => t.Var(d)),
        ("std", (t, d) => t.Std(d)),
        ("logsumexp", (t, d) => t.LogSumExp(d)),
        ("argmax", (t, d) => t.ArgMax(d)),
        ("argmin", (t, d) => t.ArgMin(d, keepDim: true)),
        ("squeeze", (t, d) => t.Squeeze(d)),
        ("transpose", (t, d) => t.Transpose(d, 0)),
        ("transpose", (t, d) => t.Transpose(-1, d)),
        ("flatten", (t, d) => t.Flatten(d)),
        ("flatten", (t, d) => t.Flatten(0, d)),
        ("softmax", (t, d) => F.Softmax(t, d)),
        ("log_softmax", (t, d) => F.LogSoftmax(t, d)),
        ("index_select", (t, d) => t.IndexSelect(d, Tensor.Zeros([1], DType.I64))),
        ("gather", (t, d) => t.Gather(d, Tensor.Zeros(t.Shape, DType.I64))),
        ("scatter_add", (t, d) => t.ScatterAdd(d, Tensor.Zeros(t.Shape, DType.I64), t)),
    ];

    /// <summary>Ops that insert a dim, so rank + 1 positions are valid.</summary>
    private static readonly (string Op, Func<Tensor, int, Tensor> Run)[] NewDimOps =
    [
        ("unsqueeze", (t, d) => t.Unsqueeze(d)),
        ("stack", (t, d) => Tensor.Stack([t, t], d)),
    ];

    private static void ExpectRange(string op, Func<Tensor, int, Tensor> run, Tensor x, int dim, int positions)
    {
        int r = Math.Max(positions, 1);
        bool valid = dim >= -r && dim < r;
        if (valid)
        {
            run(x, dim);
            return;
        }
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => run(x, dim));
        ContainsAll(e.Message, op, "dimension out of range", $"expected to be in range of [{-r}, {r - 1}], but got {dim}", Layout.Format(x.Shape));
    }

    [Fact]
    public void EveryDimArgumentIsWrappedAsPyTorchDoesIncludingOnZeroDimTensors()
    {
        var gen = from shape in ShapeGen(0, 4, 3)
                  from dim in Gen.Choose(-shape.Length - 3, shape.Length + 2)
                  select (shape, dim);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, dim) = c;
            var x = Tensor.FromArray(RandomDoubles(new System.Random(dim + 17), Count(shape)), shape);
            foreach (var (op, run) in OneDimOps) ExpectRange(op, run, x, dim, shape.Length);
            foreach (var (op, run) in NewDimOps) ExpectRange(op, run, x, dim, shape.Length + 1);
            return true;
        }, 200);
    }

    [Fact]
    public void ZeroDimTensorsRejectDimsOtherThanMinusOneAndZero()
    {
        using var scope = Tensor.Scope();
        var s = Tensor.Scalar(2.5, DType.F64);
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => s.Squeeze(1)).Message,
            "squeeze", "dimension out of range (expected to be in range of [-1, 0], but got 1)", "[]");
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => s.Transpose(-1, 1)).Message, "transpose", "[-1, 0]", "but got 1");
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => s.Flatten(0, 5)).Message, "flatten", "[-1, 0]", "but got 5");
        // The valid dims still work and keep PyTorch's shapes: squeeze and transpose give a 0-dim tensor, flatten a 1-D one.
        Assert.Equal(0, s.Squeeze(0).Rank);
        Assert.Equal(0, s.Squeeze(-1).Rank);
        Assert.Equal(2.5, s.Transpose(-1, 0).Item());
        Assert.Equal(new[] { 1 }, s.Flatten(0, -1).Shape);
        Assert.Equal(new[] { 1 }, s.Flatten(-1, 0).Shape);
        // size(dim) has no dim to report on a 0-dim tensor at all (torch: "dimension specified as 0 but tensor has no dimensions").
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => s.Size(0)).Message, "size", "no dimensions", "[]");
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => s.Size(-1)).Message, "size", "no dimensions");
    }

    private static readonly (string Op, Func<Tensor, int[], Tensor> Run)[] MultiDimReductions =
    [
        ("sum", (t, d) => t.Sum(d)),
        ("mean", (t, d) => t.Mean(d)),
        ("max", (t, d) => t.Max(d)),
        ("min", (t, d) => t.Min(d, keepDim: true)),
        ("var", (t, d) => t.Var(d)),
        ("std", (t, d) => t.Std(d)),
        ("logsumexp", (t, d) => t.LogSumExp(d)),
    ];

    [Fact]
    public void ScalarReductionsOverTheSameDimTwiceAreRejected()
    {
        using var scope = Tensor.Scope();
        var s = Tensor.Scalar(2.0, DType.F64);
        foreach (var (op, run) in MultiDimReductions)
        {
            var e = Assert.Throws<ArgumentException>(() => run(s, [0, -1]));
            ContainsAll(e.Message, op, "dim 0 appears multiple times in the list of dims", "[]");
            Assert.Equal(0, run(s, [-1]).Rank);
        }
    }

    [Fact]
    public void EveryMultiDimReductionRejectsADimNamedTwice()
    {
        // A list holding some distinct dims plus one of them again (perhaps as its negative twin), in any order.
        var gen = from shape in ShapeGen(0, 4, 3)
                  from seed in Gen.Choose(0, 1 << 30)
                  select (shape, seed);
        Check(gen, c =>
        {
            using var scope = Tensor.Scope();
            var (shape, seed) = c;
            var rng = new System.Random(seed);
            int r = Math.Max(shape.Length, 1);
            var distinct = Enumerable.Range(0, r).Where(_ => rng.Next(2) == 0).ToList();
            int twice = rng.Next(r);
            if (!distinct.Contains(twice)) distinct.Add(twice);
            var dims = distinct.Append(twice).Select(a => rng.Next(2) == 0 ? a : a - r).OrderBy(_ => rng.Next()).ToArray();
            var x = Tensor.FromArray(RandomDoubles(rng, Count(shape)), shape);
            foreach (var (op, run) in MultiDimReductions)
            {
                var e = Assert.Throws<ArgumentException>(() => run(x, dims));
                ContainsAll(e.Message, op, $"dim {twice} appears multiple times in the list of dims", Layout.Format(shape));
            }
            return true;
        }, 100);
    }
}
