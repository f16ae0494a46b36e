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

    // Panels of lanes adjacent in memory with the k steps a row apart (an A read transposed): several whole panels go
    // step by step in groups of six; they must give the panel-by-panel loop's bits, and each element its source.
    [Theory]
    [InlineData(12, 512, 512, 512, 0, 43)]   // the bench matmul's Aᵀ, all 43 panels (the last of 8 lanes): 7 groups, a ragged panel
    [InlineData(12, 72, 512, 512, 0, 6)]     // one two-thread work item's rows: one group
    [InlineData(12, 100, 9, 300, 2, 9)]      // from panel 2, fewer steps than the prefetch distance, the last panel ragged
    [InlineData(32, 96, 40, 100, 0, 3)]      // B-wide panels, a short row (no prefetch)
    [InlineData(6, 13, 5, 13, 0, 3)]         // two whole panels, then one lane
    [InlineData(16, 16, 7, 64, 0, 1)]        // one panel: the panel loop
    public void ContiguousLanesStepByStepGiveThePanelLoopsBits(int width, int extent, int kc, int kStride, int firstPanel, int endPanel)
    {
        CheckStepByStep<float>(width, extent, kc, kStride, firstPanel, endPanel);
        CheckStepByStep<double>(width, extent, kc, kStride, firstPanel, endPanel);
    }

    private static void CheckStepByStep<T>(int width, int extent, int kc, int kStride, int firstPanel, int endPanel)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Random(width * 7 + extent * 31 + kc);
        var src = new T[(long)kc * kStride + extent];
        for (int i = 0; i < src.Length; i++) src[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        long size = (long)endPanel * width * kc;
        var grouped = new T[size];
        var panels = new T[size];
        Array.Fill(grouped, T.NaN);
        Array.Fill(panels, T.NaN);
        fixed (T* s = src, g = grouped, p = panels)
        {
            GemmPack.Pack(g, s, 1, kStride, extent, kc, width, firstPanel, endPanel);
            try
            {
                GemmPack.PanelByPanel = true;
                GemmPack.Pack(p, s, 1, kStride, extent, kc, width, firstPanel, endPanel);
            }
            finally
            {
                GemmPack.PanelByPanel = false;
            }
        }
        var gb = System.Runtime.InteropServices.MemoryMarshal.AsBytes(grouped.AsSpan());
        Assert.True(gb.SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(panels.AsSpan())), $"{typeof(T).Name}: the groups differ from the panel loop");
        for (long e = (long)firstPanel * width * kc; e < size; e++)
        {
            long panel = e / ((long)width * kc), within = e % ((long)width * kc);
            long lane = panel * width + within % width, step = within / width;
            T expected = lane < extent ? src[step * kStride + lane] : T.Zero;
            Assert.True(expected.Equals(grouped[e]), $"{typeof(T).Name} panel {panel}, step {step}, lane {lane}: {grouped[e]}, expected {expected}");
        }
    }
}
