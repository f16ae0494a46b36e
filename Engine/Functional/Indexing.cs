using Engine.Autograd;

namespace Engine;

// Indexing with I64 index tensors. Each op's backward is its adjoint: index_select ↔ index_add,
// gather ↔ scatter_add.
public sealed partial class Tensor
{
    private static void CheckIndexTensor(string op, Tensor index, Tensor self)
    {
        index.ThrowIfDisposed(op);
        if (index.DType != DType.I64)
            throw new ArgumentException($"{op}: expected an int64 index tensor, got {index.DType.TorchName()} (shape {Shp(index)}).");
        if (index.Device != self.Device)
            throw new ArgumentException($"{op}: expected the index on {self.Device}, got {index.Device} (input {Shp(self)}, index {Shp(index)}).");
    }

    /// <summary>The entries of <paramref name="index"/> (1-D, I64) taken along <paramref name="dim"/>.</summary>
    public Tensor IndexSelect(int dim, Tensor index)
    {
        CheckFloat("index_select");
        CheckIndexTensor("index_select", index, this);
        if (index.Rank > 1) throw new ArgumentException($"index_select: index must be 0-D or 1-D, got shape {Shp(index)}.");
        if (Rank == 0 && index.NumEl != 1)
            throw new ArgumentException($"index_select: an index into a 0-dim tensor must hold exactly one value, got {index.NumEl} (shape {Shp(index)}).");
        int d = Layout.NormalizeDim(dim, Rank, "index_select", Layout.Shape); // for a 0-dim tensor, -1 and 0 only
        var shape = Rank == 0 ? [] : Shape;
        if (Rank > 0) shape[d] = (int)index.NumEl;
        var y = Empty(shape, DType, Device);
        Tensor ic;
        using (Tape.NoGrad())
        {
            using var xc = ContiguousHandle();
            ic = index.ContiguousHandle();
            using var x2 = Rank == 0 ? xc.Reshape(1) : xc.Alias();
            Backend.IndexSelect(x2, d, ic, y);
        }
        using var icOwned = ic;
        if (Tape.ShouldRecord(this))
        {
            var si = Tape.Save(ic);
            var from = Layout.Shape;
            Tape.Record("index_select", [this], [y], g =>
            {
                var gx = Zeros(from, g[0].DType, g[0].Device);
                using var gc = g[0].ContiguousHandle();
                gx.Backend.IndexAdd(gx, d, si.Value, gc);
                return [gx];
            }, [si]);
        }
        return y;
    }

    private void CheckGatherShapes(string op, int d, Tensor index, Tensor? src = null)
    {
        if (index.Rank != Rank)
            throw new ArgumentException($"{op}: index tensor must have the same number of dimensions as the input; got index {Shp(index)} and input {Shp(this)}.");
        for (int k = 0; k < Rank; k++)
        {
            if (k != d && index.Layout.Shape[k] > Layout.Shape[k])
                throw new ArgumentException($"{op}: size of index {Shp(index)} must not exceed the input {Shp(this)} at dimension {k} (except dim {d}).");
            if (src is not null && index.Layout.Shape[k] > src.Layout.Shape[k])
                throw new ArgumentException($"{op}: size of index {Shp(index)} must not exceed src {Shp(src)} at dimension {k}.");
        }
    }

    /// <summary>out[i][j] = x[i][index[i][j]] for dim 1, and likewise for any dim (PyTorch's <c>gather</c>).</summary>
    public Tensor Gather(int dim, Tensor index)
    {
        CheckFloat("gather");
        CheckIndexTensor("gather", index, this);
        int d = Layout.NormalizeDim(dim, Rank, "gather", Layout.Shape);
        CheckGatherShapes("gather", d, index);
        var y = Empty(index.Layout.Shape, DType, Device);
        Tensor ic;
        using (Tape.NoGrad())
        {
            using var xc = ContiguousHandle();
            ic = index.ContiguousHandle();
            Backend.Gather(xc, d, ic, y);
        }
        using var icOwned = ic;
        if (Tape.ShouldRecord(this))
        {
            var si = Tape.Save(ic);
            var from = Layout.Shape;
            Tape.Record("gather", [this], [y], g =>
            {
                var gx = Zeros(from, g[0].DType, g[0].Device);
                using var gc = g[0].ContiguousHandle();
                gx.Backend.ScatterAdd(gx, d, si.Value, gc);
                return [gx];
            }, [si]);
        }
        return y;
    }

    /// <summary>
    /// Out of place <c>scatter_add</c>: a copy of this tensor with src[i][j] added at [i][index[i][j]] (dim 1),
    /// using the leading part of <paramref name="src"/> that matches the index shape.
    /// </summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src)
    {
        CheckFloat("scatter_add");
        CheckIndexTensor("scatter_add", index, this);
        CheckOperands("scatter_add", this, src);
        int d = Layout.NormalizeDim(dim, Rank, "scatter_add", Layout.Shape);
        if (src.Rank != Rank) throw new ArgumentException($"scatter_add: src {Shp(src)} must have the same number of dimensions as the input {Shp(this)}.");
        CheckGatherShapes("scatter_add", d, index, src);
        Tensor y;
        using (Tape.NoGrad())
        {
            y = Clone();
            using var window = SliceTo(src, index.Layout.Shape);
            using var sc = window.ContiguousHandle();
            using var ic = index.ContiguousHandle();
            y.Backend.ScatterAdd(y, d, ic, sc);
        }
        if (Tape.ShouldRecord(this, src))
        {
            var si = Tape.Save(index);
            var srcShape = src.Layout.Shape;
            bool needSelf = RequiresGrad, needSrc = src.RequiresGrad;
            Tape.Record("scatter_add", [this, src], [y], g =>
            {
                Tensor? gsrc = null;
                if (needSrc)
                {
                    using var picked = g[0].Gather(d, si.Value);
                    gsrc = Zeros(srcShape, g[0].DType, g[0].Device);
                    using var window = SliceTo(gsrc, si.Value.Layout.Shape);
                    window.CopyFrom(picked);
                }
                return [needSelf ? g[0] : null, gsrc];
            }, [si]);
        }
        return y;
    }

    /// <summary>The leading window of <paramref name="t"/> with the given shape.</summary>
    private static Tensor SliceTo(Tensor t, int[] shape)
    {
        var v = t.Alias();
        for (int k = 0; k < shape.Length; k++)
        {
            if (v.Layout.Shape[k] == shape[k]) continue;
            var n = v.Narrow(k, 0, shape[k]);
            v.Dispose();
            v = n;
        }
        return v;
    }
}
