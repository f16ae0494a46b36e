using Engine.Cuda.Kernels;

namespace Engine.Cuda.Runtime;

// Indexing kernels (index.cu), owner-computes: no atomics, so repeated indices add in a fixed order. The
// functional layer hands them contiguous operands and validated shapes; the index values are checked on
// the device first, and the one host read that check needs is what lets a bad index throw the CPU's
// exception instead of reading out of bounds.
internal sealed unsafe partial class CudaBackend
{
    private static (long Outer, long Size, long Inner) Split(int[] shape, int dim)
    {
        long outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= shape[d];
        for (int d = dim + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, shape.Length == 0 ? 1 : shape[dim], inner);
    }

    /// <summary>Throws the CPU's IndexOutOfRangeException for the first index outside [-size, size).</summary>
    private static void CheckIndices(string op, Tensor index, long size, int dim)
    {
        long n = index.NumEl;
        if (n == 0) return;
        using var bad = Tensor.Full([1], n, DType.I64, index.Device);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(index); args.Add(n); args.Add(size); args.Add(bad);
        KernelFor(index, "index.cu", "check_index").Launch(LaunchConfig.ForElements(n), args);
        long first = bad.ToArray<long>()[0];
        if (first >= n) return;
        using var flat = index.Reshape(-1);
        using var value = flat.Narrow(0, (int)first, 1);
        throw new IndexOutOfRangeException($"{op}: index {value.ToArray<long>()[0]} is out of bounds for dimension {dim} with size {size}.");
    }

    public void IndexSelect(Tensor x, int dim, Tensor index, Tensor y)
    {
        var (outer, size, inner) = Split(x.Layout.Shape, dim);
        CheckIndices("index_select", index, size, dim);
        long count = index.NumEl, n = outer * count * inner;
        if (n == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(index); args.Add(y); args.Add(outer); args.Add(size); args.Add(count); args.Add(inner);
        KernelFor(x, "index.cu", "index_select_" + Suffix(x.DType)).Launch(LaunchConfig.ForElements(n), args);
    }

    public void IndexAdd(Tensor dst, int dim, Tensor index, Tensor src)
    {
        var (outer, size, inner) = Split(dst.Layout.Shape, dim);
        CheckIndices("index_add", index, size, dim);
        long count = index.NumEl;
        if (outer * inner == 0 || count == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(dst); args.Add(index); args.Add(src); args.Add(outer); args.Add(size); args.Add(count); args.Add(inner);
        KernelFor(dst, "index.cu", "index_add_" + Suffix(dst.DType)).Launch(LaunchConfig.ForElements(outer * inner), args);
    }

    /// <summary>The index's sizes with <paramref name="target"/>'s contiguous strides (a 0-dim tensor as one dimension of size 1).</summary>
    private static StridedArg IndexedLayout(Tensor target, Tensor index)
    {
        if (target.Rank == 0) return StridedArg.Of([1], [1]);
        var strides = Layout.ContiguousStrides(target.Layout.Shape);
        return StridedArg.Of(index.Layout.Shape.Select(s => (long)s).ToArray(), strides);
    }

    public void Gather(Tensor x, int dim, Tensor index, Tensor y)
    {
        long size = x.Rank == 0 ? 1 : x.Layout.Shape[dim];
        CheckIndices("gather", index, size, dim);
        long n = index.NumEl;
        if (n == 0) return;
        var layout = IndexedLayout(x, index);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(in layout); args.Add(dim); args.Add(size); args.Add(index); args.Add(y); args.Add(n);
        KernelFor(x, "index.cu", "gather_" + Suffix(x.DType)).Launch(LaunchConfig.ForElements(n), args);
    }

    public void ScatterAdd(Tensor dst, int dim, Tensor index, Tensor src)
    {
        long size = dst.Rank == 0 ? 1 : dst.Layout.Shape[dim];
        CheckIndices("scatter_add", index, size, dim);
        long n = index.NumEl;
        if (n == 0) return;
        var layout = IndexedLayout(dst, index);
        long lines = n / layout.Size(dim);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(dst); args.Add(in layout); args.Add(dim); args.Add(size); args.Add(index); args.Add(src); args.Add(n);
        KernelFor(dst, "index.cu", "scatter_add_" + Suffix(dst.DType)).Launch(LaunchConfig.ForElements(lines), args);
    }
}
