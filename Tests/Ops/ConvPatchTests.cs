using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>
/// Patch convolutions (kernel = stride, no padding, no dilation: <see cref="PatchOperands"/>) against the stored
/// column-matrix path, in both directions, and the patch transposes against their definitions.
/// </summary>
public class ConvPatchTests
{
    /// <summary>
    /// Output and the three gradients, through the column-matrix path or the patch path (forced: by shape it is taken for
    /// rows of 16+ patches only; pointwise shapes take <see cref="PlaneRows{T}"/> and <see cref="PlaneColumns{T}"/>).
    /// </summary>
    internal static double[][] Run(ConvSpec s, DType dtype, ulong seed, bool columnMatrix)
    {
        var previous = ConvGemm.Path;
        try
        {
            ConvGemm.Path = columnMatrix ? ConvGemm.PathChoice.ColumnMatrix : ConvGemm.PathChoice.SelfPacked;
            using var scope = Tensor.Scope();
            var x = Randn(s.InputShape, dtype, seed).RequiresGradInPlace();
            var w = Randn(s.WeightShape, dtype, seed + 1).RequiresGradInPlace();
            var b = Randn([s.Cout], dtype, seed + 2).RequiresGradInPlace();
            var y = s.Run(x, w, b);
            y.Backward(Randn(y.Shape, dtype, seed + 3));
            return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
        }
        finally
        {
            ConvGemm.Path = previous;
        }
    }

    private static readonly string[] Names = ["output", "input gradient", "weight gradient", "bias gradient"];

    /// <summary>A random patch convolution: kernels 1-5 (not 1x1), 1-6 patches a side, inputs not always a whole number of patches.</summary>
    internal static ConvSpec RandomPatch(System.Random r)
    {
        while (true)
        {
            int kh = r.Next(1, 6), kw = r.Next(1, 6);
            if (kh == 1 && kw == 1) continue;
            int groups = r.Next(4) == 0 ? r.Next(2, 4) : 1;
            bool batched = r.Next(5) != 0;
            int n = batched ? (r.Next(20) == 0 ? 0 : r.Next(1, 4)) : 1;
            int ho = r.Next(1, 7), wo = r.Next(4) == 0 ? r.Next(8, 20) : r.Next(1, 7);
            int h = kh * ho + r.Next(kh), w = kw * wo + r.Next(kw);
            return new(n, batched, groups * r.Next(1, 4), h, w, groups * r.Next(1, 5), kh, kw, kh, kw, Groups: groups, Bias: r.Next(2) == 0);
        }
    }

    [Fact]
    public void MatchesTheColumnMatrixPathInF64ForRandomShapes()
    {
        var rng = new System.Random(47);
        for (int i = 0; i < 120; i++)
        {
            var s = RandomPatch(rng);
            var reference = Run(s, DType.F64, (ulong)i, columnMatrix: true);
            var patch = Run(s, DType.F64, (ulong)i, columnMatrix: false);
            for (int k = 0; k < Names.Length; k++)
            {
                Assert.Equal(reference[k].Length, patch[k].Length);
                for (int e = 0; e < reference[k].Length; e++)
                    Assert.True(Math.Abs(reference[k][e] - patch[k][e]) <= 1e-12 * (1 + Math.Abs(reference[k][e])),
                        $"{s}: {Names[k]} element {e} is {patch[k][e]:R}, the column-matrix path gives {reference[k][e]:R}");
            }
        }
    }

