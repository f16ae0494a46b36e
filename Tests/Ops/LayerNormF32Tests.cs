using Engine.Cpu;
using Engine.Ops;
using Engine.Randomness;
using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The float32 layer-norm kernels (float lanes, sums ended in double: Ops/Norm/LayerNorm*F32.Cpu.cs, and the group norm's
/// GroupNorm*F32.Cpu.cs and the batch norm's backward): the output
/// against reference loops in double and the gradients against the tape of composed operations run in float64, on the
/// same numbers, at both vector widths, on random shapes with
/// rows of every length from 1 up (lengths that are no multiple of either width, so every scalar tail runs), with and
/// without the affine parameters and with only some gradients wanted; and the same bits for any thread count.
/// </summary>
[Collection(Support.SerialCollection.Name)]
public class LayerNormF32Tests
{
    private static readonly int[] Lengths = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 80, 100, 129, 256, 257, 300, 1100];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatchesTheFloat64CompositeAtEitherWidth(bool use512)
    {
        bool saved = VectorWidth.Use512;
        try
        {
            VectorWidth.Use512 = use512;
            var rng = new System.Random(use512 ? 41 : 43);
            for (int trial = 0; trial < 44; trial++)
            {
                int d = trial < Lengths.Length ? Lengths[trial] : rng.Next(1, 200);
                int rows = rng.Next(4) == 0 ? 1 : rng.Next(1, 70);
                Check(rng, rows, d, $"trial {trial}, {rows}x{d}, 512-bit {use512}");
            }
        }
        finally
        {
            VectorWidth.Use512 = saved;
        }
    }

    /// <summary>The F32 group norm's forward (the same float-lane statistics) against reference loops at both widths.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GroupNormForwardMatchesReferenceLoopsAtEitherWidth(bool use512)
    {
        bool saved = VectorWidth.Use512;
        try
        {
            VectorWidth.Use512 = use512;
            var rng = new System.Random(use512 ? 51 : 53);
            for (int trial = 0; trial < 40; trial++)
            {
                int n = rng.Next(1, 4), groups = rng.Next(1, 4), c = groups * rng.Next(1, 4);
                int[] shape = [n, c, rng.Next(1, 9), rng.Next(1, 40)];
                long s = shape[2] * shape[3];
                if ((c / groups) * s == 1) continue; // refused, as in PyTorch
                double offset = rng.Next(3) == 0 ? 100 : 0;
                var xv = RandomF32Doubles(rng, n * c * s).Select(v => (double)(float)(v + offset)).ToArray();
                double[]? wv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                double[]? bv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                using var scope = Tensor.Scope();
                var y = F.GroupNorm(Make(xv, shape, DType.F32), groups, wv is null ? null : Make(wv, [c], DType.F32), bv is null ? null : Make(bv, [c], DType.F32), 1e-5);
                Close(NormReference.Group(xv, n, c, s, groups, wv, bv, 1e-5).Y, y.ToArray<double>(), 2e-6, 2e-6,
                    $"trial {trial}: group_norm {string.Join('x', shape)}, {groups} groups, 512-bit {use512}");
            }
        }
        finally
        {
            VectorWidth.Use512 = saved;
        }
    }

    /// <summary>
    /// The F32 group norm's gradients (GroupNormBackwardF32.Cpu.cs: float lanes, sums ended in double) against the tape of
    /// composed operations in float64, at both widths: channel runs of every length from 1 up (scalar tails, a lone
    /// vector, vector pairs), with and without the affine parameters, only some gradients wanted, an offset mean.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GroupNormGradientsMatchTheFloat64CompositeAtEitherWidth(bool use512)
    {
        bool saved = VectorWidth.Use512;
        try
        {
            VectorWidth.Use512 = use512;
            var rng = new System.Random(use512 ? 61 : 63);
            int[] runs = [1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 100, 257, 1024];
            for (int trial = 0; trial < 40; trial++)
            {
                int n = rng.Next(1, 4), groups = rng.Next(1, 4), c = groups * rng.Next(1, 4);
                int s = trial < runs.Length ? runs[trial] : rng.Next(1, 300);
                int[] shape = [n, c, s];
                if ((c / groups) * s == 1) continue; // refused, as in PyTorch
                double offset = s >= 16 && rng.Next(3) == 0 ? 100 : 0;
                var xv = RandomF32Doubles(rng, n * c * s).Select(v => (double)(float)(v + offset)).ToArray();
                var gv = RandomF32Doubles(rng, n * c * s);
                double[]? wv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                double[]? bv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                bool needX = rng.Next(4) != 0;
                if (!needX && wv is null && bv is null) needX = true;
                (double[]? Dx, double[]? Dw, double[]? Db) Run(DType dtype, bool fused)
                {
                    using var scope = Tensor.Scope();
                    var x = Make(xv, shape, dtype); x.RequiresGrad = needX;
                    var w = wv is null ? null : Make(wv, [c], dtype);
                    var b = bv is null ? null : Make(bv, [c], dtype);
                    if (w is not null) w.RequiresGrad = true;
                    if (b is not null) b.RequiresGrad = true;
                    var y = fused ? F.GroupNorm(x, groups, w, b, 1e-5) : NormComposite.Group(x, groups, w, b, 1e-5);
                    y.Backward(Make(gv, shape, dtype));
                    return (x.Grad?.ToArray<double>(), w?.Grad?.ToArray<double>(), b?.Grad?.ToArray<double>());
                }
                string what = $"trial {trial}: group_norm {string.Join('x', shape)}, {groups} groups, 512-bit {use512}";
                var expected = Run(DType.F64, fused: false);
                var actual = Run(DType.F32, fused: true);
                Compare(expected.Dx, actual.Dx, $"{what}: input gradient");
                Compare(expected.Dw, actual.Dw, $"{what}: weight gradient");
                Compare(expected.Db, actual.Db, $"{what}: bias gradient");
            }
        }
        finally
        {
            VectorWidth.Use512 = saved;
        }
    }

    /// <summary>
    /// The F32 batch norm's gradients (BatchNormBackwardF32.Cpu.cs, the group norm's channel-run helpers) against the
    /// tape of composed operations in float64, in training and in evaluation, at both widths, runs of every length.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void BatchNormGradientsMatchTheFloat64CompositeAtEitherWidth(bool use512, bool training)
    {
        bool saved = VectorWidth.Use512;
        try
        {
            VectorWidth.Use512 = use512;
            var rng = new System.Random((use512 ? 71 : 73) + (training ? 0 : 10));
            int[] runs = [1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 100, 257];
            for (int trial = 0; trial < 30; trial++)
            {
                int n = rng.Next(1, 5), c = rng.Next(1, 6);
                int s = trial < runs.Length ? runs[trial] : rng.Next(1, 300);
                if (training && n * s == 1) n = 2; // refused in training, as in PyTorch
                int[] shape = [n, c, s];
                double offset = n * s >= 16 && rng.Next(3) == 0 ? 100 : 0;
                var xv = RandomF32Doubles(rng, n * c * s).Select(v => (double)(float)(v + offset)).ToArray();
                var gv = RandomF32Doubles(rng, n * c * s);
                var mv = RandomF32Doubles(rng, c);
                var vv = RandomF32Doubles(rng, c, 0.5, 3);
                double[]? wv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                double[]? bv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, c, -2, 2);
                bool needX = rng.Next(4) != 0;
                if (!needX && wv is null && bv is null) needX = true;
                (double[]? Dx, double[]? Dw, double[]? Db) Run(DType dtype, bool fused)
                {
                    using var scope = Tensor.Scope();
                    var x = Make(xv, shape, dtype); x.RequiresGrad = needX;
                    var w = wv is null ? null : Make(wv, [c], dtype);
                    var b = bv is null ? null : Make(bv, [c], dtype);
                    if (w is not null) w.RequiresGrad = true;
                    if (b is not null) b.RequiresGrad = true;
                    var rm = Make(mv, [c], dtype);
                    var rv = Make(vv, [c], dtype);
                    var y = fused ? F.BatchNorm(x, rm, rv, w, b, training, 0.1, 1e-5)
                        : training ? NormComposite.BatchTraining(x, w, b, 1e-5) : NormComposite.BatchEval(x, rm, rv, w, b, 1e-5);
                    y.Backward(Make(gv, shape, dtype));
                    return (x.Grad?.ToArray<double>(), w?.Grad?.ToArray<double>(), b?.Grad?.ToArray<double>());
                }
                string what = $"trial {trial}: batch_norm {string.Join('x', shape)}, training {training}, 512-bit {use512}";
                var expected = Run(DType.F64, fused: false);
                var actual = Run(DType.F32, fused: true);
                Compare(expected.Dx, actual.Dx, $"{what}: input gradient");
                Compare(expected.Dw, actual.Dw, $"{what}: weight gradient");
                Compare(expected.Db, actual.Db, $"{what}: bias gradient");
            }
        }
        finally
        {
            VectorWidth.Use512 = saved;
        }
    }

    /// <summary>
    /// A group-norm input gradient large enough to be written with non-temporal stores (2 M floats and more, AVX-512)
    /// gives, sample by sample, the bits of each sample run alone (ordinary stores): channel runs of an odd length, so
    /// each starts at another offset from a 64-byte boundary.
    /// </summary>
    [Fact]
    public void GroupNormStreamedInputGradientGivesTheBitsOfOrdinaryStores()
    {
        int[] shape = [2, 6, 433, 421];
        using var scope = Tensor.Scope();
        var gen = new Generator(9);
        var x = Tensor.Randn(shape, DType.F32, Device.Cpu, gen) * 2 + 3;
        var w = Tensor.Randn([6], DType.F32, Device.Cpu, gen);
        var g = Tensor.Randn(shape, DType.F32, Device.Cpu, gen);
        var leaf = x.Detach().RequiresGradInPlace();
        F.GroupNorm(leaf, 3, w).Backward(g);
        var big = leaf.Grad!.ToArray<float>();
        int per = big.Length / 2;
        var xs = x.ToArray<float>();
        var gs = g.ToArray<float>();
        for (int b = 0; b < 2; b++)
        {
            using var inner = Tensor.Scope();
            int[] one = [1, 6, 433, 421];
            var sample = Tensor.FromArray(xs.AsSpan(b * per, per).ToArray()).Reshape(one).RequiresGradInPlace();
            F.GroupNorm(sample, 3, w).Backward(Tensor.FromArray(gs.AsSpan(b * per, per).ToArray()).Reshape(one));
            var small = sample.Grad!.ToArray<float>();
            for (int i = 0; i < per; i++)
                if (BitConverter.SingleToInt32Bits(small[i]) != BitConverter.SingleToInt32Bits(big[b * per + i]))
                    Assert.Fail($"sample {b}, element {i}: {big[b * per + i]:R} streamed, {small[i]:R} ordinary");
        }
    }

    /// <summary>
    /// The batch norm's streamed input gradient (2 M floats and more, AVX-512), in evaluation where dx = rstd γ g does not
    /// mix samples: sample by sample, the bits of each sample run alone with ordinary stores; runs of an odd length.
    /// </summary>
    [Fact]
    public void BatchNormStreamedInputGradientGivesTheBitsOfOrdinaryStores()
    {
        int[] shape = [2, 6, 433, 421];
        using var scope = Tensor.Scope();
        var gen = new Generator(10);
        var x = Tensor.Randn(shape, DType.F32, Device.Cpu, gen);
        var w = Tensor.Randn([6], DType.F32, Device.Cpu, gen);
        var rm = Tensor.Randn([6], DType.F32, Device.Cpu, gen);
        var rv = Tensor.Rand([6], DType.F32, Device.Cpu, gen) + 0.5;
        var g = Tensor.Randn(shape, DType.F32, Device.Cpu, gen);
        var leaf = x.Detach().RequiresGradInPlace();
        F.BatchNorm(leaf, rm, rv, w, training: false).Backward(g);
        var big = leaf.Grad!.ToArray<float>();
        int per = big.Length / 2;
        var xs = x.ToArray<float>();
        var gs = g.ToArray<float>();
        for (int b = 0; b < 2; b++)
        {
            using var inner = Tensor.Scope();
            int[] one = [1, 6, 433, 421];
            var sample = Tensor.FromArray(xs.AsSpan(b * per, per).ToArray()).Reshape(one).RequiresGradInPlace();
            F.BatchNorm(sample, rm, rv, w, training: false).Backward(Tensor.FromArray(gs.AsSpan(b * per, per).ToArray()).Reshape(one));
            var small = sample.Grad!.ToArray<float>();
            for (int i = 0; i < per; i++)
                if (BitConverter.SingleToInt32Bits(small[i]) != BitConverter.SingleToInt32Bits(big[b * per + i]))
                    Assert.Fail($"sample {b}, element {i}: {big[b * per + i]:R} streamed, {small[i]:R} ordinary");
        }
    }

    /// <summary>
    /// A layer-norm input gradient large enough to be written with non-temporal stores (2 M floats and more, AVX-512)
    /// gives, half by half, the bits of each half of the rows run alone (ordinary stores): with the affine gradients
    /// (the column pass of a row group, rows of 256 that start on 64-byte boundaries) and without them (the row pass,
    /// rows of an odd length, so each starts at another offset from a boundary).
    /// </summary>
    [Theory]
    [InlineData(256, true)]
    [InlineData(257, false)]
    public void LayerNormStreamedInputGradientGivesTheBitsOfOrdinaryStores(int d, bool affine)
    {
        int rows = 2 * 4100;
        using var scope = Tensor.Scope();
        var gen = new Generator(11);
        var x = Tensor.Randn([rows, d], DType.F32, Device.Cpu, gen) * 2 + 3;
        var w = Tensor.Randn([d], DType.F32, Device.Cpu, gen);
        var g = Tensor.Randn([rows, d], DType.F32, Device.Cpu, gen);
        Tensor Gradient(Tensor input, Tensor gradient)
        {
            var leaf = input.Detach().RequiresGradInPlace();
            var weight = affine ? w.Detach().RequiresGradInPlace() : w;
            F.LayerNorm(leaf, [d], weight).Backward(gradient);
            return leaf.Grad!;
        }
        var big = Gradient(x, g).ToArray<float>();
        int per = big.Length / 2;
        var xs = x.ToArray<float>();
        var gs = g.ToArray<float>();
        for (int half = 0; half < 2; half++)
        {
            using var inner = Tensor.Scope();
            int[] shape = [rows / 2, d];
            var small = Gradient(Tensor.FromArray(xs.AsSpan(half * per, per).ToArray()).Reshape(shape),
                Tensor.FromArray(gs.AsSpan(half * per, per).ToArray()).Reshape(shape)).ToArray<float>();
            for (int i = 0; i < per; i++)
                if (BitConverter.SingleToInt32Bits(small[i]) != BitConverter.SingleToInt32Bits(big[half * per + i]))
                    Assert.Fail($"half {half}, element {i}: {big[half * per + i]:R} streamed, {small[i]:R} ordinary");
        }
    }

    /// <summary>The F32 group norm's three gradients are the same bits for 1, 2, 3 and 7 threads.</summary>
    [Fact]
    public void GroupNormGivesTheSameBitsForAnyThreadCount()
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            var gen = new Generator(5);
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([6, 12, 9, 11], DType.F32, Device.Cpu, gen) * 2 + 7;
            var w = Tensor.Randn([12], DType.F32, Device.Cpu, gen);
            var b = Tensor.Randn([12], DType.F32, Device.Cpu, gen);
            var g = Tensor.Randn([6, 12, 9, 11], DType.F32, Device.Cpu, gen);
            double[][] Run(int threads)
            {
                CpuParallel.ThreadCount = threads;
                using var inner = Tensor.Scope();
                var leaves = new[] { x.Detach().RequiresGradInPlace(), w.Detach().RequiresGradInPlace(), b.Detach().RequiresGradInPlace() };
                F.GroupNorm(leaves[0], 4, leaves[1], leaves[2]).Backward(g);
                return leaves.Select(l => l.Grad!.ToArray<double>()).ToArray();
            }
            var one = Run(1);
            foreach (int threads in new[] { 2, 3, 7 })
            {
                var many = Run(threads);
                for (int k = 0; k < 3; k++) VectorWidthTests.SameBits(one[k], many[k], $"group_norm gradient {k} with {threads} threads");
            }
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    [Theory]
    [InlineData(3, 0)]
    [InlineData(0, 16)]
    [InlineData(0, 0)]
    public void EmptyRowsOrNoRowsGiveWhatFloat64Gives(int rows, int d)
    {
        double[][] Run(DType dtype)
        {
            using var scope = Tensor.Scope();
            var x = Tensor.Zeros([rows, d], dtype); x.RequiresGrad = true;
            var w = Tensor.Ones([d], dtype); w.RequiresGrad = true;
            var b = Tensor.Zeros([d], dtype); b.RequiresGrad = true;
            var y = F.LayerNorm(x, [d], w, b);
            Assert.Equal(new[] { rows, d }, y.Shape);
            y.Backward(Tensor.Ones([rows, d], dtype));
            return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
        }
        var expected = Run(DType.F64);
        var actual = Run(DType.F32);
        for (int k = 0; k < 4; k++) Assert.Equal(expected[k], actual[k]);
    }

    [Fact]
    public void GivesTheSameBitsForAnyThreadCount()
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            var gen = new Generator(3);
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([300, 129], DType.F32, Device.Cpu, gen) * 2 + 7;
            var w = Tensor.Randn([129], DType.F32, Device.Cpu, gen);
            var b = Tensor.Randn([129], DType.F32, Device.Cpu, gen);
            var g = Tensor.Randn([300, 129], DType.F32, Device.Cpu, gen);
            double[][] Run(int threads)
            {
                CpuParallel.ThreadCount = threads;
                using var inner = Tensor.Scope();
                var leaves = new[] { x.Detach().RequiresGradInPlace(), w.Detach().RequiresGradInPlace(), b.Detach().RequiresGradInPlace() };
                F.LayerNorm(leaves[0], [129], leaves[1], leaves[2]).Backward(g);
                return leaves.Select(l => l.Grad!.ToArray<double>()).ToArray();
            }
            var one = Run(1);
            foreach (int threads in new[] { 2, 3, 7 })
            {
                var many = Run(threads);
                for (int k = 0; k < 3; k++) VectorWidthTests.SameBits(one[k], many[k], $"gradient {k} with {threads} threads");
            }
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    private static void Check(System.Random rng, int rows, int d, string what)
    {
        using var scope = Tensor.Scope();
        int[] shape = [rows, d];
        // Now and then a mean far from 0 against the spread, where a float kernel could cancel badly. Only on rows of
        // 16 or more: the saved mean is rounded to float (as PyTorch's), which on a row of two close values shifts x̂
        // by more than this test's tolerance, whatever the kernel does.
        double offset = d >= 16 && rng.Next(3) == 0 ? 100 : 0;
        var xv = RandomF32Doubles(rng, rows * d).Select(v => (double)(float)(v + offset)).ToArray();
        var gv = RandomF32Doubles(rng, rows * d);
        double[]? wv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, d, -2, 2);
        double[]? bv = rng.Next(3) == 0 ? null : RandomF32Doubles(rng, d, -2, 2);
        bool needX = rng.Next(4) != 0;
        double eps = new[] { 1e-5, 1e-3, 0.1 }[rng.Next(3)];

        (double[]? Dx, double[]? Dw, double[]? Db) Run(DType dtype, bool fused)
        {
            var x = Make(xv, shape, dtype); x.RequiresGrad = needX;
            var w = wv is null ? null : Make(wv, [d], dtype);
            var b = bv is null ? null : Make(bv, [d], dtype);
            if (w is not null) w.RequiresGrad = true;
            if (b is not null) b.RequiresGrad = true;
            if (!needX && w is null && b is null) return (null, null, null);
            var y = fused ? F.LayerNorm(x, [d], w, b, eps) : NormComposite.LayerNorm(x, [d], w, b, eps);
            y.Backward(Make(gv, shape, dtype));
            return (x.Grad?.ToArray<double>(), w?.Grad?.ToArray<double>(), b?.Grad?.ToArray<double>());
        }

        using (Tensor.Scope())
        {
            var y = F.LayerNorm(Make(xv, shape, DType.F32), [d], wv is null ? null : Make(wv, [d], DType.F32), bv is null ? null : Make(bv, [d], DType.F32), eps);
            Close(NormReference.LayerNorm(xv, d, wv, bv, eps).Y, y.ToArray<double>(), 2e-6, 2e-6, $"{what}: output");
        }
        var expected = Run(DType.F64, fused: false);
        var actual = Run(DType.F32, fused: true);
        Compare(expected.Dx, actual.Dx, $"{what}: input gradient");
        Compare(expected.Dw, actual.Dw, $"{what}: weight gradient");
        Compare(expected.Db, actual.Db, $"{what}: bias gradient");
    }

    /// <summary>Within float rounding of the gradient's size (the affine gradients are sums over rows).</summary>
    private static void Compare(double[]? expected, double[]? actual, string what)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is null) return;
        double scale = Math.Max(1, expected.Max(Math.Abs));
        Close(expected, actual!, 2e-5, 2e-5 * scale, what);
    }
}
