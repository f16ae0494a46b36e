using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.Ops.ConvPoolTestData;

namespace Engine.Tests.Ops;

/// <summary>
/// The float32 Winograd F(2x2, 3x3) path of conv2d (<see cref="WinogradCpu"/>): forward and input gradient against the
/// float64 reference loops, bits independent of the thread count, and the <see cref="ConvAlgorithms.AllowWinograd"/>
/// switch. Runs alone: the switch and the thread count are process-wide.
/// </summary>
/// <remarks>
/// Tolerance: |error| ≤ 2e-5 · (Σ|x·w| + 1e-3) per element, twice the direct path's 1e-5 (<see cref="Tolerance"/>).
/// F(2x2, 3x3) computes each output as Aᵀ [Σ_ci U ⊙ V] A: V = Bᵀ d B adds and subtracts four inputs twice over, U = G g Gᵀ
/// is formed in float64 from up to nine weights and rounded once, and Aᵀ·A adds nine of the 16 products' channel sums.
/// The products' absolute sum can exceed the direct one (the 4x4 tile also holds inputs outside an output's 3x3 window,
/// whose terms cancel only in exact arithmetic), and the transforms add a few roundings, so the error grows by a small
/// constant factor, not with the channels. Measured on these shapes: largest |error| / (Σ|x·w| + 1e-3) 3.8e-7 for
/// Winograd (padding 2, where an output's window holds fewest terms of its tile), 2.6e-7 for the direct path; 2e-5
/// leaves a factor of 50, and a broken transform (errors of the order of the values) cannot pass.
/// </remarks>
[Collection(SerialCollection.Name)]
public class ConvWinogradTests
{
    private const double WinogradTolerance = 2e-5;

    public static TheoryData<ConvSpec> Shapes() => new()
    {
        new(3, true, 16, 9, 11, 16, 3, 3, PadH: 1, PadW: 1, Bias: true),   // odd height and width: partial tiles
        new(1, true, 24, 1, 130, 32, 3, 3, PadH: 1, PadW: 1),              // a one-row image, batch of one
        new(1, true, 20, 130, 1, 20, 3, 3, PadH: 1, PadW: 1, Bias: true),  // a one-column image
        new(3, true, 96, 12, 10, 80, 3, 3, PadH: 1, PadW: 1),              // many channels
        new(8, true, 25, 8, 8, 33, 3, 3),                                  // no padding (the input gradient pads by 2)
        new(4, true, 16, 7, 9, 16, 3, 3, PadH: 2, PadW: 2),                // padding 2 (the input gradient pads by 0)
        new(6, true, 18, 5, 12, 18, 3, 3, PadH: 0, PadW: 1),               // different paddings in height and width
        new(1, false, 16, 17, 16, 16, 3, 3, Mode: "same", Bias: true),    // unbatched, 'same'
        new(4, true, 24, 33, 35, 28, 3, 3, PadH: 1, PadW: 1, Bias: true),  // rows of 18 tiles: whole vectors and a tail
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndInputGradientMatchTheF64Reference(ConvSpec s) => Check(s, 5);

    [Fact]
    public void RandomShapesMatchTheF64Reference()
    {
        var rng = new System.Random(2026);
        int checkedShapes = 0;
        for (int i = 0; i < 100 && checkedShapes < 20; i++)
        {
            int pad = rng.Next(0, 3);
            // Both directions must qualify (the input gradient swaps the channels): 24+ channels, or the same 16 to 23.
            int cin = rng.Next(24, 49), cout = rng.Next(24, 49);
            if (rng.Next(4) == 0) cin = cout = rng.Next(16, 24);
            var s = new ConvSpec(rng.Next(1, 5), rng.Next(6) != 0, cin, rng.Next(1, 25), rng.Next(1, 25), cout, 3, 3,
                PadH: pad, PadW: rng.Next(3) == 0 ? rng.Next(0, 3) : pad, Bias: rng.Next(2) == 0);
            if (!s.Batched) s = s with { N = 1 };
            if (!s.Valid || !Takes(s, forward: true) || !Takes(s, forward: false)) continue;
            Check(s, (ulong)(100 + i));
            checkedShapes++;
        }
        Assert.True(checkedShapes >= 10, $"only {checkedShapes} random shapes took the Winograd path");
    }

    /// <summary>Forward and input gradient through Winograd (asserted to be taken) against the float64 loops.</summary>
    private static void Check(ConvSpec s, ulong seed)
    {
        Assert.True(Takes(s, forward: true), $"{s}: the forward pass should take the Winograd path");
        Assert.True(Takes(s, forward: false), $"{s}: the input gradient should take the Winograd path");
        using var scope = Tensor.Scope();
        var x = Randn(s.InputShape, DType.F32, seed).RequiresGradInPlace();
        var w = Randn(s.WeightShape, DType.F32, seed + 1).RequiresGradInPlace();
        var b = s.Bias ? Randn([s.Cout], DType.F32, seed + 2) : null;
        var y = s.Run(x, w, b);
        Assert.Equal(s.OutputShape, y.Shape);
        var gy = Randn(y.Shape, DType.F32, seed + 3);
        y.Backward(gy);
        double[] xs = x.ToArray<double>(), ws = w.ToArray<double>(), bs = b?.ToArray<double>() ?? [], gys = gy.ToArray<double>();
        var expected = ConvReference.Forward(s, xs, ws, b is null ? null : bs);
        var scale = ConvReference.Forward(s, Abs(xs), Abs(ws), b is null ? null : Abs(bs));
        AssertClose(expected, y.ToArray<double>(), scale, WinogradTolerance, $"{s}: Winograd output");
        var (gx, gw, _) = ConvReference.Backward(s, xs, ws, gys);
        var (sx, sw, _) = ConvReference.Backward(s, Abs(xs), Abs(ws), Abs(gys));
        AssertClose(gx, x.Grad!.ToArray<double>(), sx, WinogradTolerance, $"{s}: Winograd input gradient");
        AssertClose(gw, w.Grad!.ToArray<double>(), sw, Tolerance(DType.F32), $"{s}: weight gradient");
    }

    /// <summary>Whether conv2d of <paramref name="s"/> in float32 would take the Winograd path (forward, or input gradient).</summary>
    private static bool Takes(ConvSpec s, bool forward)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros(s.InputShape, DType.F32);
        var w = Tensor.Zeros(s.WeightShape, DType.F32);
        var g = ConvGeometry.Of(x, w, null, (s.SH, s.SW), s.Mode is null ? (Padding2d)(s.PadH, s.PadW) : s.Mode, (s.DH, s.DW), s.Groups);
        return forward ? WinogradCpu.Handles(g) : WinogradCpu.HandlesInputGradient(g);
    }

