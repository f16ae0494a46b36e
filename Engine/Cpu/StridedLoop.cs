using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

/// <summary>
/// The inner loop of an elementwise kernel: <c>n</c> elements along one dimension.
/// <c>p[k]</c> points at operand k's first element, <c>s[k]</c> is its stride in bytes (0 when broadcast).
/// Operand 0 is the output.
/// </summary>
internal unsafe interface IStridedLoop
{
    void Run(long n, byte** p, long* s);
}

/// <summary>
/// An inner loop that may write with non-temporal stores: <see cref="StridedIterator"/> ends each thread's chunk of
/// rows with a store fence, so that the stores are ordered before the chunk reports done.
/// </summary>
internal interface IStreamingLoop : IStridedLoop;

/// <summary>
/// Walks any number of same-shaped strided operands (broadcast operands carry zero strides): merges the
/// dimensions that can be merged, so contiguous data becomes one long inner loop the SIMD fast paths
/// see, then splits the outer rows (or the single inner row) across threads.
/// </summary>
internal static unsafe class StridedIterator
{
    private const long MaxInner = 1 << 20;

    /// <param name="shape">The common shape of every operand.</param>
    /// <param name="bases">Address of each operand's first element.</param>
    /// <param name="elementStrides">Each operand's strides in elements, one per dimension of <paramref name="shape"/>.</param>
    /// <param name="elementSizes">Each operand's element size in bytes.</param>
    /// <param name="loop">The inner loop.</param>
    /// <param name="costPerElement">Rough cost of one element, to decide whether threads pay.</param>
    public static void Run<TLoop>(int[] shape, nint[] bases, long[][] elementStrides, int[] elementSizes, TLoop loop, double costPerElement = 1)
        where TLoop : struct, IStridedLoop
    {
        long total = Layout.Count(shape);
        if (total == 0) return;
        int ops = bases.Length;
        var (sizes, strides) = Coalesce(shape, elementStrides, elementSizes);
        int rank = sizes.Length;
        long inner = rank == 0 ? 1 : sizes[rank - 1];

        if (rank <= 1)
        {
            // One row: split it into pieces, each handed whole to the inner loop.
            long pieces = (inner + MaxInner - 1) / MaxInner;
            long pieceLen = (inner + pieces - 1) / pieces;
            CpuParallel.For(inner, costPerElement, (start, end) =>
            {
                byte** p = stackalloc byte*[ops];
                long* s = stackalloc long[ops];
                for (long at = start; at < end; at += pieceLen)
                {
                    long n = Math.Min(pieceLen, end - at);
                    for (int k = 0; k < ops; k++)
                    {
                        s[k] = rank == 0 ? 0 : strides[k][0];
                        p[k] = (byte*)bases[k] + at * s[k];
                    }
                    loop.Run(n, p, s);
                }
                if (loop is IStreamingLoop) Sse.StoreFence();
            });
            return;
        }

        long rows = total / inner;
        CpuParallel.For(rows, costPerElement * inner, (start, end) =>
        {
            byte** p = stackalloc byte*[ops];
            long* s = stackalloc long[ops];
            int* index = stackalloc int[rank - 1];
            // Multi-index of the first row of this chunk.
            long r = start;
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d] = (int)(r % sizes[d]);
                r /= sizes[d];
            }
            for (int k = 0; k < ops; k++) s[k] = strides[k][rank - 1];
            for (long row = start; row < end; row++)
            {
                for (int k = 0; k < ops; k++)
                {
                    long off = 0;
                    var sk = strides[k];
                    for (int d = 0; d < rank - 1; d++) off += index[d] * sk[d];
                    p[k] = (byte*)bases[k] + off;
                }
                loop.Run(inner, p, s);
                for (int d = rank - 2; d >= 0; d--)
                {
                    if (++index[d] < sizes[d]) break;
                    index[d] = 0;
                }
            }
            if (loop is IStreamingLoop) Sse.StoreFence();
        });
    }

    /// <summary>
    /// Drops size-1 dimensions and merges neighbours that every operand walks as one
    /// (outer stride = inner stride × inner size). Returns sizes and byte strides per operand.
    /// </summary>
    internal static (long[] Sizes, long[][] ByteStrides) Coalesce(int[] shape, long[][] elementStrides, int[] elementSizes)
    {
        int ops = elementStrides.Length;
        var sizes = new List<long>();
        var strides = new List<long[]>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            var st = new long[ops];
            for (int k = 0; k < ops; k++) st[k] = elementStrides[k][d] * elementSizes[k];
            if (sizes.Count > 0)
            {
                int last = sizes.Count - 1;
                bool mergeable = true;
                for (int k = 0; k < ops && mergeable; k++)
                    mergeable = strides[last][k] == st[k] * shape[d];
                if (mergeable)
                {
                    sizes[last] *= shape[d];
                    strides[last] = st;
                    continue;
                }
            }
            sizes.Add(shape[d]);
            strides.Add(st);
        }
        // Transpose to per-operand stride arrays.
        var perOp = new long[ops][];
        for (int k = 0; k < ops; k++)
        {
            perOp[k] = new long[sizes.Count];
            for (int d = 0; d < sizes.Count; d++) perOp[k][d] = strides[d][k];
        }
        return (sizes.ToArray(), perOp);
    }
}
