namespace Engine.Cpu;

// Batched matrix products: every batch index is one GEMM that reads its operands through their strides,
// so transposed and broadcast operands are never copied.
internal sealed unsafe partial class CpuBackend
{
    public void MatMul(Tensor a, Tensor b, Tensor c) => Gemm(a, b, c, 1, 0);

    public void Gemm(Tensor a, Tensor b, Tensor c, double alpha, double beta)
    {
        int r = c.Rank;
        int m = c.Layout.Shape[r - 2], n = c.Layout.Shape[r - 1], k = a.Layout.Shape[r - 1];
        var batchShape = c.Layout.Shape[..(r - 2)];
        long batch = Layout.Count(batchShape);
        if (batch == 0 || m == 0 || n == 0) return;
        if (n > 1 && c.Layout.Strides[r - 1] != 1)
            throw new ArgumentException($"gemm: the output needs unit column stride, got strides [{string.Join(", ", c.Layout.Strides)}].");
        var aS = a.Layout.Strides; var bS = b.Layout.Strides; var cS = c.Layout.Strides;
        long aRow = aS[r - 2], aCol = aS[r - 1], bRow = bS[r - 2], bCol = bS[r - 1], cRow = cS[r - 2];
        nint aBase = BasePointer(a), bBase = BasePointer(b), cBase = BasePointer(c);
        bool isF32 = c.DType == DType.F32;
        double flops = (double)m * n * Math.Max(k, 1);

        void One(long i)
        {
            long aOff = 0, bOff = 0, cOff = 0, rem = i;
            for (int d = batchShape.Length - 1; d >= 0; d--)
            {
                long idx = rem % batchShape[d];
                rem /= batchShape[d];
                aOff += idx * aS[d];
                bOff += idx * bS[d];
                cOff += idx * cS[d];
            }
            if (isF32)
                CpuGemm.Gemm(m, n, k, (float)alpha, (float*)aBase + aOff, aRow, aCol, (float*)bBase + bOff, bRow, bCol, (float)beta, (float*)cBase + cOff, cRow);
            else
                CpuGemm.Gemm(m, n, k, alpha, (double*)aBase + aOff, aRow, aCol, (double*)bBase + bOff, bRow, bCol, beta, (double*)cBase + cOff, cRow);
        }

        // Many small products: one thread per product. Few large ones: the GEMM threads its tiles.
        if (batch > 1 && (batch >= 2 * CpuParallel.ThreadCount || flops < 128.0 * 128 * 128))
            CpuParallel.For(batch, flops, (s, e) => { for (long i = s; i < e; i++) One(i); });
        else
            for (long i = 0; i < batch; i++) One(i);
    }
}