    /// <summary>Output and input gradient of a float32 run with the given threads and switch.</summary>
    private static double[][] Run(ConvSpec s, int threads, bool winograd, DType dtype = DType.F32)
    {
        int previous = CpuParallel.ThreadCount;
        bool allowed = ConvAlgorithms.AllowWinograd;
        try
        {
            CpuParallel.ThreadCount = threads;
            ConvAlgorithms.AllowWinograd = winograd;
            using var scope = Tensor.Scope();
            var x = Randn(s.InputShape, dtype, 1).RequiresGradInPlace();
            var w = Randn(s.WeightShape, dtype, 2).RequiresGradInPlace();
            var b = Randn([s.Cout], dtype, 3);
            var y = s.Run(x, w, b);
            y.Backward(Randn(y.Shape, dtype, 4));
            return [y.ToArray<double>(), x.Grad!.ToArray<double>()];
        }
        finally
        {
            CpuParallel.ThreadCount = previous;
            ConvAlgorithms.AllowWinograd = allowed;
        }
    }

    private static readonly ConvSpec[] Larger =
    [
        new(6, true, 32, 20, 22, 40, 3, 3, PadH: 1, PadW: 1), // many chunks of several tile rows
        new(2, true, 48, 9, 45, 24, 3, 3),                    // odd sizes, a chunk per tile row
    ];

    [Fact]
    public void OneTwoAndThreeThreadsGiveTheSameBits()
    {
        foreach (var s in Larger)
        {
            Assert.True(Takes(s, forward: true) && Takes(s, forward: false), $"{s}: should take the Winograd path");
            var one = Run(s, 1, winograd: true);
            foreach (int threads in new[] { 2, 3 })
            {
                var other = Run(s, threads, winograd: true);
                Bitwise(one[0], other[0], $"{s}: output, 1 and {threads} threads");
                Bitwise(one[1], other[1], $"{s}: input gradient, 1 and {threads} threads");
            }
        }
    }

