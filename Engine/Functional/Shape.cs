using Engine.Autograd;

namespace Engine;

// Views and shape changes. A view is a new layout over the same storage; its backward maps the gradient
// back to the input's shape (the inverse permutation, a zero-filled tensor with the slice written in, ...).
public sealed partial class Tensor
{
    private Tensor View(Layout layout) => new(Storage, layout, addRef: true);

    private static string Shp(Tensor t) => Layout.Format(t.Layout.Shape);

    /// <summary>Throws for disposed and 0-dim tensors, which the indexing views cannot take apart.</summary>
    private void CheckHasDims(string op)
    {
        ThrowIfDisposed(op);
        if (Rank == 0) throw new ArgumentException($"{op}: expected a tensor with at least one dimension, got a 0-dim tensor.");
    }

    /// <summary>Resolves one -1 in a requested shape against <paramref name="numel"/>.</summary>
    private static int[] InferShape(string op, int[] shape, long numel, int[] from)
    {
        var result = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be inferred (shape {Layout.Format(shape)}).");
                infer = i;
            }
            else if (result[i] < 0) throw new ArgumentException($"{op}: invalid shape dimension {result[i]} in {Layout.Format(shape)}.");
            else known *= result[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new ArgumentException($"{op}: shape {Layout.Format(shape)} is invalid for input of size {numel} (shape {Layout.Format(from)}).");
            result[infer] = (int)(numel / known);
        }
        else if (known != numel)
            throw new ArgumentException($"{op}: shape {Layout.Format(shape)} is invalid for input of size {numel} (shape {Layout.Format(from)}).");
        return result;
    }

    /// <summary>
    /// Strides that read this layout's elements in row-major order under <paramref name="shape"/>
    /// without copying, or null when no such strides exist (PyTorch's <c>computeStride</c>).
    /// </summary>
    private long[]? ViewStrides(int[] shape)
    {
        if (NumEl == 0 || Rank == 0 || shape.Length == 0) return Layout.ContiguousStrides(shape);
        var oldShape = Layout.Shape; var oldStrides = Layout.Strides;
        var newStrides = new long[shape.Length];
        int viewD = shape.Length - 1;
        long chunkBase = oldStrides[^1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = oldShape.Length - 1; d >= 0; d--)
        {
            tensorNumel *= oldShape[d];
            if (d == 0 || (oldShape[d - 1] != 1 && oldStrides[d - 1] != tensorNumel * chunkBase))
            {
                while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] == 1))
                {
                    newStrides[viewD] = viewNumel * chunkBase;
                    viewNumel *= shape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0)
                {
                    chunkBase = oldStrides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? newStrides : null;
    }

    /// <summary>The same data with another shape, never copying; throws when the strides do not allow it (use <see cref="Reshape"/>).</summary>
    public Tensor View(params int[] shape)
    {
        ThrowIfDisposed("view");
        var target = InferShape("view", shape, NumEl, Layout.Shape);
        var strides = ViewStrides(target) ?? throw new InvalidOperationException(
            $"view: size {Layout.Format(target)} is not compatible with input tensor's size {Shp(this)} and strides {Layout.Format(Layout.Strides.Select(s => (int)s).ToArray())}; use Reshape instead.");
        var y = View(new Layout(target, strides, Offset));
        if (Tape.ShouldRecord(this))
        {
            var from = Layout.Shape;
            Tape.Record("view", [this], [y], g => [g[0].Reshape(from)]);
        }
        return y;
    }

    /// <summary>The same data with another shape: a view when the strides allow it, otherwise a copy.</summary>
    public Tensor Reshape(params int[] shape)
    {
        ThrowIfDisposed("reshape");
        var target = InferShape("reshape", shape, NumEl, Layout.Shape);
        if (ViewStrides(target) is not null) return View(target);
        using var c = Clone();
        var v = c.View(target);
        return v;
    }

    /// <summary>Flattens dimensions <paramref name="startDim"/>..<paramref name="endDim"/> into one.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        // The dims are checked first, also for a 0-dim tensor: it takes dims -1 and 0 only.
        int s = Layout.NormalizeDim(startDim, Rank, "flatten", Layout.Shape), e = Layout.NormalizeDim(endDim, Rank, "flatten", Layout.Shape);
        if (Rank == 0) return Reshape(1); // torch.flatten of a 0-dim tensor is 1-D
        if (s > e) throw new ArgumentException($"flatten: start_dim {startDim} cannot come after end_dim {endDim} for shape {Shp(this)}.");
        var shape = new List<int>();
        for (int d = 0; d < s; d++) shape.Add(Layout.Shape[d]);
        shape.Add((int)Layout.Count(Layout.Shape.AsSpan(s, e - s + 1)));
        for (int d = e + 1; d < Rank; d++) shape.Add(Layout.Shape[d]);
        return Reshape(shape.ToArray());
    }

    /// <summary>Reorders the dimensions: result dimension i is input dimension <paramref name="dims"/>[i].</summary>
    public Tensor Permute(params int[] dims)
    {
        ThrowIfDisposed("permute");
        if (dims.Length != Rank)
            throw new ArgumentException($"permute: number of dims don't match: got {dims.Length} dims for a tensor of shape {Shp(this)}.");
        var perm = dims.Select(d => Layout.NormalizeDim(d, Rank, "permute", Layout.Shape)).ToArray();
        if (perm.Distinct().Count() != Rank) throw new ArgumentException($"permute: repeated dim in ({string.Join(", ", dims)}).");
        var y = View(new Layout(perm.Select(d => Layout.Shape[d]).ToArray(), perm.Select(d => Layout.Strides[d]).ToArray(), Offset));
        if (Tape.ShouldRecord(this))
        {
            var inverse = new int[Rank];
            for (int i = 0; i < Rank; i++) inverse[perm[i]] = i;
            Tape.Record("permute", [this], [y], g => [g[0].Permute(inverse)]);
        }
        return y;
    }

    /// <summary>Swaps two dimensions.</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = Layout.NormalizeDim(dim0, Rank, "transpose", Layout.Shape), b = Layout.NormalizeDim(dim1, Rank, "transpose", Layout.Shape);
        if (Rank == 0) return Permute(); // both dims were the one wrappable dim of a 0-dim tensor
        var perm = Enumerable.Range(0, Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(perm);
    }

    /// <summary>The transpose of a matrix (the last two dimensions swapped; rank 0 and 1 unchanged).</summary>
    public Tensor T => Rank < 2 ? Permute(Enumerable.Range(0, Rank).ToArray()) : Transpose(-2, -1);

    /// <summary>Elements start, start+step, ... below end along <paramref name="dim"/>; bounds are clamped as in Python slicing.</summary>
    public Tensor Slice(int dim, int? start = null, int? end = null, int step = 1)
    {
        ThrowIfDisposed("slice");
        if (Rank == 0) throw new ArgumentException("slice: cannot slice a 0-dim tensor.");
        if (step <= 0) throw new ArgumentException($"slice: step must be positive, got {step}.");
        int d = Layout.NormalizeDim(dim, Rank, "slice", Layout.Shape);
        int size = Layout.Shape[d];
        int s = start ?? 0, e = end ?? size;
        if (s < 0) s += size;
        if (e < 0) e += size;
        s = Math.Clamp(s, 0, size);
        e = Math.Clamp(e, s, size);
        int len = (e - s + step - 1) / step;
        var shape = Shape; var strides = Strides;
        shape[d] = len;
        strides[d] *= step;
        var y = View(new Layout(shape, strides, Offset + s * Layout.Strides[d]));
        if (Tape.ShouldRecord(this))
        {
            var from = Layout.Shape;
            Tape.Record("slice", [this], [y], g =>
            {
                var gx = Zeros(from, g[0].DType, g[0].Device);
                using var window = gx.Slice(d, s, e, step);
                window.CopyFrom(g[0]);
                return [gx];
            });
        }
        return y;
    }

    /// <summary>The <paramref name="length"/> elements from <paramref name="start"/> along <paramref name="dim"/> (PyTorch's <c>narrow</c>).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        CheckHasDims("narrow");
        int d = Layout.NormalizeDim(dim, Rank, "narrow", Layout.Shape);
        int size = Layout.Shape[d];
        if (start < 0) start += size;
        if (start < 0 || length < 0 || start + length > size)
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) of dim {d} in shape {Shp(this)}.");
        return Slice(d, start, start + length);
    }

    /// <summary>The slice at <paramref name="index"/> along <paramref name="dim"/>, with that dimension removed.</summary>
    public Tensor Select(int dim, int index)
    {
        CheckHasDims("select");
        int d = Layout.NormalizeDim(dim, Rank, "select", Layout.Shape);
        int size = Layout.Shape[d];
        if (index < -size || index >= size)
            throw new IndexOutOfRangeException($"select: index {index} out of range for tensor of size {Shp(this)} at dimension {d}.");
        if (index < 0) index += size;
        using var n = Narrow(d, index, 1);
        return n.Squeeze(d);
    }

    /// <summary>Removes dimension <paramref name="dim"/> if its size is 1, or every size-1 dimension when null.</summary>
    public Tensor Squeeze(int? dim = null)
    {
        ThrowIfDisposed("squeeze");
        var keep = new List<int>();
        // Checked for a 0-dim tensor too (dims -1 and 0 only), where there is then nothing to remove.
        int? only = dim is { } dd ? Layout.NormalizeDim(dd, Rank, "squeeze", Layout.Shape) : null;
        for (int d = 0; d < Rank; d++)
            if (Layout.Shape[d] != 1 || (only is { } o && o != d)) keep.Add(d);
        var y = View(new Layout(keep.Select(d => Layout.Shape[d]).ToArray(), keep.Select(d => Layout.Strides[d]).ToArray(), Offset));
        if (Tape.ShouldRecord(this))
        {
            var from = Layout.Shape;
            Tape.Record("squeeze", [this], [y], g => [g[0].Reshape(from)]);
        }
        return y;
    }

    /// <summary>Inserts a size-1 dimension at <paramref name="dim"/> (which may be Rank).</summary>
    public Tensor Unsqueeze(int dim)
    {
        ThrowIfDisposed("unsqueeze");
        int d = Layout.NormalizeDim(dim, Rank + 1, "unsqueeze", Layout.Shape);
        var shape = Layout.Shape.ToList(); var strides = Layout.Strides.ToList();
        long stride = d < Rank ? Layout.Strides[d] * Layout.Shape[d] : 1;
        shape.Insert(d, 1);
        strides.Insert(d, stride);
        var y = View(new Layout(shape.ToArray(), strides.ToArray(), Offset));
        if (Tape.ShouldRecord(this))
        {
            Tape.Record("unsqueeze", [this], [y], g => [g[0].Squeeze(d)]);
        }
        return y;
    }

    /// <summary>
    /// A view with size-1 dimensions repeated to <paramref name="shape"/> (stride 0, no copy); -1 keeps a size.
    /// The backward sums over the repeated dimensions.
    /// </summary>
    public Tensor Expand(params int[] shape)
    {
        ThrowIfDisposed("expand");
        if (shape.Length < Rank)
            throw new ArgumentException($"expand: the number of sizes provided ({shape.Length}) must be greater or equal to the number of dimensions in the tensor ({Rank}); shape {Shp(this)}.");
        var target = (int[])shape.Clone();
        int lead = shape.Length - Rank;
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < lead)
            {
                if (target[i] < 0) throw new ArgumentException($"expand: -1 is not allowed in a new leading dimension ({Layout.Format(shape)}).");
                continue;
            }
            int have = Layout.Shape[i - lead];
            if (target[i] < -1)
                throw new ArgumentException($"expand: size {target[i]} at dimension {i} is negative (-1 keeps the tensor's size); target {Layout.Format(shape)}, tensor {Shp(this)}.");
            if (target[i] == -1) target[i] = have;
            else if (have != 1 && have != target[i])
                throw new ArgumentException($"expand: the expanded size of the tensor ({target[i]}) must match the existing size ({have}) at non-singleton dimension {i}; target {Layout.Format(shape)}, tensor {Shp(this)}.");
        }
        Layout.Count(target, "expand");
        var y = View(new Layout(target, Layout.BroadcastStrides(target), Offset));
        if (Tape.ShouldRecord(this))
        {
            var from = Layout.Shape;
            Tape.Record("expand", [this], [y], g => [g[0].SumTo(from)]);
        }
        return y;
    }

    /// <summary>Like <see cref="Expand"/> but named after NumPy's broadcast_to.</summary>
    public Tensor BroadcastTo(params int[] shape) => Expand(shape);

    /// <summary>Sums a gradient of a broadcast result back down to <paramref name="shape"/> (the inverse of broadcasting).</summary>
    public Tensor SumTo(int[] shape)
    {
        if (Layout.Shape.AsSpan().SequenceEqual(shape)) return View(shape);
        int lead = Rank - shape.Length;
        if (lead < 0) throw new ArgumentException($"sum_to: cannot reduce shape {Shp(this)} to the larger rank shape {Layout.Format(shape)}.");
        var axes = new List<int>();
        for (int d = 0; d < Rank; d++)
            if (d < lead || (shape[d - lead] == 1 && Layout.Shape[d] != 1)) axes.Add(d);
        using var summed = Sum(axes.ToArray(), keepDim: true);
        return summed.Reshape(shape);
    }

    /// <summary>Joins tensors along an existing dimension (PyTorch's <c>cat</c>).</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("cat: expected a non-empty list of tensors.");
        var first = tensors[0];
        int rank = first.Rank;
        if (rank == 0) throw new ArgumentException("cat: zero-dimensional tensors cannot be concatenated.");
        int d = Layout.NormalizeDim(dim, rank, "cat", first.Layout.Shape);
        int total = 0;
        foreach (var t in tensors)
        {
            t.ThrowIfDisposed("cat");
            if (t.Rank != rank || t.DType != first.DType || t.Device != first.Device)
                throw new ArgumentException($"cat: tensors must have the same rank, dtype and device; got {Shp(first)} ({first.DType.TorchName()}, {first.Device}) and {Shp(t)} ({t.DType.TorchName()}, {t.Device}).");
            for (int k = 0; k < rank; k++)
                if (k != d && t.Layout.Shape[k] != first.Layout.Shape[k])
                    throw new ArgumentException($"cat: sizes of tensors must match except in dimension {d}; expected size {first.Layout.Shape[k]} but got size {t.Layout.Shape[k]} for tensor {Shp(t)} at dimension {k}.");
            total += t.Layout.Shape[d];
        }
        var shape = first.Shape;
        shape[d] = total;
        var y = Empty(shape, first.DType, first.Device);
        int at = 0;
        var sizes = new int[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            sizes[i] = tensors[i].Layout.Shape[d];
            using var window = y.Narrow(d, at, sizes[i]);
            y.Backend.Copy(tensors[i], window);
            at += sizes[i];
        }
        var inputs = tensors.ToArray();
        if (Tape.ShouldRecord(inputs))
        {
            Tape.Record("cat", inputs, [y], g =>
            {
                var grads = new Tensor?[sizes.Length];
                int pos = 0;
                for (int i = 0; i < sizes.Length; i++)
                {
                    grads[i] = g[0].Narrow(d, pos, sizes[i]);
                    pos += sizes[i];
                }
                return grads;
            });
        }
        return y;
    }

    /// <summary>Joins tensors of equal shape along a new dimension.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("stack: expected a non-empty list of tensors.");
        foreach (var t in tensors)
            if (!t.Layout.Shape.AsSpan().SequenceEqual(tensors[0].Layout.Shape))
                throw new ArgumentException($"stack: expects each tensor to be equal size, but got {Shp(tensors[0])} and {Shp(t)}.");
        int d = Layout.NormalizeDim(dim, tensors[0].Rank + 1, "stack", tensors[0].Layout.Shape);
        var parts = tensors.Select(t => t.Unsqueeze(d)).ToArray();
        try { return Cat(parts, d); }
        finally { foreach (var p in parts) p.Dispose(); }
    }

    /// <summary>Splits into pieces of <paramref name="splitSize"/> along <paramref name="dim"/> (the last may be smaller).</summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        CheckHasDims("split");
        if (splitSize <= 0) throw new ArgumentException($"split: split_size must be positive, got {splitSize}.");
        int d = Layout.NormalizeDim(dim, Rank, "split", Layout.Shape);
        int size = Layout.Shape[d];
        var sizes = new List<int>();
        for (int at = 0; at < size; at += splitSize) sizes.Add(Math.Min(splitSize, size - at));
        if (sizes.Count == 0) sizes.Add(0);
        return Split(sizes.ToArray(), d);
    }

    /// <summary>Splits into pieces of the given sizes along <paramref name="dim"/>; they must add up to the dimension.</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        CheckHasDims("split");
        int d = Layout.NormalizeDim(dim, Rank, "split", Layout.Shape);
        if (sizes.Sum() != Layout.Shape[d] || sizes.Any(s => s < 0))
            throw new ArgumentException($"split: split sizes ({string.Join(", ", sizes)}) must be non-negative and sum to the size of dimension {d} ({Layout.Shape[d]}) of {Shp(this)}.");
        var result = new Tensor[sizes.Length];
        int at = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            result[i] = Narrow(d, at, sizes[i]);
            at += sizes[i];
        }
        return result;
    }

    /// <summary>Splits into <paramref name="chunks"/> pieces of equal size (the last may be smaller), as PyTorch's <c>chunk</c>.</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        CheckHasDims("chunk");
        if (chunks <= 0) throw new ArgumentException($"chunk: number of chunks must be positive, got {chunks}.");
        int d = Layout.NormalizeDim(dim, Rank, "chunk", Layout.Shape);
        int size = Layout.Shape[d];
        // An empty dimension still gives 'chunks' (empty) pieces, as torch.chunk does.
        if (size == 0) return Split(new int[chunks], d);
        return Split((size + chunks - 1) / chunks, d);
    }

    /// <summary>
    /// Pads with a constant, PyTorch's <c>F.pad</c>: <paramref name="pad"/> holds (before, after) pairs starting
    /// from the last dimension. Negative amounts crop.
    /// </summary>
    public Tensor Pad(int[] pad, double value = 0)
    {
        ThrowIfDisposed("pad");
        if (pad.Length % 2 != 0 || pad.Length / 2 > Rank)
            throw new ArgumentException($"pad: padding length must be even and at most twice the rank; got {pad.Length} values for shape {Shp(this)}.");
        var outShape = Shape;
        for (int i = 0; i < pad.Length / 2; i++)
        {
            int d = Rank - 1 - i;
            outShape[d] += pad[2 * i] + pad[2 * i + 1];
            if (outShape[d] < 0) throw new ArgumentException($"pad: resulting size of dimension {d} would be negative ({outShape[d]}) for shape {Shp(this)} and pad ({string.Join(", ", pad)}).");
        }
        var y = Full(outShape, value, DType, Device);
        // The region of the output that receives input, and the region of the input that is kept.
        Tensor src = Alias(), dst = y.Alias();
        for (int i = 0; i < pad.Length / 2; i++)
        {
            int d = Rank - 1 - i, before = pad[2 * i], after = pad[2 * i + 1];
            int srcStart = Math.Max(0, -before), srcLen = Layout.Shape[d] - srcStart - Math.Max(0, -after);
            srcLen = Math.Max(0, srcLen);
            var s2 = src.Narrow(d, srcStart, srcLen); src.Dispose(); src = s2;
            var d2 = dst.Narrow(d, Math.Max(0, before), srcLen); dst.Dispose(); dst = d2;
        }
        using (Tape.NoGrad()) y.Backend.Copy(src, dst);
        src.Dispose(); dst.Dispose();
        if (Tape.ShouldRecord(this))
        {
            var negated = pad.Select(p => -p).ToArray();
            Tape.Record("pad", [this], [y], g => [g[0].Pad(negated)]);
        }
        return y;
    }
}
