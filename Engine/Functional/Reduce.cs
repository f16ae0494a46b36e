using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine;

// Reductions. Sum, max and min run as backend kernels; mean, var, std and logsumexp are composed from
// them so that each has a single, readable definition and a backward that follows from it.
public sealed partial class Tensor
{
    /// <summary>Normalises and de-duplicates reduction axes; null or empty means every axis.</summary>
    private int[] ReductionAxes(string op, int[]? dims)
    {
        if (dims is null || dims.Length == 0) return Enumerable.Range(0, Rank).ToArray();
        // Checked before the 0-dim case below, so that a scalar rejects dims like [0, -1] and [1] as PyTorch does.
        var axes = Layout.NormalizeDims(dims, Rank, op, Layout.Shape);
        // A 0-dim tensor's one wrappable dim is not a real axis: reducing over it reduces over nothing.
        if (Rank == 0) return [];
        return axes.OrderBy(a => a).ToArray();
    }

    private int[] KeptShape(int[] axes)
    {
        var shape = Shape;
        foreach (var a in axes) shape[a] = 1;
        return shape;
    }

    private static int[] DropAxes(int[] shape, int[] axes) => shape.Where((_, i) => !axes.Contains(i)).ToArray();

    private Tensor ReduceRaw(ReduceKind kind, int[] axes, bool keepDim)
    {
        var y = Empty(KeptShape(axes), kind is ReduceKind.ArgMax or ReduceKind.ArgMin ? DType.I64 : DType, Device);
        Backend.Reduce(kind, this, axes, y);
        if (keepDim) return y;
        using (y) return y.ViewNoGrad(DropAxes(y.Layout.Shape, axes));
    }

    private Tensor ViewNoGrad(int[] shape) => View(new Layout(shape, Layout.ContiguousStrides(shape), Offset));

    /// <summary>Sum over <paramref name="dims"/> (all dimensions when null).</summary>
    public Tensor Sum(int[]? dims = null, bool keepDim = false)
    {
        CheckFloat("sum");
        long t0 = Stopwatch.GetTimestamp();
        var axes = ReductionAxes("sum", dims);
        var y = ReduceRaw(ReduceKind.Sum, axes, keepDim);
        if (Tape.ShouldRecord(this))
        {
            var from = Layout.Shape;
            var kept = KeptShape(axes);
            Tape.Record("sum", [this], [y], g =>
            {
                // A broadcast view, not a copy: the consumer reads it through its zero strides.
                using var k = g[0].Reshape(kept);
                return [k.Expand(from)];
            }, null, t0);
        }
        return y;
    }

    /// <summary>Sum over one dimension.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Mean over <paramref name="dims"/> (all dimensions when null).</summary>
    public Tensor Mean(int[]? dims = null, bool keepDim = false)
    {
        CheckFloat("mean");
        var axes = ReductionAxes("mean", dims);
        long count = 1;
        foreach (var a in axes) count *= Layout.Shape[a];
        using var s = Sum(axes, keepDim);
        return s.Mul(1.0 / count);
    }

    /// <summary>Mean over one dimension.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    private Tensor Extremum(ReduceKind kind, string op, int[]? dims, bool keepDim)
    {
        CheckFloat(op);
        var axes = ReductionAxes(op, dims);
        foreach (var a in axes)
            if (Layout.Shape[a] == 0)
                throw new ArgumentException($"{op}: expected reduction dim {a} to have non-zero size (shape {Shp(this)}).");
        var y = ReduceRaw(kind, axes, keepDim);
        if (Tape.ShouldRecord(this))
        {
            var sx = Tape.Save(this);
            var sy = Tape.Save(y);
            var kept = KeptShape(axes);
            Tape.Record(op, [this], [y], g =>
            {
                // The gradient goes to every position holding the extreme, split evenly among ties.
                using var yk = sy.Value.Reshape(kept);
                using var hit = sx.Value.Eq(yk);
                using var mask = hit.ToDType(g[0].DType);
                using var count = mask.Sum(axes, keepDim: true);
                using var gk = g[0].Reshape(kept);
                using var share = gk.Div(count);
                return [mask.Mul(share)];
            }, [sx, sy]);
        }
        return y;
    }

    /// <summary>Largest value over <paramref name="dims"/> (PyTorch's <c>amax</c>); ties share the gradient.</summary>
    public Tensor Max(int[]? dims = null, bool keepDim = false) => Extremum(ReduceKind.Max, "max", dims, keepDim);

    /// <summary>Largest value over one dimension.</summary>
    public Tensor Max(int dim, bool keepDim = false) => Max([dim], keepDim);

    /// <summary>Smallest value over <paramref name="dims"/> (PyTorch's <c>amin</c>); ties share the gradient.</summary>
    public Tensor Min(int[]? dims = null, bool keepDim = false) => Extremum(ReduceKind.Min, "min", dims, keepDim);

