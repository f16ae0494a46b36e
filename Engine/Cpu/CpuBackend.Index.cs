using System.Numerics;

namespace Engine.Cpu;

// Indexing kernels. The functional layer hands them contiguous operands and validated shapes; they check
// each index value against its dimension, since only the data can tell.
internal sealed unsafe partial class CpuBackend
{
    private static (long Outer, int Dim, long Inner) Split(int[] shape, int dim)
    {
        long outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= shape[d];
        for (int d = dim + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, shape.Length == 0 ? 1 : shape[dim], inner);
    }

    private static long CheckIndex(string op, long i, int size, int dim)
    {
        if (i < -size || i >= size)
            throw new IndexOutOfRangeException($"{op}: index {i} is out of bounds for dimension {dim} with size {size}.");
        return i < 0 ? i + size : i;
    }

    public void IndexSelect(Tensor x, int dim, Tensor index, Tensor y)
    {
        switch (x.DType)
        {
            case DType.F32: IndexSelect<float>(x, dim, index, y); break;
            case DType.F64: IndexSelect<double>(x, dim, index, y); break;
            case DType.I64: IndexSelect<long>(x, dim, index, y); break;
            default: IndexSelect<byte>(x, dim, index, y); break;
        }
    }

    private static void IndexSelect<T>(Tensor x, int dim, Tensor index, Tensor y) where T : unmanaged
    {
        var (outer, size, inner) = Split(x.Layout.Shape, dim);
        long count = index.NumEl;
        T* xs = Ptr<T>(x), ys = Ptr<T>(y);
        long* idx = Ptr<long>(index);
        for (long j = 0; j < count; j++) CheckIndex("index_select", idx[j], size, dim);
        CpuParallel.For(outer * count, inner, (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                long o = r / count, j = r % count;
                long src = CheckIndex("index_select", idx[j], size, dim);
                new ReadOnlySpan<T>(xs + (o * size + src) * inner, (int)inner).CopyTo(new Span<T>(ys + r * inner, (int)inner));
            }
        });
    }

    public void IndexAdd(Tensor dst, int dim, Tensor index, Tensor src)
    {
        if (dst.DType == DType.F32) IndexAdd<float>(dst, dim, index, src);
        else IndexAdd<double>(dst, dim, index, src);
    }

    private static void IndexAdd<T>(Tensor dst, int dim, Tensor index, Tensor src) where T : unmanaged, INumber<T>
    {
        var (outer, size, inner) = Split(dst.Layout.Shape, dim);
        long count = index.NumEl;
        T* d = Ptr<T>(dst), s = Ptr<T>(src);
        long* idx = Ptr<long>(index);
        for (long j = 0; j < count; j++) CheckIndex("index_add", idx[j], size, dim);
        // Parallel over the outer dimension only: repeated indices then add in index order, deterministically.
        CpuParallel.For(outer, count * inner, (start, end) =>
        {
            for (long o = start; o < end; o++)
                for (long j = 0; j < count; j++)
                {
                    T* to = d + (o * size + CheckIndex("index_add", idx[j], size, dim)) * inner;
                    T* from = s + (o * count + j) * inner;
                    for (long i = 0; i < inner; i++) to[i] += from[i];
                }
        });
    }

    public void Gather(Tensor x, int dim, Tensor index, Tensor y)
    {
        switch (x.DType)
        {
            case DType.F32: Gather<float>(x, dim, index, y); break;
            case DType.F64: Gather<double>(x, dim, index, y); break;
            case DType.I64: Gather<long>(x, dim, index, y); break;
            default: Gather<byte>(x, dim, index, y); break;
        }
    }

    /// <summary>Offset in x of every position of the index tensor, with dimension <paramref name="dim"/> replaced by the index value.</summary>
    private static void ForEachIndexed(string op, int[] xShape, int[] iShape, int dim, long* idx, Action<long, long> body)
    {
        var xStrides = Layout.ContiguousStrides(xShape);
        long total = Layout.Count(iShape);
        int rank = iShape.Length;
        if (rank == 0)
        {
            // A 0-dim input is indexed as if it had one dimension of size 1.
            CheckIndex(op, idx[0], 1, 0);
            body(0, 0);
            return;
        }
        for (long pos = 0; pos < total; pos++)
        {
            long rem = pos, off = 0;
            for (int d = rank - 1; d >= 0; d--)
            {
                long c = rem % iShape[d];
                rem /= iShape[d];
                if (d == dim) c = CheckIndex(op, idx[pos], xShape.Length == 0 ? 1 : xShape[d], d);
                off += c * (xShape.Length == 0 ? 0 : xStrides[d]);
            }
            body(pos, off);
        }
    }

    private static void Gather<T>(Tensor x, int dim, Tensor index, Tensor y) where T : unmanaged
    {
        T* xs = Ptr<T>(x), ys = Ptr<T>(y);
        ForEachIndexed("gather", x.Layout.Shape, index.Layout.Shape, dim, Ptr<long>(index), (pos, off) => ys[pos] = xs[off]);
    }

    public void ScatterAdd(Tensor dst, int dim, Tensor index, Tensor src)
    {
        if (dst.DType == DType.F32) ScatterAdd<float>(dst, dim, index, src);
        else ScatterAdd<double>(dst, dim, index, src);
    }

    private static void ScatterAdd<T>(Tensor dst, int dim, Tensor index, Tensor src) where T : unmanaged, INumber<T>
    {
        T* d = Ptr<T>(dst), s = Ptr<T>(src);
        // Serial: positions that collide add in a fixed order, so the result is deterministic.
        ForEachIndexed("scatter_add", dst.Layout.Shape, index.Layout.Shape, dim, Ptr<long>(index), (pos, off) => d[off] += s[pos]);
    }
}
