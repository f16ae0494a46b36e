using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

// Matrix products through cuBLAS. cuBLAS is column-major; a row-major C[M,N] = A·B is the column-major
// C^T = B^T·A^T, so the call swaps the operands and the sizes (gemm(opB, opA, N, M, K, B, A, C)). Each
// matrix needs one unit stride (row-major: op N with ld = its row stride; column-major, a transposed view:
// op T with ld = its column stride) and the batch one stride (0 broadcasts); an operand that has neither
// is copied to a contiguous tensor first. TF32 follows Cuda.AllowTf32 (off by default).
internal sealed unsafe partial class CudaBackend
{
    public void MatMul(Tensor a, Tensor b, Tensor c) => Gemm(a, b, c, 1, 0);

    // One stream: the two products one after the other (each fills the device by itself).
    public void MatMulPair(Tensor a1, Tensor b1, Tensor c1, Tensor a2, Tensor b2, Tensor c2)
    {
        MatMul(a1, b1, c1);
        MatMul(a2, b2, c2);
    }

    public void Gemm(Tensor a, Tensor b, Tensor c, double alpha, double beta)
    {
        int r = c.Rank;
        int m = c.Layout.Shape[r - 2], n = c.Layout.Shape[r - 1], k = a.Layout.Shape[r - 1];
        long batch = Layout.Count(c.Layout.Shape.AsSpan(0, r - 2));
        if (batch == 0 || m == 0 || n == 0) return;
        if (!c.DType.IsFloatingPoint()) throw Backends.Kernel.Missing("matmul", c);
        var cView = MatrixView.Of(c, m, n);
        if (cView is not { Transposed: false } cm)
            throw new ArgumentException($"gemm: the output [{string.Join(", ", c.Layout.Shape)}] needs unit column stride and one batch stride, got strides [{string.Join(", ", c.Layout.Strides)}].");
        if (k == 0)
        {
            // cuBLAS may return without touching C when k is 0; the product is zero, so C = beta · C.
            if (beta == 0) Fill(c, 0);
            else Unary<Backends.AffineOp>(c, c, beta, 0);
            return;
        }
        Tensor? aCopy = null, bCopy = null;
        try
        {
            var av = MatrixView.Of(a, m, k) ?? MatrixView.Of(aCopy = Contiguous(a), m, k)!.Value;
            var bv = MatrixView.Of(b, k, n) ?? MatrixView.Of(bCopy = Contiguous(b), k, n)!.Value;
            if (batch > int.MaxValue || (long)m * n > int.MaxValue)
                throw new NotSupportedException($"matmul: {batch} products of {m}x{n} exceed cuBLAS's 32-bit sizes.");
            var device = DeviceOf(c);
            nint handle = device.Blas;
            var pa = new CUdeviceptr(((CudaStorage)(aCopy ?? a).Storage).Address((aCopy ?? a).Offset));
            var pb = new CUdeviceptr(((CudaStorage)(bCopy ?? b).Storage).Address((bCopy ?? b).Offset));
            var pc = new CUdeviceptr(((CudaStorage)c.Storage).Address(c.Offset));
            device.Counters.LibraryCall();
            // Row-major C = A·B as column-major C^T = B^T·A^T: B first.
            if (c.DType == DType.F32)
                CuBlas.SgemmStridedBatched(handle, bv.Op, av.Op, n, m, k, (float)alpha, pb, bv.Ld, bv.BatchStride,
                    pa, av.Ld, av.BatchStride, (float)beta, pc, cm.Ld, cm.BatchStride, (int)batch);
            else
                CuBlas.DgemmStridedBatched(handle, bv.Op, av.Op, n, m, k, alpha, pb, bv.Ld, bv.BatchStride,
                    pa, av.Ld, av.BatchStride, beta, pc, cm.Ld, cm.BatchStride, (int)batch);
        }
        finally
        {
            aCopy?.Dispose();
            bCopy?.Dispose();
        }
    }

    private Tensor Contiguous(Tensor t)
    {
        var copy = Tensor.Empty(t.Layout.Shape, t.DType, t.Device);
        Copy(t, copy);
        return copy;
    }

    /// <summary>How cuBLAS sees one operand: its op in the swapped call, leading dimension and batch stride.</summary>
    private readonly record struct MatrixView(BlasOp Op, int Ld, long BatchStride, bool Transposed)
    {
        /// <summary>The view of a [..., rows, cols] operand, or null when its strides do not fit cuBLAS.</summary>
        public static MatrixView? Of(Tensor t, int rows, int cols)
        {
            int r = t.Rank;
            long rs = t.Layout.Strides[r - 2], cs = t.Layout.Strides[r - 1];
            // A stride along a dimension of size 1 is never used: give it the value that makes the layout dense.
            if (rows == 1) rs = cols;
            if (cols == 1) cs = 1;
            long? batchStride = FlatBatchStride(t);
            if (batchStride is null) return null;
            if (cs == 1 && rs >= Math.Max(1, cols) && rs <= int.MaxValue) return new(BlasOp.N, (int)rs, batchStride.Value, false);
            if (rs == 1 && cs >= Math.Max(1, rows) && cs <= int.MaxValue) return new(BlasOp.T, (int)cs, batchStride.Value, true);
            return null;
        }

        /// <summary>The one stride that steps through the flattened batch dimensions, or null when there is none.</summary>
        private static long? FlatBatchStride(Tensor t)
        {
            int r = t.Rank;
            long? stride = null;
            long expected = 0;
            for (int d = r - 3; d >= 0; d--)
            {
                int size = t.Layout.Shape[d];
                if (size == 1) continue;
                long s = t.Layout.Strides[d];
                if (stride is null) { stride = s; expected = s * size; continue; }
                if (s != expected) return null;
                expected = s * size;
            }
            return stride ?? 0;
        }
    }
}
