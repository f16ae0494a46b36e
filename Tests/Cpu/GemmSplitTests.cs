using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// <see cref="CpuGemm.ItemsPerWorker"/>: cutting a product into more or fewer work items per worker changes which
/// thread computes a tile, never a tile's operations, so the bits stay those of one thread; bad values are rejected.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public unsafe class GemmSplitTests
{
    [Theory]
    [InlineData(400, 300, 800)]   // several k blocks, rows split
    [InlineData(2044, 40, 600)]   // 171 twelve-row panels (the last of 4 rows), two k blocks: many row items
    [InlineData(12, 2000, 300)]   // one row panel: the columns split
    [InlineData(64, 256, 2000)]   // deep and narrow: one fork over all k blocks
    public void ItemsPerWorker_DoesNotChangeTheBits(int m, int n, int k)
    {
        Check<float>(m, n, k);
        Check<double>(m, n, k);
    }

    [Fact]
    public void ItemsPerWorker_RejectsValuesOutsideOneTo64()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.ItemsPerWorker = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.ItemsPerWorker = 65);
        Assert.Equal(CpuGemm.DefaultItemsPerWorker, CpuGemm.ItemsPerWorker);
    }

    private static void Check<T>(int m, int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
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
    }
}
