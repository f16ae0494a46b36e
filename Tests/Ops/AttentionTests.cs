using Engine.Randomness;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>Scaled dot-product attention: against matmul + softmax + matmul, in both dtypes, with views and broadcasting; errors. Serial because one test changes the thread count.</summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class AttentionTests
{
    private static Tensor Reference(Tensor q, Tensor k, Tensor v, double scale) =>
        F.Softmax(q.MatMul(k.Transpose(-2, -1)) * scale, -1).MatMul(v);

    private static double MaxRelative(Tensor a, Tensor b)
    {
        var x = a.ToDType(DType.F64).ToArray<double>(); var y = b.ToDType(DType.F64).ToArray<double>();
        double max = y.Select(Math.Abs).DefaultIfEmpty(0).Max(), worst = 0;
        for (int i = 0; i < x.Length; i++) worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
        return worst / Math.Max(max, 1e-30);
    }

    [Theory]
    [InlineData(DType.F64, 1e-13)]
    [InlineData(DType.F32, 1e-5)]
    public void MatchesComposedReferenceForCrossAttentionOnHeadViews(DType dtype, double tolerance)
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(5);
        // Head views as a model makes them: (B, L, h, d) permuted to (B, h, L, d), not contiguous.
        var q = Tensor.Randn([3, 7, 2, 5], dtype, generator: gen).Permute(0, 2, 1, 3);
        var k = Tensor.Randn([3, 11, 2, 5], dtype, generator: gen).Permute(0, 2, 1, 3);
        var v = Tensor.Randn([3, 11, 2, 4], dtype, generator: gen).Permute(0, 2, 1, 3);
        foreach (var t in new[] { q, k, v }) t.RequiresGrad = true;
        var r = Tensor.Randn([3, 2, 7, 4], dtype, generator: gen);

        var y = F.ScaledDotProductAttention(q, k, v);
        (y * r).Sum().Backward();
        var grads = new[] { q.Grad!.Clone(), k.Grad!.Clone(), v.Grad!.Clone() };
        foreach (var t in new[] { q, k, v }) t.ZeroGrad();
        var yr = Reference(q, k, v, 1 / Math.Sqrt(5));
        (yr * r).Sum().Backward();

        Assert.Equal([3, 2, 7, 4], y.Shape);
        Assert.True(MaxRelative(y, yr) < tolerance, "output");
        Assert.True(MaxRelative(grads[0], q.Grad!) < tolerance, "dq");
        Assert.True(MaxRelative(grads[1], k.Grad!) < tolerance, "dk");
        Assert.True(MaxRelative(grads[2], v.Grad!) < tolerance, "dv");
    }

    /// <summary>
    /// Lengths and widths that reach every tile of the small-product kernel (4 rows x 2 vectors, 1 x 2, 1 x 1 and
    /// the scalar tail, in both dtypes), with keys and values read through transposed and sliced layouts; and two
    /// shapes whose backward has products on both sides of the packed GEMM's threshold (64³ multiply-adds), with
    /// edge tiles: (70, 90, 64, 40) packs dq and dk, (130, 37, 33, 64) dv and dp.
    /// </summary>
    [Theory]
    [InlineData(70, 90, 64, 40)]
    [InlineData(130, 37, 33, 64)]
    [InlineData(1, 1, 1, 1)]
    [InlineData(3, 7, 8, 9)]
    [InlineData(4, 16, 16, 16)]
    [InlineData(9, 33, 19, 7)]
    [InlineData(17, 4, 33, 24)]
    public void MatchesComposedReferenceOverTileShapes(int l, int s, int e, int ev)
    {
        foreach (var (dtype, tolerance) in new[] { (DType.F64, 1e-13), (DType.F32, 2e-5) })
        {
            using var scope = Tensor.Scope();
            var gen = new Generator((ulong)(l * 1000 + s));
            var q = Tensor.Randn([2, l, e], dtype, generator: gen);
            var k = Tensor.Randn([2, e, s], dtype, generator: gen).Transpose(1, 2);
            var v = Tensor.Randn([2, s, 2 * ev], dtype, generator: gen).Narrow(2, ev, ev);
            foreach (var t in new[] { q, k, v }) t.RequiresGrad = true;
            var r = Tensor.Randn([2, l, ev], dtype, generator: gen);
            (F.ScaledDotProductAttention(q, k, v) * r).Sum().Backward();
            var grads = new[] { q.Grad!.Clone(), k.Grad!.Clone(), v.Grad!.Clone() };
            foreach (var t in new[] { q, k, v }) t.ZeroGrad();
            var y = F.ScaledDotProductAttention(q, k, v);
            var yr = Reference(q, k, v, 1 / Math.Sqrt(e));
            (yr * r).Sum().Backward();
            Assert.True(MaxRelative(y, yr) < tolerance, $"output {dtype}");
            Assert.True(MaxRelative(grads[0], q.Grad!) < tolerance, $"dq {dtype}");
            Assert.True(MaxRelative(grads[1], k.Grad!) < tolerance, $"dk {dtype}");
            Assert.True(MaxRelative(grads[2], v.Grad!) < tolerance, $"dv {dtype}");
        }
    }

    /// <summary>The output follows the queries' memory order, so merging head views back into (B, L, C) is a view, not a copy.</summary>
    [Fact]
    public void OutputOfHeadViewsMergesWithoutACopy()
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(11);
        var q = Tensor.Randn([2, 5, 3, 4], DType.F32, generator: gen).Permute(0, 2, 1, 3);
        var k = Tensor.Randn([2, 3, 6, 4], DType.F32, generator: gen);
        var y = F.ScaledDotProductAttention(q, k, k);
        Assert.Equal([2, 3, 5, 4], y.Shape);
        Assert.True(y.Permute(0, 2, 1, 3).IsContiguous);
        Assert.True(MaxRelative(y, Reference(q, k, k, 0.5)) < 1e-5);
    }

    [Fact]
    public void UnbatchedQueriesBroadcastAgainstBatchedKeys()
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(9);
        var q = Tensor.Randn([4, 6], DType.F64, generator: gen);
        var k = Tensor.Randn([2, 5, 6], DType.F64, generator: gen);
        var v = Tensor.Randn([2, 5, 3], DType.F64, generator: gen);
        var y = F.ScaledDotProductAttention(q, k, v, scale: 0.5);
        Assert.Equal([2, 4, 3], y.Shape);
        Assert.True(MaxRelative(y, Reference(q.Expand([2, 4, 6]), k, v, 0.5)) < 1e-14);
    }

    [Fact]
    public void LargeLogitsStayFinite()
    {
        using var scope = Tensor.Scope();
        var q = Tensor.Full([1, 2, 3], 300.0, DType.F32);
        var k = Tensor.Randn([1, 4, 3], DType.F32, generator: new Generator(1)) * 100.0;
        var v = Tensor.Randn([1, 4, 2], DType.F32, generator: new Generator(2));
        var y = F.ScaledDotProductAttention(q, k, v).ToArray<float>();
        Assert.All(y, x => Assert.True(float.IsFinite(x)));
    }

    /// <summary>
    /// Many small matrices (one per work item, small products), and one matrix with products big enough for the
    /// packed GEMM (the parallel loop has a single item, so the GEMM may split instead).
    /// </summary>
    [Theory]
    [InlineData(8, 4, 33, 40, 16)]
    [InlineData(1, 1, 200, 150, 64)]
    [InlineData(1, 3, 96, 96, 48)]
    public void ResultsAndGradientsDoNotDependOnTheThreadCount(int b, int h, int l, int s, int e)
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(3);
        var q = Tensor.Randn([b, h, l, e], DType.F32, generator: gen);
        var k = Tensor.Randn([b, h, s, e], DType.F32, generator: gen);
        var v = Tensor.Randn([b, h, s, e], DType.F32, generator: gen);
        var r = Tensor.Randn([b, h, l, e], DType.F32, generator: gen);
        foreach (var t in new[] { q, k, v }) t.RequiresGrad = true;
        float[][] Run(int threads)
        {
            Engine.Cpu.CpuParallel.ThreadCount = threads;
            foreach (var t in new[] { q, k, v }) t.ZeroGrad();
            var y = F.ScaledDotProductAttention(q, k, v);
            (y * r).Sum().Backward();
            return [y.ToArray<float>(), q.Grad!.ToArray<float>(), k.Grad!.ToArray<float>(), v.Grad!.ToArray<float>()];
        }
        int saved = Engine.Cpu.CpuParallel.ThreadCount;
        try
        {
            var one = Run(1);
            var two = Run(2);
            for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
        }
        finally { Engine.Cpu.CpuParallel.ThreadCount = saved; }
    }

    [Fact]
    public void BadInputsNameTheOpAndTheShapes()
    {
        using var scope = Tensor.Scope();
        var q = Tensor.Zeros([2, 3, 4], DType.F64);
        var e = Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, Tensor.Zeros([2, 5, 6], DType.F64), Tensor.Zeros([2, 5, 4], DType.F64)));
        Assert.Contains("scaled_dot_product_attention", e.Message);
        Assert.Contains("[2, 5, 6]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, Tensor.Zeros([2, 5, 4], DType.F64), Tensor.Zeros([2, 6, 4], DType.F64)));
        Assert.Contains("sequence length", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, Tensor.Zeros([3, 5, 4], DType.F64), Tensor.Zeros([3, 5, 4], DType.F64)));
        Assert.Contains("broadcast", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(Tensor.Zeros([4], DType.F64), q, q));
        Assert.Contains("rank", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, q.ToDType(DType.F32), q));
        Assert.Contains("dtype", e.Message);
    }
}
