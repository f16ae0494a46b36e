namespace Engine.Cpu;

// Batched matrix products: every batch index is one GEMM that reads its operands through their strides,
// so transposed and broadcast operands are never copied.
internal sealed unsafe partial class CpuBackend
{
    public void MatMul(Tensor a, Tensor b, Tensor c) => Gemm(a, b, c, 1, 0);

    [ThreadStatic] private static bool t_pairInTurn;

    /// <summary>
    /// Tests and A/B timings only: compute a <see cref="MatMulPair"/> one product after the other even where
    /// <see cref="PairTogether"/> would run them at the same time (per calling thread). The bits are the same either way.
    /// </summary>
    internal static bool PairInTurn
    {
        get => t_pairInTurn;
        set => t_pairInTurn = value;
    }

    // Multiply-adds per product from which a pair runs one product per thread: from here each product would fork on
    // its own anyway (GemmDriver's 2^20 per task), so the pair adds no wake-up of the worker that was not there.
    private const double PairFromWork = 1L << 21;

    // Up to this many multiply-adds per product: as far as it was measured. Backward min, one process alternating in turn /
    // paired (loaded 2-vCPU Zen 4 VM, load 10-24, 2026-12-08): 160^3 0.151 / 0.090 ms, 256^3 0.434 / 0.323, 512^3
    // 2.76-3.15 / 2.63-2.74 (6 processes); 640^3 (two k blocks) 7.3-11.2 / 9.1-9.3, the load's noise either way. Larger
    // products are left to the GEMM's own two-thread schedule (at 1024^3 one product keeps both threads 91 % busy).
    private const double PairUpToWork = 1L << 27;

    public void MatMulPair(Tensor a1, Tensor b1, Tensor c1, Tensor a2, Tensor b2, Tensor c2)
    {
        if (PairTogether(Work(a1, c1), Work(a2, c2)))
        {
            CpuParallel.ForEachTask(2, i =>
            {
                if (i == 0) MatMul(a1, b1, c1);
                else MatMul(a2, b2, c2);
            });
            return;
        }
        MatMul(a1, b1, c1);
        MatMul(a2, b2, c2);
    }

    // A matmul's two gradients on two threads: dA = dC·Bᵀ on one, dB = Aᵀ·dC on the other, each product whole on
    // its thread (inside the pair's parallel region the GEMM does not fork again), instead of each product split
    // over both threads in turn. Each thread then packs and runs one product at its one-thread speed (94 % of the
    // FMA peak at 512^3), with no tail where one worker waits for the other's last item, no fork per product and no
    // packed B shared across cores. The two products of a matmul's backward have the same number of multiply-adds.
    // Only with exactly two threads: with more, the pair would leave the others idle (a nested region runs serially).
    // The same bits: a product's result does not depend on the threads that compute it.
    internal static bool PairTogether(double work1, double work2) =>
        !t_pairInTurn && CpuParallel.ThreadCount == 2 && !CpuParallel.InsideParallelRegion
        && Math.Min(work1, work2) >= PairFromWork && Math.Max(work1, work2) <= PairUpToWork;

    // Multiply-adds of c = a @ b over the batch (a is [..., m, k], c is [..., m, n]).
    private static double Work(Tensor a, Tensor c) => (double)Layout.Count(c.Layout.Shape) * a.Layout.Shape[^1];

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
