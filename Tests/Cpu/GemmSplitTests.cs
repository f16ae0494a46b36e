using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// <see cref="CpuGemm.ItemsPerWorker"/> and <see cref="CpuGemm.Split"/>: cutting a product into more or fewer work items
/// per worker, by rows or by columns, changes which thread computes a tile, never a tile's operations, so the bits stay
/// those of one thread; bad values are rejected.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public unsafe class GemmSplitTests
{
    [Theory]
    [InlineData(400, 300, 800)]   // several k blocks, rows split
    [InlineData(2044, 40, 600)]   // 171 twelve-row panels (the last of 4 rows), two k blocks: many row items
    [InlineData(12, 2000, 300)]   // one row panel: the columns split
    [InlineData(64, 256, 2000)]   // deep and narrow: one fork over all k blocks
    [InlineData(256, 128, 2100)]  // a pointwise weight gradient's shape, 5 k blocks in one fork: 2 row items of 8+ panels (f32)
    [InlineData(96, 130, 5400)]   // one fork over the k blocks, 8 row panels, 2^26+ multiply-adds: as few row items as workers
    public void ItemsPerWorker_DoesNotChangeTheBits(int m, int n, int k)
    {
        Check<float>(m, n, k);
        Check<double>(m, n, k);
    }

    // Shapes on either side of the driver's column-split rule for an A of at most one MC row block in front of a wide B
    // (GemmDriver.ShortWideA, from 2^26 multiply-adds; the AVX-512 f32 kernel: 12 x 32 tiles, MC 384; f64: 12 x 16, MC 192), each also with the
    // split forced both ways: the bits must be those of one thread whichever way the items cut C.
    [Theory]
    [InlineData(256, 4100, 128)]  // the bench's conv2d_1x1 forward, narrower: columns, a second column block of 4 columns
    [InlineData(128, 2048, 256)]  // its input gradient's shape (m 128, k 256), 2^26 multiply-adds: columns
    [InlineData(128, 2047, 256)]  // one column fewer, below the size for the rule: rows
    [InlineData(384, 1024, 600)]  // f32: m = MC, as many column as row panels, two k blocks: columns; f64: m > MC, rows
    [InlineData(385, 1024, 300)]  // f32: one row past MC: rows
    [InlineData(240, 620, 460)]   // f32: 20 row panels, 20 column panels: columns; 19 column panels (612 wide): rows
    [InlineData(240, 612, 460)]
    [InlineData(48, 250, 400)]    // below the size for the rule: the columns split only because A has fewer panels than the items
    [InlineData(384, 2048, 700)]  // f32: the packed A (32 panels x 700 deep) is past 1 MiB: rows
    public void TheSplitOfAShortWideA_DoesNotChangeTheBits(int m, int n, int k)
    {
        byte[]? f32 = null, f64 = null;
        foreach (var split in new[] { GemmSplit.Auto, GemmSplit.Rows, GemmSplit.Columns })
        {
            CpuGemm.Split = split;
            try
            {
                byte[] single = Check<float>(m, n, k), dbl = Check<double>(m, n, k);
                Assert.True((f32 ??= single).SequenceEqual(single), $"float {m}x{n}x{k}: split {split} differs from Auto");
                Assert.True((f64 ??= dbl).SequenceEqual(dbl), $"double {m}x{n}x{k}: split {split} differs from Auto");
            }
            finally
            {
                CpuGemm.Split = GemmSplit.Auto;
            }
        }
    }

    // Mid-size products in one k block get twice the default row items (GemmDriver.RowItems, 2^24 to 2^28 multiply-adds):
    // the bits must be those of one thread with and without the rule, on 1-3 threads.
    [Theory]
    [InlineData(512, 512, 512)]   // the bench's matmul: 43 panels (the last of 8 rows) in 16 items instead of 8
    [InlineData(256, 256, 256)]   // 2^24 exactly: the rule's smallest product
    [InlineData(255, 256, 256)]   // just below it
    [InlineData(640, 640, 640)]   // 2.6e8, just below 2^28
    [InlineData(517, 300, 700)]   // two k blocks: the rule does not apply
    [InlineData(1000, 37, 500)]   // 84 panels, one column panel and a ragged one
    public void FinerRowItems_DoNotChangeTheBits(int m, int n, int k)
    {
        byte[]? f32 = null, f64 = null;
        foreach (bool coarse in new[] { false, true })
        {
            CpuGemm.CoarseRowItems = coarse;
            try
            {
                byte[] single = Check<float>(m, n, k), dbl = Check<double>(m, n, k);
                Assert.True((f32 ??= single).SequenceEqual(single), $"float {m}x{n}x{k}: coarse {coarse} differs");
                Assert.True((f64 ??= dbl).SequenceEqual(dbl), $"double {m}x{n}x{k}: coarse {coarse} differs");
            }
            finally
            {
                CpuGemm.CoarseRowItems = false;
            }
        }
    }

    [Fact]
    public void FinerRowItems_ApplyToMidSizeProductsInOneKBlock()
    {
        Assert.Equal(16, GemmDriver<float, Avx512KernelF32>.RowItems(8, 512, 512, 512, 1));
        Assert.Equal(16, GemmDriver<double, Avx2KernelF64>.RowItems(8, 256, 256, 256, 1));
        Assert.Equal(8, GemmDriver<float, Avx512KernelF32>.RowItems(8, 255, 256, 256, 1));   // below 2^24
        Assert.Equal(8, GemmDriver<float, Avx512KernelF32>.RowItems(8, 1024, 512, 513, 1));  // past 2^28
        Assert.Equal(8, GemmDriver<float, Avx512KernelF32>.RowItems(8, 512, 512, 1024, 2));  // two k blocks
        Assert.Equal(1, GemmDriver<float, Avx512KernelF32>.RowItems(1, 512, 512, 512, 1));   // one thread
        try
        {
            CpuGemm.ItemsPerWorker = 6;   // a value set for a benchmark is kept as it is
            Assert.Equal(12, GemmDriver<float, Avx512KernelF32>.RowItems(12, 512, 512, 512, 1));
            CpuGemm.ItemsPerWorker = CpuGemm.DefaultItemsPerWorker;
            CpuGemm.CoarseRowItems = true;
            Assert.Equal(8, GemmDriver<float, Avx512KernelF32>.RowItems(8, 512, 512, 512, 1));
        }
        finally
        {
            CpuGemm.ItemsPerWorker = CpuGemm.DefaultItemsPerWorker;
            CpuGemm.CoarseRowItems = false;
        }
    }

    [Fact]
    public void ItemsPerWorker_RejectsValuesOutsideOneTo64()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.ItemsPerWorker = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.ItemsPerWorker = 65);
        Assert.Equal(CpuGemm.DefaultItemsPerWorker, CpuGemm.ItemsPerWorker);
    }

    private static byte[] Check<T>(int m, int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(m + n + k);
        var a = new T[m * k];
        var b = new T[k * n];
        for (int i = 0; i < a.Length; i++) a[i] = T.CreateTruncating(rng.NextDouble() - 0.5);
        for (int i = 0; i < b.Length; i++) b[i] = T.CreateTruncating(rng.NextDouble() - 0.5);
        T[]? reference = null;
        int savedThreads = CpuParallel.ThreadCount;
        try
        {
            foreach (var (threads, items) in new[] { (1, 4), (2, 1), (2, 4), (2, 8), (3, 16), (2, 64) })
            {
                CpuParallel.ThreadCount = threads;
                CpuGemm.ItemsPerWorker = items;
                var c = new T[m * n];
                fixed (T* pa = a, pb = b, pc = c)
                {
                    if (typeof(T) == typeof(float))
                        CpuGemm.Gemm(m, n, k, 1f, (float*)pa, k, 1, (float*)pb, n, 1, 0f, (float*)pc, n);
                    else
                        CpuGemm.Gemm(m, n, k, 1.0, (double*)pa, k, 1, (double*)pb, n, 1, 0.0, (double*)pc, n);
                }
                reference ??= c;
                Assert.True(MemoryMarshal.AsBytes(reference.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(c.AsSpan())),
                    $"{typeof(T).Name} {m}x{n}x{k}: {threads} threads, {items} items per worker differ from 1 thread");
            }
        }
        finally
        {
            CpuParallel.ThreadCount = savedThreads;
            CpuGemm.ItemsPerWorker = CpuGemm.DefaultItemsPerWorker;
        }
        return MemoryMarshal.AsBytes(reference!.AsSpan()).ToArray();
    }
}
