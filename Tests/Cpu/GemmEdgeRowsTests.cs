using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// A last A panel with few live rows (M = 64 on a 12-row tile leaves 4) goes through a kernel that computes only
/// those rows: each element must come out with the bits the full 12-row tile gives it, whatever the kernels.
/// </summary>
public unsafe class GemmEdgeRowsTests
{
    [Theory]
    [InlineData(16, 70, 300)]  // 4 live rows, a column edge too
    [InlineData(20, 64, 500)]  // 8 live rows, two k blocks
    [InlineData(13, 33, 7)]    // 1 live row
    [InlineData(64, 96, 576)]  // the 3x3 conv's forward shape: 5 full panels and 4 rows
    public void EdgeRowsGiveTheFullTilesBits(int m, int n, int k)
    {
        Check<float>(m, n, k);
        Check<double>(m, n, k);
    }

    private static void Check<T>(int m, int n, int k) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        // The same rows computed as the first m of a product whose row count is a multiple of 12: every row
        // then sits in a full tile. Each element is its own chain of operations, so the bits must agree.
        int full = (m + 11) / 12 * 12;
        var rng = new Random(m * 7919 + n * 31 + k);
        var a = new T[full * k];
        var b = new T[k * n];
        for (int i = 0; i < a.Length; i++) a[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        var few = new T[m * n];
        var all = new T[full * n];
        fixed (T* pa = a, pb = b, pf = few, pl = all)
        {
            CpuGemm.Gemm(m, n, k, null, pa, k, 1, null, pb, n, 1, false, pf, n);
            CpuGemm.Gemm(full, n, k, null, pa, k, 1, null, pb, n, 1, false, pl, n);
        }
        for (int e = 0; e < few.Length; e++)
            Assert.True(few[e].Equals(all[e]),
                $"{typeof(T).Name}: C[{e / n},{e % n}] is {few[e]} with {m} rows, {all[e]} with {full} (n {n}, k {k}, {CpuGemm.KernelName})");
    }
}
