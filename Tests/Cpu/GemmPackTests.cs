using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>The packers' vector paths against their element-by-element loops: pure copies, so the same bits.</summary>
public unsafe class GemmPackTests
{
    [Theory]
    [InlineData(32, 32, 384, 1024)] // a transposed B panel of the AVX-512 kernel: gY of a conv's weight gradient
    [InlineData(32, 29, 37, 41)]    // ragged lanes (8x8 groups, then single lanes), ragged steps, zero padding
    [InlineData(16, 16, 8, 16)]     // the AVX2 panel, one group of steps
    [InlineData(12, 9, 20, 9)]      // an edge A panel of the 12-row kernel, lanes adjacent in memory
    [InlineData(8, 8, 3, 5)]        // fewer steps than a transpose takes
    public void LanesAlongKGiveTheScalarLoopsBits(int width, int lanes, int kc, int laneStride)
    {
        var rng = new Random(width * 131 + lanes * 17 + kc);
        var src = new float[(long)lanes * laneStride + kc];
        for (int i = 0; i < src.Length; i++) src[i] = (float)(rng.NextDouble() * 2 - 1);
        var fast = new float[width * kc];
        var scalar = new float[width * kc];
        Array.Fill(fast, float.NaN);
        Array.Fill(scalar, float.NaN);
        fixed (float* s = src, f = fast, c = scalar)
        {
            GemmPack.Pack(f, s, laneStride, 1, lanes, kc, width, 0, 1);
            try
            {
                GemmPack.ScalarTranspose = true;
                GemmPack.Pack(c, s, laneStride, 1, lanes, kc, width, 0, 1);
            }
            finally
            {
                GemmPack.ScalarTranspose = false;
            }
        }
        for (int e = 0; e < fast.Length; e++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(fast[e]) == BitConverter.SingleToInt32Bits(scalar[e]),
                $"step {e / width}, lane {e % width}: {fast[e]:R}, the scalar loop gives {scalar[e]:R}");
            if (e % width < lanes) Assert.Equal(src[(long)(e % width) * laneStride + e / width], fast[e]);
            else Assert.Equal(0f, fast[e]);
        }
    }
}
