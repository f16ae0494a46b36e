using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// CpuGemm with self-packing operands and a C split into column blocks (the convolution's entry point)
/// against the strided public GEMM on the same matrices: the same kernels, so the same bits.
/// </summary>
public unsafe class GemmOperandTests
{
    /// <summary>A row-major matrix seen as A (lanes = rows) or as B (lanes = columns), packed element by element.</summary>
    private sealed class Matrix(double* data, int cols, bool lanesAreRows) : GemmOperand<double>
    {
        private readonly double* _data = data;

        public override void PackPanel(double* dst, long lane0, int lanes, int width, int step0, int steps)
        {
            for (int p = 0; p < steps; p++)
                for (int l = 0; l < width; l++)
                    dst[p * width + l] = l >= lanes ? 0
                        : lanesAreRows ? _data[(lane0 + l) * cols + step0 + p] : _data[(long)(step0 + p) * cols + lane0 + l];
        }
    }

    [Theory]
    [InlineData(13, 70, 5, 7, false)]    // blocks narrower than a panel
    [InlineData(25, 100, 400, 33, true)] // blocks across panels, several k blocks, accumulate
    [InlineData(1, 40, 3, 40, false)]    // one block
    [InlineData(30, 64, 17, 32, true)]
    [InlineData(4, 9, 2, 0, false)]      // tiny: still the packed path
    public void OperandsAndColumnBlocksGiveTheStridedGemmsBits(int m, int n, int k, int cBlock, bool accumulate)
    {
        foreach (var (avx2, portable) in new[] { (false, false), (true, false), (false, true) })
        {
            CpuGemm.ForceAvx2 = avx2;
            CpuGemm.ForcePortable = portable;
            long savedDirect = CpuGemm.DirectPathMaxWork;
            try
            {
                CpuGemm.DirectPathMaxWork = 0;
                Check(m, n, k, cBlock, accumulate, $"avx2 {avx2}, portable {portable}");
            }
            finally
            {
                CpuGemm.DirectPathMaxWork = savedDirect;
                CpuGemm.ForceAvx2 = false;
                CpuGemm.ForcePortable = false;
            }
        }
    }

    private static void Check(int m, int n, int k, int cBlock, bool accumulate, string what)
    {
        var rng = new Random(m * 1000 + n + k);
        double[] a = Fill(rng, m * k), b = Fill(rng, k * n), c0 = Fill(rng, m * n);
        int width = cBlock == 0 ? n : cBlock, blocks = (n + width - 1) / width;
        long blockStride = (long)m * width + 3; // gaps between blocks stay untouched
        var expected = (double[])c0.Clone();
        var blocked = new double[blocks * blockStride];
        Array.Fill(blocked, double.NaN);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) blocked[j / width * blockStride + (long)i * width + j % width] = c0[i * n + j];
        fixed (double* pa = a, pb = b, pe = expected, pc = blocked)
        {
            CpuGemm.Gemm(m, n, k, 1.0, pa, k, 1, pb, n, 1, accumulate ? 1.0 : 0.0, pe, n);
            CpuGemm.Gemm(m, n, k, new Matrix(pa, k, true), null, 0, 0, new Matrix(pb, n, false), null, 0, 0, accumulate, pc, width, cBlock, blockStride);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double got = blocked[j / width * blockStride + (long)i * width + j % width];
                Assert.True(BitConverter.DoubleToInt64Bits(expected[i * n + j]) == BitConverter.DoubleToInt64Bits(got),
                    $"{what}: C[{i},{j}] is {got:R}, the strided GEMM gives {expected[i * n + j]:R} (m {m}, n {n}, k {k}, block {cBlock})");
            }
        for (long e = 0; e < blocked.Length; e++)
            if (e % blockStride >= (long)m * width) Assert.True(double.IsNaN(blocked[e]), $"{what}: the gap at {e} was written");
    }

    [Fact]
    public void KZeroZeroesEveryBlockOrLeavesCWhenAccumulating()
    {
        var c = new double[] { 1, 2, 9, 3, 4, 9 }; // two 1x2 blocks of a 1x4 C, stride 3
        fixed (double* pc = c)
        {
            CpuGemm.Gemm(1, 4, 0, null, (double*)8, 1, 1, null, (double*)8, 1, 1, true, pc, 2, 2, 3);
            Assert.Equal([1, 2, 9, 3, 4, 9], c);
            CpuGemm.Gemm(1, 4, 0, null, (double*)8, 1, 1, null, (double*)8, 1, 1, false, pc, 2, 2, 3);
        }
        Assert.Equal([0, 0, 9, 0, 0, 9], c);
    }

    private static double[] Fill(Random rng, int count) => Enumerable.Range(0, count).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
}
