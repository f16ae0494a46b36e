using Engine.Cpu;
using Engine.Randomness;
using Xunit;
using static Engine.Tests.Core.Reference;

namespace Engine.Tests.Cpu;

/// <summary>
/// The float32 row sums (Engine/Cpu/RowSumF32.cs, taken by <c>Sum</c> over the trailing axes of a contiguous tensor):
/// against sums in double at both vector widths, rows of every length around the vector widths and the lane run, row
/// counts that leave rows outside the groups of four; a row gives the same bits in a group of four and alone, and the
/// sums are the same bits for any thread count.
/// </summary>
[Collection(Support.SerialCollection.Name)]
public unsafe class RowSumF32Tests
{
    private static readonly int[] Lengths = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 100, 255, 256, 257, 511, 512, 513, 1024, 1040, 3000];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatchesSumsInDoubleAtEitherWidth(bool use512)
    {
        var rng = new System.Random(use512 ? 81 : 83);
        foreach (int length in Lengths)
        {
            int rows = rng.Next(1, 11);
            double offset = rng.Next(2) == 0 ? 50 : 0;
            var x = RandomF32Doubles(rng, (long)rows * length).Select(v => (float)(v + offset)).ToArray();
            var y = Run(x, rows, length, use512);
            for (int r = 0; r < rows; r++)
            {
                double exact = 0, size = 0;
                for (int i = 0; i < length; i++) { exact += x[r * length + i]; size += Math.Abs(x[r * length + i]); }
                // Float lanes of at most a few dozen terms, then double: well within a few float ulps of Σ|x|.
                Assert.True(Math.Abs(y[r] - exact) <= 1e-6 * size + 1e-30,
                    $"row {r} of {rows}x{length}, 512-bit {use512}: {y[r]:R} against {exact:R}");
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ARowGivesTheSameBitsInAGroupOfFourAndAlone(bool use512)
    {
        var rng = new System.Random(use512 ? 85 : 87);
        foreach (int length in Lengths)
        {
            var x = RandomF32Doubles(rng, 5L * length).Select(v => (float)v).ToArray();
            var five = Run(x, 5, length, use512); // rows 0-3 as a group, row 4 alone
            for (int r = 0; r < 5; r++)
            {
                var alone = Run(x.AsSpan(r * length, length).ToArray(), 1, length, use512);
                Assert.True(BitConverter.SingleToInt32Bits(alone[0]) == BitConverter.SingleToInt32Bits(five[r]),
                    $"row {r} of 5x{length}, 512-bit {use512}: {five[r]:R} in the group, {alone[0]:R} alone");
            }
        }
    }

    [Fact]
    public void GivesTheSameBitsForAnyThreadCount()
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([1003, 1000], DType.F32, Device.Cpu, new Generator(4)) + 3;
            double[] Sum(int threads)
            {
                CpuParallel.ThreadCount = threads;
                using var inner = Tensor.Scope();
                return x.Sum(1).ToArray<double>();
            }
            var one = Sum(1);
            foreach (int threads in new[] { 2, 3, 7 }) Engine.Tests.Ops.VectorWidthTests.SameBits(one, Sum(threads), $"sum over dim 1 with {threads} threads");
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    /// <summary>Sums over trailing axes of contiguous tensors take the row sums; the same sums through a strided view match them within rounding.</summary>
    [Fact]
    public void TrailingAxisSumsMatchTheStridedPath()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([6, 5, 37], DType.F32, Device.Cpu, new Generator(6));
        var rows = x.Sum(2).ToArray<double>();
        var strided = x.Transpose(1, 2).Contiguous().Transpose(1, 2).Sum(2).ToArray<double>();
        Close(strided, rows, 1e-5, 1e-5, "sum over the last axis, contiguous against strided");
        var planes = x.Sum([1, 2]).ToArray<double>();
        var planesStrided = x.Transpose(1, 2).Contiguous().Transpose(1, 2).Sum([1, 2]).ToArray<double>();
        Close(planesStrided, planes, 1e-5, 1e-5, "sum over the two trailing axes");
        var reference = new double[6];
        var xs = x.ToArray<double>();
        for (int i = 0; i < xs.Length; i++) reference[i / (5 * 37)] += xs[i];
        Close(reference, planes, 1e-6, 1e-6, "sum over the two trailing axes against double");
    }

    /// <summary>Rows summed one after another (large inputs) give the bits of the four-row groups, at every length and row count.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OneRowAfterAnotherGivesTheBitsOfTheFourRowGroups(bool use512)
    {
        var rng = new System.Random(use512 ? 89 : 91);
        foreach (int length in Lengths)
        {
            foreach (int rows in new[] { 1, 3, 4, 5, 8, 11 })
            {
                var x = RandomF32Doubles(rng, (long)rows * length).Select(v => (float)(v + 20)).ToArray();
                var four = Run(x, rows, length, use512, sequential: false);
                var sequential = Run(x, rows, length, use512, sequential: true);
                for (int r = 0; r < rows; r++)
                    Assert.True(BitConverter.SingleToInt32Bits(four[r]) == BitConverter.SingleToInt32Bits(sequential[r]),
                        $"row {r} of {rows}x{length}, 512-bit {use512}: {four[r]:R} in groups of four, {sequential[r]:R} one after another");
            }
        }
    }

    /// <summary>The order switches at 2 MiB of input with rows of 128 floats or more, not below either.</summary>
    [Fact]
    public void LargeInputsWithLongRowsAreSummedOneRowAfterAnother()
    {
        long at = RowSumF32.SequentialFromFloats;
        Assert.True(RowSumF32.Sequential(at / 128, 128));
        Assert.False(RowSumF32.Sequential(at / 128 - 1, 128));
        Assert.True(RowSumF32.Sequential(at / 1024, 1024));
        Assert.False(RowSumF32.Sequential(at / 1024 - 1, 1024));
        Assert.False(RowSumF32.Sequential(2 * at / 127, 127));
        Assert.False(RowSumF32.Sequential(at, 64));
    }

    /// <summary>
    /// Tensor sums around the switch (2 MiB of input; rows of 127, 128 and 1024 floats) give the bits of the four-row
    /// groups, and the same sums of strided and broadcast views of those inputs (the generic path) agree within rounding.
    /// </summary>
    [Fact]
    public void SumsAroundTheSwitchKeepTheirBits()
    {
        using var scope = Tensor.Scope();
        long at = RowSumF32.SequentialFromFloats;
        foreach (var (rows, length) in new[] { ((int)(at / 128) - 1, 128), ((int)(at / 128), 128), ((int)(at / 128) + 5, 128),
                     ((int)(at / 1024) - 1, 1024), ((int)(at / 1024), 1024), ((int)(2 * at / 127) + 1, 127) })
        {
            var x = Tensor.Randn([rows, length], DType.F32, Device.Cpu, new Generator((ulong)rows)) + 2;
            var xs = x.ToArray<float>();
            var groups = Run(xs, rows, length, System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, sequential: false);
            var sums = x.Sum(1).ToArray<float>();
            for (int r = 0; r < rows; r++)
                Assert.True(BitConverter.SingleToInt32Bits(groups[r]) == BitConverter.SingleToInt32Bits(sums[r]),
                    $"row {r} of {rows}x{length}: {sums[r]:R} from Sum(1), {groups[r]:R} from the four-row groups");
            var strided = x.Transpose(0, 1).Contiguous().Transpose(0, 1).Sum(1).ToArray<double>();
            Close(strided, sums.Select(v => (double)v).ToArray(), 1e-5, 1e-5, $"sum over dim 1 of a strided {rows}x{length}");
            using var row = x.Narrow(0, 0, 1);
            var broadcast = row.Expand(rows, length).Sum(1).ToArray<double>();
            Close(broadcast, Enumerable.Repeat((double)sums[0], rows).ToArray(), 1e-5, 1e-5, $"sum over dim 1 of row 0 broadcast to {rows}x{length}");
        }
    }

    private static float[] Run(float[] x, int rows, int length, bool use512)
    {
        var y = new float[rows];
        fixed (float* xp = x, yp = y) RowSumF32.Run(xp, rows, length, yp, use512);
        return y;
    }

    private static float[] Run(float[] x, int rows, int length, bool use512, bool sequential)
    {
        var y = new float[rows];
        fixed (float* xp = x, yp = y) RowSumF32.Run(xp, rows, length, yp, use512, sequential);
        return y;
    }
}