    public static TheoryData<ConvSpec> Shapes() => new()
    {
        new(2, true, 3, 64, 64, 96, 4, 4, 4, 4),                 // the bench's stem, two images: whole 16-patch blocks
        new(3, true, 3, 70, 69, 20, 4, 4, 4, 4, Bias: true),     // 17 patches a row (a tail), rows and columns no patch covers
        new(2, true, 5, 8, 36, 7, 2, 4, 2, 4),                   // non-square kernel
        new(2, true, 4, 12, 12, 6, 3, 3, 3, 3, Groups: 2),        // groups, odd patch width
        new(1, false, 2, 5, 5, 3, 5, 5, 5, 5),                   // one patch, unbatched
        new(3, true, 2, 1, 40, 5, 1, 2, 1, 2),                   // a 1x2 patch: one tap row
        new(2, true, 3, 33, 37, 16, 2, 2, 2, 2),                 // 2x2 patches (Sequencer's stem), 18 a row: a block and a tail
        new(2, true, 3, 32, 64, 8, 16, 16, 16, 16),              // 16x16 patches (ViT)
        new(0, true, 3, 8, 8, 4, 4, 4, 4, 4),                    // an empty batch
        new(3, true, 3, 512, 516, 8, 4, 4, 4, 4),                // input gradient in two image chunks (2 + 1) of MaxColumnElements
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheColumnMatrixPathInF32(ConvSpec s)
    {
        var reference = Run(s, DType.F32, 7, columnMatrix: true);
        var patch = Run(s, DType.F32, 7, columnMatrix: false);
        // The weight and bias gradients sum one term per output position of the batch (49,536 for the largest shape,
        // products of unit normals): two correct float summation orders drift apart with the number of terms, by
        // up to about eps * n / 2 for n terms, whatever the (often cancelled) size of the result.
        double positions = Math.Max(1, s.N) * s.Ho * s.Wo;
        double[] drift = [0, 0, 1e-8 * positions, 1e-8 * positions];
        for (int k = 0; k < Names.Length; k++)
        {
            Assert.Equal(reference[k].Length, patch[k].Length);
            for (int e = 0; e < reference[k].Length; e++)
                Assert.True(Math.Abs(reference[k][e] - patch[k][e]) <= 2e-5 * (1 + Math.Abs(reference[k][e])) + drift[k],
                    $"{s}: {Names[k]} element {e} is {patch[k][e]:R}, the column-matrix path gives {reference[k][e]:R}");
        }
    }

    [Fact]
    public void OutputAndInputGradientGiveTheColumnMatrixPathsBits()
    {
        // Large enough that the column-matrix path takes the packed GEMM too: the same sums in the same order, and
        // the input gradient's fold adds each value to zero once.
        var s = new ConvSpec(4, true, 3, 64, 68, 48, 4, 4, 4, 4);
        var reference = Run(s, DType.F32, 5, columnMatrix: true);
        var patch = Run(s, DType.F32, 5, columnMatrix: false);
        Bitwise(reference[0], patch[0], $"{s}: output");
        Bitwise(reference[1], patch[1], $"{s}: input gradient");
    }

    [Theory]
    [InlineData(1, 0, 1)]
    [InlineData(4, 0, 4)]
    [InlineData(2, 0, 2)]
    [InlineData(2, 1, 1)]
    [InlineData(4, 1, 3)]
    [InlineData(4, 2, 1)]
    [InlineData(3, 0, 3)]
    [InlineData(5, 2, 2)]
    [InlineData(16, 0, 16)]
    public unsafe void TransposesMatchTheirDefinitions(int kw, int kx0, int taps)
    {
        foreach (int len in new[] { 0, 1, 7, 8, 9, 15, 16, 17, 33, 40 })
        {
            CheckGather<float>(kw, kx0, taps, len);
            CheckGather<double>(kw, kx0, taps, len);
            if (kx0 == 0 && taps == kw)
            {
                CheckScatter<float>(kw, len);
                CheckScatter<double>(kw, len);
            }
        }
    }

    private static unsafe void CheckGather<T>(int kw, int kx0, int taps, int len) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        const int stride = 45;
        var src = new T[len * kw];
        for (int i = 0; i < src.Length; i++) src[i] = T.CreateTruncating(i + 1);
        var dst = new T[taps * stride];
        fixed (T* s = src, d = dst) PatchTranspose.Gather(s, kw, kx0, taps, len, d, stride);
        for (int j = 0; j < taps; j++)
            for (int q = 0; q < stride; q++)
                Assert.True(dst[j * stride + q] == (q < len ? src[q * kw + kx0 + j] : T.Zero), $"gather {typeof(T).Name} kw {kw} kx0 {kx0} taps {taps} len {len}: tap {j} patch {q}");
    }

    private static unsafe void CheckScatter<T>(int kw, int len) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        const int stride = 43;
        var src = new T[kw * stride];
        for (int i = 0; i < src.Length; i++) src[i] = T.CreateTruncating(i + 1);
        var dst = new T[len * kw + 3];
        fixed (T* s = src, d = dst) PatchTranspose.Scatter(s, stride, kw, len, d);
        for (int q = 0; q < len; q++)
            for (int j = 0; j < kw; j++)
                Assert.True(dst[q * kw + j] == src[j * stride + q], $"scatter {typeof(T).Name} kw {kw} len {len}: tap {j} patch {q}");
        for (int i = len * kw; i < dst.Length; i++) Assert.True(dst[i] == T.Zero, $"scatter kw {kw} len {len} wrote past the row at {i}");
    }
}

/// <summary>The patch path gives the same bits for one and two threads (changes the thread count, so runs alone).</summary>
[Collection(SerialCollection.Name)]
public class ConvPatchDeterminismTests
{
    [Fact]
    public void OneAndTwoThreadsGiveTheSameBits()
    {
        ConvSpec[] specs =
        [
            new(8, true, 3, 64, 64, 96, 4, 4, 4, 4, Bias: true),
            new(6, true, 4, 34, 30, 64, 2, 3, 2, 3, Groups: 2, Bias: true),
        ];
        foreach (var s in specs)
        {
            var one = Run(1, s);
            var two = Run(2, s);
            for (int k = 0; k < one.Length; k++) Bitwise(one[k], two[k], $"{s}: result {k}");
        }
    }

    private static double[][] Run(int threads, ConvSpec s)
    {
        int previous = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            return ConvPatchTests.Run(s, DType.F32, 11, columnMatrix: false);
        }
        finally
        {
            CpuParallel.ThreadCount = previous;
        }
    }
}