    /// <summary>
    /// The 16 transformed weights are packed once per call (<see cref="GemmPackedA{T}"/>) instead of by every chunk:
    /// the same kernel calls on the same packed values, so the same bits as packing per chunk; also with input
    /// channels across the GEMM's k blocks (520 deep: two blocks of 260) and output channels not a multiple of its panels.
    /// </summary>
    [Fact]
    public void PackingTheWeightsOncePerCallKeepsTheBits()
    {
        ConvSpec[] shapes = [.. Larger, new(4, true, 520, 8, 8, 20, 3, 3, PadH: 1, PadW: 1), new(3, true, 40, 9, 11, 100, 3, 3, PadH: 1, PadW: 1)];
        foreach (var s in shapes)
        {
            Assert.True(Takes(s, forward: true), $"{s}: should take the Winograd path");
            foreach (int threads in new[] { 1, 2 })
            {
                var once = Run(s, threads, winograd: true);
                double[][] perChunk;
                try
                {
                    WinogradCpu.PackWeightsPerChunk = true;
                    perChunk = Run(s, threads, winograd: true);
                }
                finally
                {
                    WinogradCpu.PackWeightsPerChunk = false;
                }
                Bitwise(perChunk[0], once[0], $"{s}: output, {threads} threads, weights packed per call and per chunk");
                Bitwise(perChunk[1], once[1], $"{s}: input gradient, {threads} threads, weights packed per call and per chunk");
            }
        }
    }

    [Fact]
    public void TheSwitchChoosesBetweenWinogradAndTheDirectPath()
    {
        var s = Larger[0];
        var on = Run(s, 2, winograd: true);
        var off = Run(s, 2, winograd: false);
        // Off: the direct path's bits, which the column-matrix path reproduces (ConvSelfPackedTests); on: other roundings.
        double[][] direct;
        var path = ConvGemm.Path;
        try
        {
            ConvGemm.Path = ConvGemm.PathChoice.SelfPacked;
            direct = Run(s, 2, winograd: true);
        }
        finally
        {
            ConvGemm.Path = path;
        }
        for (int k = 0; k < 2; k++)
        {
            Bitwise(direct[k], off[k], $"{s}: result {k} with Winograd switched off");
            Assert.True(on[k].Where((v, i) => v != off[k][i]).Any(), $"{s}: result {k} with Winograd on should round differently");
        }
        bool allowed = ConvAlgorithms.AllowWinograd;
        try
        {
            ConvAlgorithms.AllowWinograd = false;
            Assert.False(Takes(s, forward: true) || Takes(s, forward: false), "switched off, no pass may take the Winograd path");
        }
        finally
        {
            ConvAlgorithms.AllowWinograd = allowed;
        }
    }

    [Fact]
    public void Float64NeverTakesIt()
    {
        var s = Larger[1];
        var on = Run(s, 2, winograd: true, DType.F64);
        var off = Run(s, 2, winograd: false, DType.F64);
        for (int k = 0; k < 2; k++) Bitwise(off[k], on[k], $"{s}: float64 result {k}");
    }

    [Fact]
    public void SmallChannelCountsAndOtherKernelsKeepTheDirectPath()
    {
        Assert.False(Takes(new ConvSpec(2, true, 8, 16, 16, 32, 3, 3, PadH: 1, PadW: 1), forward: true), "8 input channels");
        Assert.False(Takes(new ConvSpec(2, true, 32, 16, 16, 8, 3, 3, PadH: 1, PadW: 1), forward: true), "8 output channels");
        Assert.False(Takes(new ConvSpec(2, true, 16, 16, 16, 64, 3, 3, PadH: 1, PadW: 1), forward: true), "16 input channels into 64");
        Assert.True(Takes(new ConvSpec(2, true, 64, 16, 16, 16, 3, 3, PadH: 1, PadW: 1), forward: true), "64 input channels into 16");
        Assert.False(Takes(new ConvSpec(1, true, 32, 14, 14, 32, 3, 3, PadH: 1, PadW: 1), forward: true), "49 tiles");
        Assert.False(Takes(new ConvSpec(2, true, 32, 16, 16, 32, 3, 3, 2, 2, 1, 1), forward: true), "stride 2");
        Assert.False(Takes(new ConvSpec(2, true, 32, 16, 16, 32, 3, 3, PadH: 2, PadW: 2, DH: 2, DW: 2), forward: true), "dilation 2");
        Assert.False(Takes(new ConvSpec(2, true, 32, 16, 16, 32, 3, 3, PadH: 1, PadW: 1, Groups: 2), forward: true), "two groups");
        Assert.False(Takes(new ConvSpec(2, true, 32, 16, 16, 32, 5, 5, PadH: 2, PadW: 2), forward: true), "5x5 kernel");
    }
}
