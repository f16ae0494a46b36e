using System.Runtime.InteropServices;
using Engine.Cpu;
using Engine.Cuda;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.CudaEmulator.DeviceArrays;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// cuBLAS through the engine's own bindings (<see cref="CuBlas"/>): the GEMM conventions against the engine's
/// CPU GEMM, strided batches, TF32 and the NaN rules on any CUDA driver (the emulator here); the emulator's
/// own promises (exact TF32 rounding, every bad argument's status code and message) on the emulator only.
/// </summary>
public unsafe class EmulatedCuBlasTests
{
    // Column-major C (m x n, ldc) is row-major Cᵀ with row stride ldc, and Cᵀ = op(B)ᵀ·op(A)ᵀ: so the CPU
    // GEMM computes it with the operands swapped and each stride pair read off the column-major layout.
    private static void CpuColumnMajor(BlasOp ta, BlasOp tb, int m, int n, int k, double alpha, double[] a, int lda,
        double[] b, int ldb, double beta, double[] c, int ldc)
    {
        fixed (double* pa = a, pb = b, pc = c)
            CpuGemm.Gemm(n, m, k, alpha, pb, tb == BlasOp.N ? ldb : 1, tb == BlasOp.N ? 1 : ldb,
                pa, ta == BlasOp.N ? lda : 1, ta == BlasOp.N ? 1 : lda, beta, pc, ldc);
    }

    private static float[] ToFloat(double[] v) => v.Select(x => (float)x).ToArray();
    private static double[] ToDouble(float[] v) => v.Select(x => (double)x).ToArray();
    private static double[] AsFloats(double[] v) => ToDouble(ToFloat(v));  // values a float holds exactly

