using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>
/// Pointwise convolutions through the batch-wide products packed from the tensors (<see cref="PlaneRows{T}"/>,
/// <see cref="PlaneColumns{T}"/>; the gradients' default, the forward's for planes of 16+ pixels and 32+ output
/// channels, forced here) against the stored column-matrix path.
/// </summary>
public class ConvPointwiseTests
{
    private static readonly string[] Names = ["output", "input gradient", "weight gradient", "bias gradient"];

    /// <summary>Random 1x1 stride-1 convolutions: planes of 1 to 300 pixels (across and inside panels), groups, empty batches.</summary>
    [Fact]
    public void MatchesTheColumnMatrixPathInF64ForRandomShapes()
    {
        var r = new System.Random(53);
        for (int i = 0; i < 80; i++)
        {
            int groups = r.Next(4) == 0 ? r.Next(2, 4) : 1;
            bool batched = r.Next(5) != 0;
            int n = batched ? (r.Next(20) == 0 ? 0 : r.Next(1, 4)) : 1;
            int h = r.Next(1, 18), w = r.Next(1, 18);
            var s = new ConvSpec(n, batched, groups * r.Next(1, 6), h, w, groups * r.Next(1, 20), 1, 1, Groups: groups, Bias: r.Next(2) == 0);
            var reference = ConvPatchTests.Run(s, DType.F64, (ulong)i, columnMatrix: true);
            var fast = ConvPatchTests.Run(s, DType.F64, (ulong)i, columnMatrix: false);
            for (int k = 0; k < Names.Length; k++)
            {
                Assert.Equal(reference[k].Length, fast[k].Length);
                for (int e = 0; e < reference[k].Length; e++)
                    Assert.True(Math.Abs(reference[k][e] - fast[k][e]) <= 1e-12 * (1 + Math.Abs(reference[k][e])),
                        $"{s}: {Names[k]} element {e} is {fast[k][e]:R}, the column-matrix path gives {reference[k][e]:R}");
            }
        }
    }

    [Theory]
    [InlineData(4, 64, 16, 16, 96, true)]  // the bench's shape, smaller: planes of whole panels
    [InlineData(3, 20, 7, 9, 33, false)]   // planes across panels, edge tiles in every direction
    [InlineData(2, 128, 1, 1, 40, false)]  // one pixel per image (the column-matrix path's small product there: other bits)
    public void MatchesTheColumnMatrixPathInF32(int n, int cin, int h, int w, int cout, bool sameOutputBits)
    {
        var s = new ConvSpec(n, true, cin, h, w, cout, 1, 1, Bias: true);
        var reference = ConvPatchTests.Run(s, DType.F32, 9, columnMatrix: true);
        var fast = ConvPatchTests.Run(s, DType.F32, 9, columnMatrix: false);
        if (sameOutputBits) Bitwise(reference[0], fast[0], $"{s}: output"); // the same sums in the same order, both packed
        for (int k = 0; k < Names.Length; k++)
            for (int e = 0; e < reference[k].Length; e++)
                Assert.True(Math.Abs(reference[k][e] - fast[k][e]) <= 2e-5 * (1 + Math.Abs(reference[k][e])),
                    $"{s}: {Names[k]} element {e} is {fast[k][e]:R}, the column-matrix path gives {reference[k][e]:R}");
    }
}

/// <summary>The pointwise path gives the same bits for one and two threads (changes the thread count, so runs alone).</summary>
[Collection(SerialCollection.Name)]
public class ConvPointwiseDeterminismTests
{
    [Fact]
    public void OneAndTwoThreadsGiveTheSameBits()
    {
        var s = new ConvSpec(8, true, 96, 16, 16, 160, 1, 1, Bias: true);
        int previous = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = 1;
            var one = ConvPatchTests.Run(s, DType.F32, 13, columnMatrix: false);
            CpuParallel.ThreadCount = 2;
            var two = ConvPatchTests.Run(s, DType.F32, 13, columnMatrix: false);
            for (int k = 0; k < one.Length; k++) Bitwise(one[k], two[k], $"{s}: result {k}");
        }
        finally
        {
            CpuParallel.ThreadCount = previous;
        }
    }
}
