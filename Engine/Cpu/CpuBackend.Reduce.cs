using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Engine.Backends;

namespace Engine.Cpu;

// Reductions. Determinism: every output element is reduced by exactly one thread, always in the same
// order; a single-output reduction over a long contiguous run is split into chunks of a fixed size
// (independent of the thread count) whose partial results are combined in order. Float32 sums of whole contiguous
// rows take RowSumF32 (several rows at once, float lanes ended in double).
internal sealed unsafe partial class CpuBackend
{
    private const int ReduceChunk = 1 << 15;

    public void Reduce(ReduceKind kind, Tensor x, int[] axes, Tensor y)
    {
        if (x.DType == DType.F32) Reduce<float>(kind, x, axes, y);
        else if (x.DType == DType.F64) Reduce<double>(kind, x, axes, y);
        else throw new NotSupportedException($"reduce: dtype {x.DType.TorchName()} is not supported on the CPU.");
    }

    private static void Reduce<T>(ReduceKind kind, Tensor x, int[] axes, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rank = x.Rank;
        var isReduced = new bool[rank];
        foreach (var a in axes) isReduced[a] = true;
        var keptShape = new List<int>(); var keptStrides = new List<long>();
        var redShape = new List<int>(); var redStrides = new List<long>();
        for (int d = 0; d < rank; d++)
        {
            if (isReduced[d]) { redShape.Add(x.Layout.Shape[d]); redStrides.Add(x.Layout.Strides[d]); }
            else { keptShape.Add(x.Layout.Shape[d]); keptStrides.Add(x.Layout.Strides[d]); }
        }
        long outCount = Layout.Count(keptShape.ToArray());
        if (outCount == 0) return;
        bool arg = kind is ReduceKind.ArgMax or ReduceKind.ArgMin;
        // Arg-reductions report positions along the original axis, so that axis must not be merged away.
        var (rSizes, rStrides) = arg
            ? (redShape.Select(s => (long)s).ToArray(), new[] { redStrides.ToArray() })
            : StridedIterator.Coalesce(redShape.ToArray(), [redStrides.ToArray()], [1]);
        long[] reducedStrides = rStrides[0];
        long reducedCount = Layout.Count(redShape.ToArray());
        T* xBase = Ptr<T>(x);
        var kShape = keptShape.ToArray();
        var kStrides = keptStrides.ToArray();

        if (outCount == 1 && !arg && rSizes.Length == 1 && reducedStrides[0] == 1 && reducedCount > 2L * ReduceChunk)
        {
            ReduceLongRun(kind, xBase, reducedCount, y);
            return;
        }

        if (typeof(T) == typeof(float) && kind == ReduceKind.Sum && rSizes.Length == 1 && reducedStrides[0] == 1
            && reducedCount <= int.MaxValue && RowSumF32.Supported && RowsFollowEachOther(kShape, kStrides, reducedCount))
        {
            RowSumF32.Run((float*)xBase, outCount, (int)reducedCount, Ptr<float>(y), Vector512.IsHardwareAccelerated);
            return;
        }

        CpuParallel.For(outCount, Math.Max(1, reducedCount), (start, end) =>
        {
            for (long o = start; o < end; o++)
            {
                long off = 0, rem = o;
                for (int d = kShape.Length - 1; d >= 0; d--)
                {
                    off += rem % kShape[d] * kStrides[d];
                    rem /= kShape[d];
                }
                if (arg)
                {
                    long idx = ArgReduce(kind, xBase + off, rSizes.Length == 0 ? 1 : rSizes[0], rSizes.Length == 0 ? 0 : reducedStrides[0]);
                    Ptr<long>(y)[o] = idx;
                }
                else
                {
                    Ptr<T>(y)[o] = ReduceBlock(kind, xBase + off, rSizes, reducedStrides);
                }
            }
        });
    }

    /// <summary>Whether output <c>o</c> reduces the run at offset <c>o * <paramref name="run"/></c>: the kept axes walk whole contiguous rows.</summary>
    private static bool RowsFollowEachOther(int[] keptShape, long[] keptStrides, long run)
    {
        long expected = run;
        for (int d = keptShape.Length - 1; d >= 0; d--)
        {
            if (keptShape[d] != 1 && keptStrides[d] != expected) return false;
            expected *= keptShape[d];
        }
        return true;
    }

    private static void ReduceLongRun<T>(ReduceKind kind, T* x, long count, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long chunks = (count + ReduceChunk - 1) / ReduceChunk;
        var partial = new T[chunks];
        CpuParallel.For(chunks, ReduceChunk, (start, end) =>
        {
            for (long c = start; c < end; c++)
            {
                long from = c * ReduceChunk;
                int len = (int)Math.Min(ReduceChunk, count - from);
                partial[c] = ReduceContiguous(kind, new ReadOnlySpan<T>(x + from, len));
            }
        });
        Ptr<T>(y)[0] = ReduceContiguous<T>(kind, partial);
    }

    private static T ReduceContiguous<T>(ReduceKind kind, ReadOnlySpan<T> span) where T : unmanaged, IFloatingPointIeee754<T> => kind switch
    {
        ReduceKind.Sum => TensorPrimitives.Sum(span),
        ReduceKind.Max => TensorPrimitives.Max(span),
        ReduceKind.Min => TensorPrimitives.Min(span),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Reduces one block of elements laid out by <paramref name="sizes"/>/<paramref name="strides"/> (already coalesced).</summary>
    private static T ReduceBlock<T>(ReduceKind kind, T* p, long[] sizes, long[] strides) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int r = sizes.Length;
        if (r == 0) return *p;
        long inner = sizes[r - 1], innerStride = strides[r - 1];
        if (r == 1 && innerStride == 1 && inner <= int.MaxValue && inner > 0)
            return ReduceContiguous(kind, new ReadOnlySpan<T>(p, (int)inner));

        T acc = kind == ReduceKind.Sum ? T.Zero : kind == ReduceKind.Max ? T.NegativeInfinity : T.PositiveInfinity;
        bool nan = false;
        long outer = 1;
        for (int d = 0; d < r - 1; d++) outer *= sizes[d];
        Span<long> index = stackalloc long[Math.Max(1, r - 1)];
        index.Clear();
        for (long row = 0; row < outer; row++)
        {
            long off = 0;
            for (int d = 0; d < r - 1; d++) off += index[d] * strides[d];
            T* q = p + off;
            for (long i = 0; i < inner; i++, q += innerStride)
            {
                T v = *q;
                switch (kind)
                {
                    case ReduceKind.Sum: acc += v; break;
                    case ReduceKind.Max: if (T.IsNaN(v)) nan = true; else if (v > acc) acc = v; break;
                    case ReduceKind.Min: if (T.IsNaN(v)) nan = true; else if (v < acc) acc = v; break;
                }
            }
            for (int d = r - 2; d >= 0; d--)
            {
                if (++index[d] < sizes[d]) break;
                index[d] = 0;
            }
        }
        return nan ? T.NaN : acc;
    }

    /// <summary>Position of the first maximum (minimum) along one axis; NaN counts as the extreme, as in PyTorch.</summary>
    private static long ArgReduce<T>(ReduceKind kind, T* p, long n, long stride) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long best = 0;
        T bestValue = *p;
        if (T.IsNaN(bestValue)) return 0;
        for (long i = 1; i < n; i++)
        {
            T v = p[i * stride];
            if (T.IsNaN(v)) return i;
            if (kind == ReduceKind.ArgMax ? v > bestValue : v < bestValue) { best = i; bestValue = v; }
        }
        return best;
    }
}
