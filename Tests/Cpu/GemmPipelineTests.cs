using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// <see cref="CpuGemm.PipelineKBlocks"/>: the k blocks of a row-split product in one fork (two packed B blocks in turn,
/// items of block p + 1 started while block p finishes) must give the bits of one fork per k block and of one thread,
/// on 1 to 3 threads, for edge panels, several column blocks, alpha and beta, and a pre-packed A (the tests pipeline
/// from any size: <see cref="CpuGemm.PipelineMinWork"/> 0).
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public unsafe class GemmPipelineTests
{
    // Every shape has a packed B (all of k) past the 4 MiB of the driver's one-fork-over-all-k path for f32 (and f64),
    // more row panels than items, and two or more k blocks: the shapes the pipeline takes.
    [Theory]
    [InlineData(400, 1100, 1100, true)]   // 3 k blocks of 367: the ring's first buffer is used again; alpha and beta
    [InlineData(500, 520, 2600, false)]   // 6 k blocks of 434; 500 = 41 x 12 + 8 rows (an 8-row edge panel); 520 columns: a partial B panel
    [InlineData(1022, 1040, 1030, false)] // 86 twelve-row panels (the last of 2 rows); k 1030: 3 blocks of 344
    [InlineData(390, 4100, 520, false)]   // two column blocks (NC 4096) of one fork each; 2 k blocks of 260
    public void PipelinedKBlocks_HaveTheBitsOfOneForkPerBlock(int m, int n, int k, bool scaled)
    {
        Check<float>(m, n, k, 1f, 0f);
        Check<double>(m, n, k, 1.0, 0.0);
        if (!scaled) return;
        Check<float>(m, n, k, 1.5f, 0.5f);
        Check<double>(m, n, k, -0.75, 2.0);
    }

    [Fact]
    public void APrePackedA_IsPipelinedWithTheSameBits()
    {
        const int m = 300, n = 1200, k = 1300;
        var (a, b) = Inputs<double>(m, n, k);
        byte[]? reference = null;
        int savedThreads = CpuParallel.ThreadCount;
        try
        {
            fixed (double* pa = a, pb = b)
            {
                using var packed = new GemmPackedA<double>(m, k, pa, k, 1);
                foreach (var (threads, pipeline) in new[] { (1, false), (2, false), (2, true), (3, true), (1, true) })
                {
                    CpuParallel.ThreadCount = threads;
                    CpuGemm.PipelineKBlocks = pipeline;
                    CpuGemm.PipelineMinWork = 0;
                    var c = new double[m * n];
                    fixed (double* pc = c) CpuGemm.Gemm(packed, n, null, pb, n, 1, false, pc, n);
                    byte[] bits = MemoryMarshal.AsBytes(c.AsSpan()).ToArray();
                    reference ??= bits;
                    Assert.True(reference.AsSpan().SequenceEqual(bits), $"pre-packed A {m}x{n}x{k}: {threads} threads, pipeline {pipeline} differ from 1 thread");
                }
            }
        }
        finally
        {
            CpuParallel.ThreadCount = savedThreads;
            CpuGemm.PipelineKBlocks = true;
            CpuGemm.PipelineMinWork = CpuGemm.DefaultPipelineMinWork;
        }
    }

    [Fact]
    public void ThePipelineIsOnByDefault_FromTwoToThe31MultiplyAdds()
    {
        Assert.True(CpuGemm.PipelineKBlocks);
        Assert.Equal(CpuGemm.DefaultPipelineMinWork, CpuGemm.PipelineMinWork);
        Assert.Equal(2147483648.0, CpuGemm.PipelineMinWork);
    }

    private static void Check<T>(int m, int n, int k, T alpha, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (a, b) = Inputs<T>(m, n, k);
        var start = new T[m * n];
        var rng = new Random(7);
        for (int i = 0; i < start.Length; i++) start[i] = T.CreateTruncating(rng.NextDouble() - 0.5);
        byte[]? reference = null;
        int savedThreads = CpuParallel.ThreadCount;
        try
        {
            // One thread without the pipeline first: the reference; then both schedules on several threads.
            foreach (var (threads, pipeline, items) in new[] { (1, false, 4), (2, false, 4), (2, true, 4), (3, true, 4), (2, true, 1), (2, true, 16), (1, true, 4) })
            {
                CpuParallel.ThreadCount = threads;
                CpuGemm.PipelineKBlocks = pipeline;
                CpuGemm.PipelineMinWork = 0;
                CpuGemm.ItemsPerWorker = items;
                var c = (T[])start.Clone();
                fixed (T* pa = a, pb = b, pc = c)
                {
                    if (typeof(T) == typeof(float))
                        CpuGemm.Gemm(m, n, k, float.CreateTruncating(alpha), (float*)pa, k, 1, (float*)pb, n, 1, float.CreateTruncating(beta), (float*)pc, n);
                    else
                        CpuGemm.Gemm(m, n, k, double.CreateTruncating(alpha), (double*)pa, k, 1, (double*)pb, n, 1, double.CreateTruncating(beta), (double*)pc, n);
                }
                byte[] bits = MemoryMarshal.AsBytes(c.AsSpan()).ToArray();
                reference ??= bits;
                Assert.True(reference.AsSpan().SequenceEqual(bits),
                    $"{typeof(T).Name} {m}x{n}x{k} alpha {alpha} beta {beta}: {threads} threads, pipeline {pipeline}, {items} items per worker differ from 1 thread");
            }
        }
        finally
        {
            CpuParallel.ThreadCount = savedThreads;
            CpuGemm.PipelineKBlocks = true;
            CpuGemm.PipelineMinWork = CpuGemm.DefaultPipelineMinWork;
            CpuGemm.ItemsPerWorker = CpuGemm.DefaultItemsPerWorker;
        }

        // And the values: sampled elements against a float64 dot product.
        var check = (T[])start.Clone();
        fixed (T* pa = a, pb = b, pc = check)
        {
            CpuParallel.ThreadCount = 2;
            CpuGemm.PipelineKBlocks = true;
            CpuGemm.PipelineMinWork = 0;
            try
            {
                if (typeof(T) == typeof(float))
                    CpuGemm.Gemm(m, n, k, float.CreateTruncating(alpha), (float*)pa, k, 1, (float*)pb, n, 1, float.CreateTruncating(beta), (float*)pc, n);
                else
                    CpuGemm.Gemm(m, n, k, double.CreateTruncating(alpha), (double*)pa, k, 1, (double*)pb, n, 1, double.CreateTruncating(beta), (double*)pc, n);
            }
            finally
            {
                CpuParallel.ThreadCount = savedThreads;
                CpuGemm.PipelineKBlocks = true;
                CpuGemm.PipelineMinWork = CpuGemm.DefaultPipelineMinWork;
            }
        }
        for (int s = 0; s < 64; s++)
        {
            int i = rng.Next(m), j = rng.Next(n);
            double sum = 0, scale = 0;
            for (int p = 0; p < k; p++)
            {
                double prod = double.CreateTruncating(a[i * k + p]) * double.CreateTruncating(b[p * n + j]);
                sum += prod;
                scale += Math.Abs(prod);
            }
            double expected = double.CreateTruncating(alpha) * sum + double.CreateTruncating(beta) * double.CreateTruncating(start[i * n + j]);
            double tolerance = (typeof(T) == typeof(float) ? 1e-5 : 1e-13) * (scale + 1);
            Assert.True(Math.Abs(double.CreateTruncating(check[i * n + j]) - expected) <= tolerance,
                $"{typeof(T).Name} {m}x{n}x{k}: C[{i},{j}] = {check[i * n + j]}, expected {expected}");
        }
    }

    private static (T[] A, T[] B) Inputs<T>(int m, int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(m + 3 * n + 7 * k);
        var a = new T[m * k];
        var b = new T[k * n];
        for (int i = 0; i < a.Length; i++) a[i] = T.CreateTruncating(rng.NextDouble() - 0.5);
        for (int i = 0; i < b.Length; i++) b[i] = T.CreateTruncating(rng.NextDouble() - 0.5);
        return (a, b);
    }
}