    private static void Near(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"{what}: element {i} is {actual[i]:R}, CPU gives {expected[i]:R}");
    }

    [GpuFact]
    public void GemmMatchesCpuGemmForEveryOpPairWithWideLeadingDimensions()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        const int m = 5, n = 7, k = 6;
        foreach (var ta in new[] { BlasOp.N, BlasOp.T, BlasOp.C })
            foreach (var tb in new[] { BlasOp.N, BlasOp.T, BlasOp.C })
            {
                int lda = (ta == BlasOp.N ? m : k) + 3, ldb = (tb == BlasOp.N ? k : n) + 2, ldc = m + 4;
                var a = AsFloats(Random(1, lda * (ta == BlasOp.N ? k : m)));
                var b = AsFloats(Random(2, ldb * (tb == BlasOp.N ? n : k)));
                var c = AsFloats(Random(3, ldc * n));
                var want = (double[])c.Clone();
                CpuColumnMajor(ta, tb, m, n, k, 1.5, a, lda, b, ldb, -0.75, want, ldc);

                var sc = d.Upload(ToFloat(c));
                CuBlas.Sgemm(h, ta, tb, m, n, k, 1.5f, d.Upload(ToFloat(a)), lda, d.Upload(ToFloat(b)), ldb, -0.75f, sc, ldc);
                Near(want, ToDouble(Download<float>(sc, c.Length)), 1e-5, $"Sgemm {ta}{tb}");

                var dc = d.Upload(c);
                CuBlas.Dgemm(h, ta, tb, m, n, k, 1.5, d.Upload(a), lda, d.Upload(b), ldb, -0.75, dc, ldc);
                Near(want, Download<double>(dc, c.Length), 1e-13, $"Dgemm {ta}{tb}");
            }
        CuBlas.Destroy(h);
    }

    // The identity CuBlas.cs documents: row-major C[M,N] = op(A)·op(B) is gemm(opB, opA, N, M, K, B, ldB, A, ldA, C, N).
    [GpuFact]
    public void RowMajorProductThroughTheOperandSwap()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        const int M = 4, N = 6, K = 5;
        var a = Random(4, M * K);   // row-major A[M,K]
        var b = Random(5, K * N);   // row-major B[K,N]
        var bt = Random(6, N * K);  // row-major B stored transposed, [N,K]
        var ab = new double[M * N];
        var abt = new double[M * N];
        fixed (double* pa = a, pb = b, pbt = bt, pc = ab, pct = abt)
        {
            CpuGemm.Gemm(M, N, K, 1.0, pa, K, 1, pb, N, 1, 0.0, pc, N);
            CpuGemm.Gemm(M, N, K, 1.0, pa, K, 1, pbt, 1, K, 0.0, pct, N);
        }
        var c = d.Alloc<double>(M * N);
        CuBlas.Dgemm(h, BlasOp.N, BlasOp.N, N, M, K, 1.0, d.Upload(b), N, d.Upload(a), K, 0.0, c, N);
        Near(ab, Download<double>(c, M * N), 1e-13, "row-major A·B");
        // op(B) = T because B is stored [N,K]; its stored row length K is ldB.
        CuBlas.Dgemm(h, BlasOp.T, BlasOp.N, N, M, K, 1.0, d.Upload(bt), K, d.Upload(a), K, 0.0, c, N);
        Near(abt, Download<double>(c, M * N), 1e-13, "row-major A·Bᵀ");
        CuBlas.Destroy(h);
    }

    [GpuFact]
    public void StridedBatchedBroadcastsAStrideZeroOperand()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        const int m = 3, n = 5, k = 4, batch = 3;
        var a = AsFloats(Random(7, m * k));
        var b = AsFloats(Random(8, k * n * batch));
        var c = AsFloats(Random(9, m * n * batch));
        var want = (double[])c.Clone();
        for (int i = 0; i < batch; i++)
        {
            var ci = want[(i * m * n)..((i + 1) * m * n)];
            CpuColumnMajor(BlasOp.N, BlasOp.N, m, n, k, 2.0, a, m, b[(i * k * n)..((i + 1) * k * n)], k, 0.5, ci, m);
            ci.CopyTo(want, i * m * n);
        }
        var sc = d.Upload(ToFloat(c));
        CuBlas.SgemmStridedBatched(h, BlasOp.N, BlasOp.N, m, n, k, 2f, d.Upload(ToFloat(a)), m, 0, d.Upload(ToFloat(b)), k, k * n, 0.5f, sc, m, m * n, batch);
        Near(want, ToDouble(Download<float>(sc, c.Length)), 1e-5, "Sgemm strided batched, A broadcast");

        // Double, one B against three Aᵀ.
        var a3 = Random(10, k * m * batch);
        var b1 = Random(11, k * n);
        var want3 = new double[m * n * batch];
        for (int i = 0; i < batch; i++)
        {
            var ci = new double[m * n];
            CpuColumnMajor(BlasOp.T, BlasOp.N, m, n, k, -1.0, a3[(i * k * m)..((i + 1) * k * m)], k, b1, k, 0.0, ci, m);
            ci.CopyTo(want3, i * m * n);
        }
        var dc = d.Alloc<double>(m * n * batch);
        CuBlas.DgemmStridedBatched(h, BlasOp.T, BlasOp.N, m, n, k, -1.0, d.Upload(a3), k, k * m, d.Upload(b1), k, 0, 0.0, dc, m, m * n, batch);
        Near(want3, Download<double>(dc, want3.Length), 1e-13, "Dgemm strided batched, B broadcast");
        CuBlas.Destroy(h);
    }

    private const int Tm = 16, Tn = 16, Tk = 64;

    // One product in both math modes: (exact, default mode, TF32 mode), all as double.
    private static (double[] Exact, double[] Plain, double[] Tf32, float[] A, float[] B) Tf32Run(nint h, CUdeviceptr da, CUdeviceptr db, CUdeviceptr dc)
    {
        var a = ToFloat(Random(12, Tm * Tk));
        var b = ToFloat(Random(13, Tk * Tn));
        var exact = new double[Tm * Tn];
        CpuColumnMajor(BlasOp.N, BlasOp.N, Tm, Tn, Tk, 1, ToDouble(a), Tm, ToDouble(b), Tk, 0, exact, Tm);
        fixed (float* pa = a, pb = b)
        {
            Driver.CopyHtoD(da, pa, (ulong)(a.Length * 4));
            Driver.CopyHtoD(db, pb, (ulong)(b.Length * 4));
        }
        CuBlas.SetMathMode(h, BlasMath.Default);
        CuBlas.Sgemm(h, BlasOp.N, BlasOp.N, Tm, Tn, Tk, 1, da, Tm, db, Tk, 0, dc, Tm);
        var plain = ToDouble(Download<float>(dc, Tm * Tn));
        CuBlas.SetMathMode(h, BlasMath.Tf32TensorOp);
        CuBlas.Sgemm(h, BlasOp.N, BlasOp.N, Tm, Tn, Tk, 1, da, Tm, db, Tk, 0, dc, Tm);
        var tf32 = ToDouble(Download<float>(dc, Tm * Tn));
        CuBlas.SetMathMode(h, BlasMath.Default);
        return (exact, plain, tf32, a, b);
    }

    [GpuFact]
    public void Tf32ModeCostsAboutAThousandthWhileTheDefaultModeIsExact()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        var (exact, plain, tf32, _, _) = Tf32Run(h, d.Alloc<float>(Tm * Tk), d.Alloc<float>(Tk * Tn), d.Alloc<float>(Tm * Tn));
        Near(exact, plain, 1e-5, "default math mode");
        double worst = exact.Zip(tf32, (x, y) => Math.Abs(x - y) / (1 + Math.Abs(x))).Max();
        Assert.InRange(worst, 1e-5, 1e-2);
        CuBlas.Destroy(h);
    }

    // TF32 keeps 10 fraction bits, rounded to nearest with ties away from zero (cvt.rna.tf32.f32).
    private static float Tf32(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if ((bits & 0x7F800000) == 0x7F800000) return x;
        return BitConverter.UInt32BitsToSingle((bits + 0x1000) & ~0x1FFFu);
    }

    [EmulatedLibraryFact]
    public void Tf32IsTheProductOfRoundedInputsInBothWaysOfAskingForIt()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        var (da, db, dc) = (d.Alloc<float>(Tm * Tk), d.Alloc<float>(Tk * Tn), d.Alloc<float>(Tm * Tn));
        var (_, _, tf32, a, b) = Tf32Run(h, da, db, dc);
        var rounded = new double[Tm * Tn];
        CpuColumnMajor(BlasOp.N, BlasOp.N, Tm, Tn, Tk, 1, ToDouble(a.Select(Tf32).ToArray()), Tm, ToDouble(b.Select(Tf32).ToArray()), Tk, 0, rounded, Tm);
        Near(rounded, tf32, 1e-5, "math mode 3 = the product of TF32-rounded inputs");
        // Compute type 32F_FAST_TF32 rounds under the default math mode too, bit for bit as mode 3.
        float one = 1, zero = 0;
        CuBlas.GemmStridedBatchedEx(h, BlasOp.N, BlasOp.N, Tm, Tn, Tk, &one, da, BlasDataType.R32F, Tm, 0, db, BlasDataType.R32F, Tk, 0,
            &zero, dc, BlasDataType.R32F, Tm, 0, 1, BlasCompute.F32FastTf32);
        Assert.Equal(tf32, ToDouble(Download<float>(dc, Tm * Tn)));
        CuBlas.Destroy(h);
    }

    [GpuFact]
    public void BetaZeroOverwritesNaNAndAlphaZeroReadsNoOperand()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        const int m = 4, n = 3, k = 2;
        var a = AsFloats(Random(14, m * k));
        var b = AsFloats(Random(15, k * n));
        var want = new double[m * n];
        CpuColumnMajor(BlasOp.N, BlasOp.N, m, n, k, 1, a, m, b, k, 0, want, m);
        var c = d.NaNs<float>(m * n);
        CuBlas.Sgemm(h, BlasOp.N, BlasOp.N, m, n, k, 1, d.Upload(ToFloat(a)), m, d.Upload(ToFloat(b)), k, 0, c, m);
        var got = Download<float>(c, m * n);
        Near(want, ToDouble(got), 1e-6, "β = 0 over a NaN C");

        // α = 0: A and B are never read, so their NaNs cannot reach C = β·C.
        CuBlas.Sgemm(h, BlasOp.N, BlasOp.N, m, n, k, 0, d.NaNs<float>(m * k), m, d.NaNs<float>(k * n), k, 2, c, m);
        Assert.Equal(got.Select(x => 2 * x).ToArray(), Download<float>(c, m * n));
        CuBlas.Destroy(h);
    }

    [GpuFact]
    public void DevicePointerModeReadsAlphaAndBetaFromDeviceMemory()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        const int m = 2, n = 2, k = 3;
        var a = Random(16, m * k);
        var b = Random(17, k * n);
        var want = new double[m * n];
        CpuColumnMajor(BlasOp.N, BlasOp.N, m, n, k, 3, a, m, b, k, 0, want, m);
        var (alpha, beta, c) = (d.Upload(new[] { 3.0 }), d.Upload(new[] { 0.0 }), d.Alloc<double>(m * n));
        CuBlas.SetPointerMode(h, 1);
        CuBlas.GemmStridedBatchedEx(h, BlasOp.N, BlasOp.N, m, n, k, (void*)alpha.Address, d.Upload(a), BlasDataType.R64F, m, 0,
            d.Upload(b), BlasDataType.R64F, k, 0, (void*)beta.Address, c, BlasDataType.R64F, m, 0, 1, BlasCompute.F64);
        Driver.Synchronize();
        Near(want, Download<double>(c, m * n), 1e-14, "α, β from device memory");
        CuBlas.Destroy(h);
    }

    [EmulatedLibraryFact]
    public void BadArgumentsGiveCuBlasStatusCodesAndSayWhy()
    {
        using var d = new DeviceArrays();
        var h = CuBlas.Create();
        const int m = 4, n = 4, k = 4;
        var (a, b, c) = (d.Upload(new float[16]), d.Upload(new float[16]), d.Upload(new float[16]));
        void Sgemm(BlasOp ta, BlasOp tb, int mm, int nn, int kk, CUdeviceptr pa, int lda, CUdeviceptr pb, int ldb, CUdeviceptr pc, int ldc) =>
            CuBlas.Sgemm(h, ta, tb, mm, nn, kk, 1, pa, lda, pb, ldb, 0, pc, ldc);

        Fails(7, "cublasOperation_t", () => Sgemm((BlasOp)3, BlasOp.N, m, n, k, a, m, b, k, c, m));
        Fails(7, "none may be negative", () => Sgemm(BlasOp.N, BlasOp.N, -1, n, k, a, m, b, k, c, m));
        Fails(7, "lda = 3", () => Sgemm(BlasOp.N, BlasOp.N, m, n, k, a, m - 1, b, k, c, m));
        Fails(7, "ldb = 2", () => Sgemm(BlasOp.N, BlasOp.T, m, 3, k, a, m, b, 2, c, m));
        Fails(7, "ldc = 3", () => Sgemm(BlasOp.N, BlasOp.N, m, n, k, a, m, b, k, c, m - 1));
        Fails(13, "operand A", () => Sgemm(BlasOp.N, BlasOp.N, m, n, k, a, m + 1, b, k, c, m));
        var host = (float*)NativeMemory.AllocZeroed(16 * sizeof(float));  // memory the emulator did not allocate
        Fails(13, "operand B", () => Sgemm(BlasOp.N, BlasOp.N, m, n, k, a, m, new CUdeviceptr((ulong)host), k, c, m));
        NativeMemory.Free(host);
        var freed = Driver.MemAlloc(64);
        Driver.MemFree(freed);
        Fails(13, "freed", () => Sgemm(BlasOp.N, BlasOp.N, m, n, k, a, m, b, k, freed, m));

        Fails(7, "batchCount", () => CuBlas.SgemmStridedBatched(h, BlasOp.N, BlasOp.N, m, n, k, 1, a, m, 0, b, k, 0, 0, c, m, 16, -1));
        Fails(7, "overlap", () => CuBlas.SgemmStridedBatched(h, BlasOp.N, BlasOp.N, 2, 2, 2, 1, a, 2, 0, b, 2, 0, 0, c, 2, 3, 2));
        var scalars = (double*)NativeMemory.AllocZeroed(2 * sizeof(double));
        Fails(15, "not a supported combination", () => CuBlas.GemmStridedBatchedEx(h, BlasOp.N, BlasOp.N, m, n, k, scalars, a, BlasDataType.R64F, m, 0,
            b, BlasDataType.R64F, k, 0, scalars + 1, c, BlasDataType.R64F, m, 0, 1, BlasCompute.F32));
        NativeMemory.Free(scalars);

        Fails(7, "mode 1", () => CuBlas.SetMathMode(h, (BlasMath)1));
        Fails(7, "mode 2", () => CuBlas.SetPointerMode(h, 2));
        Fails(7, "not aligned", () => CuBlas.SetWorkspace(h, c.Offset(8), 16));
        Fails(7, "not a live stream", () => CuBlas.SetStream(h, 0x1234));
        // The engine's Sgemm passes host scalars: the wrong side once the pointer mode says device.
        CuBlas.SetPointerMode(h, 1);
        Fails(13, "pointer mode is device", () => Sgemm(BlasOp.N, BlasOp.N, m, n, k, a, m, b, k, c, m));
        CuBlas.Destroy(h);
        Fails(1, "destroyed", () => Sgemm(BlasOp.N, BlasOp.N, m, n, k, a, m, b, k, c, m));
        Fails(1, "destroyed", () => CuBlas.Destroy(h));

        // No current context on a fresh thread: cublasCreate_v2 is NOT_INITIALIZED.
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { Fails(1, "no CUDA context", () => CuBlas.Create()); }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        Assert.Null(failure);
    }
}
