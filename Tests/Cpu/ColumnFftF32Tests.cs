using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// ColumnFftF32 (forward DFTs down the columns of a planar float block, the H pass of F32 rfft2) against a
/// DFT in double, for every radix it has (2, 3, 4, 5 and the direct primes up to 31) and for 1; and its
/// bad arguments.
/// </summary>
public unsafe class ColumnFftF32Tests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(2, 8)]
    [InlineData(3, 16)]
    [InlineData(4, 8)]
    [InlineData(5, 24)]
    [InlineData(6, 8)]
    [InlineData(7, 8)]
    [InlineData(8, 16)]
    [InlineData(12, 8)]
    [InlineData(13, 8)]
    [InlineData(25, 8)]
    [InlineData(27, 16)]
    [InlineData(31, 8)]
    [InlineData(32, 24)]
    [InlineData(60, 8)]
    [InlineData(64, 16)]
    [InlineData(98, 8)]
    public void EveryColumnMatchesTheDftInDouble(int n, int lanes)
    {
        var rng = new System.Random(n * 7 + lanes);
        var xr = new float[n * lanes];
        var xi = new float[n * lanes];
        for (int i = 0; i < xr.Length; i++) { xr[i] = (float)(rng.NextDouble() * 2 - 1); xi[i] = (float)(rng.NextDouble() * 2 - 1); }
        var fft = ColumnFftF32.For(n);
        // The block is loaded in the plan's digit-reversed order, as the rfft2 kernel loads it.
        var br = new float[n * lanes];
        var bi = new float[n * lanes];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < lanes; c++) { br[i * lanes + c] = xr[fft.Source[i] * lanes + c]; bi[i * lanes + c] = xi[fft.Source[i] * lanes + c]; }
        fixed (float* pr = br, pi = bi) fft.Forward(pr, pi, lanes);
        for (int c = 0; c < lanes; c++)
        {
            double size = 0;
            var er = new double[n];
            var ei = new double[n];
            for (int u = 0; u < n; u++)
            {
                for (int j = 0; j < n; j++)
                {
                    double a = -2 * Math.PI * ((long)u * j % n) / n;
                    double r = xr[j * lanes + c], im = xi[j * lanes + c];
                    er[u] += r * Math.Cos(a) - im * Math.Sin(a);
                    ei[u] += r * Math.Sin(a) + im * Math.Cos(a);
                }
                size = Math.Max(size, Math.Max(Math.Abs(er[u]), Math.Abs(ei[u])));
            }
            for (int u = 0; u < n; u++)
            {
                double err = Math.Max(Math.Abs(br[u * lanes + c] - er[u]), Math.Abs(bi[u * lanes + c] - ei[u]));
                Assert.True(err <= 2e-6 * size * Math.Max(1, Math.Log2(n)) + 1e-7,
                    $"n={n}, column {c}, bin {u}: ({br[u * lanes + c]}, {bi[u * lanes + c]}) against ({er[u]}, {ei[u]})");
            }
        }
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        Assert.False(ColumnFftF32.Supports(37));
        Assert.False(ColumnFftF32.Supports(0));
        Assert.True(ColumnFftF32.Supports(31 * 29));
        Assert.Contains("prime factor above 31", Assert.Throws<ArgumentOutOfRangeException>(() => ColumnFftF32.For(2 * 37)).Message);
        var fft = ColumnFftF32.For(4);
        var block = new float[4 * 12];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => { fixed (float* p = block) fft.Forward(p, p, 12); });
        Assert.Contains("multiple of 8", ex.Message);
    }
}