    /// <summary>Smallest value over one dimension.</summary>
    public Tensor Min(int dim, bool keepDim = false) => Min([dim], keepDim);

    private Tensor ArgExtremum(ReduceKind kind, string op, int? dim, bool keepDim)
    {
        CheckFloat(op);
        if (dim is null)
        {
            using var flat = Reshape(-1);
            var index = flat.ArgExtremum(kind, op, 0, false);
            if (!keepDim || Rank == 0) return index;
            // With keepdim and no dim, PyTorch keeps the input's rank with every size 1 (shape [1, 1] for a matrix).
            using (index) return index.ViewNoGrad(Enumerable.Repeat(1, Rank).ToArray());
        }
        int d = Layout.NormalizeDim(dim.Value, Rank, op, Layout.Shape);
        if (Rank > 0 && Layout.Shape[d] == 0) throw new ArgumentException($"{op}: expected reduction dim {d} to have non-zero size (shape {Shp(this)}).");
        return ReduceRaw(kind, Rank == 0 ? [] : [d], keepDim);
    }

    /// <summary>
    /// Index of the first largest value along <paramref name="dim"/> (of the flattened tensor when null), as I64.
    /// With <paramref name="keepDim"/> and no dim the result keeps this tensor's rank with every size 1, as PyTorch's.
    /// </summary>
    public Tensor ArgMax(int? dim = null, bool keepDim = false) => ArgExtremum(ReduceKind.ArgMax, "argmax", dim, keepDim);

    /// <summary>Index of the first smallest value along <paramref name="dim"/> (of the flattened tensor when null), as I64; shapes as <see cref="ArgMax"/>.</summary>
    public Tensor ArgMin(int? dim = null, bool keepDim = false) => ArgExtremum(ReduceKind.ArgMin, "argmin", dim, keepDim);

    /// <summary>
    /// Variance over <paramref name="dims"/> with Bessel's <paramref name="correction"/> (1: unbiased, as
    /// PyTorch's default; 0: population). Computed in two passes, around the mean, for accuracy.
    /// </summary>
    public Tensor Var(int[]? dims = null, int correction = 1, bool keepDim = false)
    {
        CheckFloat("var");
        var axes = ReductionAxes("var", dims);
        long count = 1;
        foreach (var a in axes) count *= Layout.Shape[a];
        using var mean = Mean(axes, keepDim: true);
        using var centered = Sub(mean);
        using var sq = centered.Mul(centered);
        using var ss = sq.Sum(axes, keepDim);
        return ss.Mul(1.0 / Math.Max(0, count - correction));
    }

    /// <summary>Variance over one dimension.</summary>
    public Tensor Var(int dim, int correction = 1, bool keepDim = false) => Var([dim], correction, keepDim);

    /// <summary>
    /// Standard deviation: the square root of <see cref="Var(int[], int, bool)"/>. Where it is 0 (a constant
    /// slice) the gradient is 0, as in PyTorch, rather than the NaN of sqrt's derivative there.
    /// </summary>
    public Tensor Std(int[]? dims = null, int correction = 1, bool keepDim = false)
    {
        // Checked here as well as in Var so that a bad dtype or dim list is reported as std's error.
        CheckFloat("std");
        ReductionAxes("std", dims);
        using var v = Var(dims, correction, keepDim);
        return v.Unary<StdSqrtOp>();
    }

    /// <summary>Standard deviation over one dimension.</summary>
    public Tensor Std(int dim, int correction = 1, bool keepDim = false) => Std([dim], correction, keepDim);

    /// <summary>log(sum(exp(x))) over <paramref name="dims"/>, stable for large inputs (the maximum is taken out first).</summary>
    public Tensor LogSumExp(int[] dims, bool keepDim = false)
    {
        CheckFloat("logsumexp");
        var axes = ReductionAxes("logsumexp", dims);
        Tensor m;
        using (Tape.NoGrad())
        {
            using var raw = ReduceRaw(ReduceKind.Max, axes, keepDim: true);
            // An all -inf (or inf) slice would give inf - inf; shift by 0 there instead.
            using var finite = raw.Abs().Lt(double.PositiveInfinity);
            using var zero = ScalarOf(0);
            m = Where(finite, raw, zero);
        }
        using (m)
        {
            using var shifted = Sub(m);
            using var e = shifted.Exp();
            using var s = e.Sum(axes, keepDim: true);
            using var l = s.Log();
            using var r = l.Add(m);
            return keepDim ? r.View(r.Layout.Shape) : r.Reshape(DropAxes(r.Layout.Shape, axes));
        }
    }

    /// <summary>logsumexp over one dimension.</summary>
    public Tensor LogSumExp(int dim, bool keepDim = false) => LogSumExp([dim], keepDim);
}
