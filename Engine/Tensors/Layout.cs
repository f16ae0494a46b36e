namespace Engine;

/// <summary>
/// How a tensor's elements sit in its storage: the shape, the stride of each dimension (in elements)
/// and the offset of the first element. Every view is a new layout over the same storage.
/// </summary>
public sealed class Layout
{
    /// <summary>Size of each dimension.</summary>
    public int[] Shape { get; }

    /// <summary>Distance in elements between neighbours along each dimension (0 for broadcast dimensions).</summary>
    public long[] Strides { get; }

    /// <summary>Index of the first element in the storage.</summary>
    public long Offset { get; }

    /// <summary>Number of elements.</summary>
    public long NumEl { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>True when elements are in row-major order with no gaps, so the data is one flat span.</summary>
    public bool IsContiguous { get; }

    /// <summary>Creates a layout; <paramref name="strides"/> defaults to row-major contiguous.</summary>
    public Layout(int[] shape, long[]? strides = null, long offset = 0)
    {
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"Shapes cannot have negative sizes: {Format(shape)}.");
        Shape = shape;
        Strides = strides ?? ContiguousStrides(shape);
        if (Strides.Length != shape.Length) throw new ArgumentException($"Layout: {shape.Length} sizes but {Strides.Length} strides.");
        Offset = offset;
        NumEl = Count(shape);
        IsContiguous = ComputeIsContiguous(shape, Strides);
    }

    /// <summary>Row-major strides for <paramref name="shape"/>.</summary>
    public static long[] ContiguousStrides(int[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= Math.Max(shape[i], 1);
        }
        return s;
    }

    /// <summary>Product of the sizes; a shape whose product does not fit in a long is refused (naming <paramref name="op"/> when given).</summary>
    public static long Count(ReadOnlySpan<int> shape, string? op = null)
    {
        long n = 1;
        foreach (var d in shape)
        {
            // Unchecked, [65536, 65536, 65536, 65536] wrapped to 0 elements and got a 1-byte storage that views then indexed far past.
            if (d > 0 && n > long.MaxValue / d)
            {
                foreach (var z in shape)
                    if (z == 0) return 0;
                throw new ArgumentException($"{(op is null ? "" : op + ": ")}Shape {Format(shape)} has more elements than a tensor can hold ({long.MaxValue}).");
            }
            n *= d;
        }
        return n;
    }

    private static bool ComputeIsContiguous(int[] shape, long[] strides)
    {
        long expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue; // a size-1 dimension's stride never matters
            if (shape[i] == 0) return true;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /// <summary>Formats a shape as PyTorch prints it: <c>[2, 3]</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>
    /// Turns a possibly negative dimension index into 0..rank-1, or throws naming the operation (and
    /// <paramref name="shape"/>, the tensor's, when given). As in PyTorch a rank of 0 counts as 1, so a 0-dim
    /// tensor takes dims -1 and 0 (both meaning 0) and nothing else; every op must call this even for 0-dim
    /// tensors rather than skip it, or a wrong dim goes unnoticed there.
    /// </summary>
    public static int NormalizeDim(int dim, int rank, string op, int[]? shape = null)
    {
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
            throw new ArgumentOutOfRangeException(nameof(dim),
                $"{op}: dimension out of range (expected to be in range of [{-r}, {r - 1}], but got {dim})" +
                (shape is null ? "." : $" for a tensor of shape {Format(shape)}."));
        return dim < 0 ? dim + r : dim;
    }

    /// <summary>
    /// Normalises a list of dims with <see cref="NormalizeDim"/> and rejects one named twice (say 1 and -1 of a
    /// rank-2 tensor, or 0 and -1 of a 0-dim one), as PyTorch does for every multi-dim reduction. The result
    /// keeps the given order.
    /// </summary>
    public static int[] NormalizeDims(int[] dims, int rank, string op, int[]? shape = null)
    {
        var axes = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            axes[i] = NormalizeDim(dims[i], rank, op, shape);
            if (Array.IndexOf(axes, axes[i], 0, i) >= 0)
                throw new ArgumentException(
                    $"{op}: dim {axes[i]} appears multiple times in the list of dims [{string.Join(", ", dims)}]" +
                    (shape is null ? "." : $" for a tensor of shape {Format(shape)}."));
        }
        return axes;
    }

    /// <summary>
    /// The shape two shapes broadcast to under NumPy's rules (align trailing dimensions; sizes must be
    /// equal or one of them 1). Throws an error naming the operation and both shapes.
    /// </summary>
    public static int[] BroadcastShapes(string op, params int[][] shapes)
    {
        int rank = 0;
        foreach (var s in shapes) rank = Math.Max(rank, s.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++) result[i] = 1;
        foreach (var s in shapes)
        {
            for (int i = 0; i < s.Length; i++)
            {
                int r = rank - s.Length + i;
                int d = s[i];
                if (d == result[r] || d == 1) continue;
                if (result[r] == 1) { result[r] = d; continue; }
                throw new ArgumentException(
                    $"{op}: shapes {string.Join(" and ", shapes.Select(x => Format(x)))} cannot be broadcast together " +
                    $"(size {result[r]} vs {d} at dimension {r}).");
            }
        }
        return result;
    }

    /// <summary>Strides that read this layout as if it had <paramref name="shape"/> (0 along broadcast dimensions).</summary>
    public long[] BroadcastStrides(int[] shape)
    {
        var s = new long[shape.Length];
        int lead = shape.Length - Rank;
        for (int i = 0; i < Rank; i++)
            s[lead + i] = Shape[i] == 1 && shape[lead + i] != 1 ? 0 : Strides[i];
        return s;
    }
}
