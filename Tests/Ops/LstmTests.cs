using Engine.Cpu;
using Engine.Models.Backbones.Sequencer;
using Engine.Models.Nn;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>Behaviour and bad-input tests of the LSTM operators and layers.</summary>
public class LstmTests
{
    private static Tensor Rand(params int[] shape) => Tensor.Randn(shape, DType.F64, generator: new Engine.Randomness.Generator(7));

    [Fact]
    public void ModuleHasPyTorchNames()
    {
        using var lstm = new Lstm(5, 3, numLayers: 2, bidirectional: true);
        Assert.Equal(new[]
        {
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
            "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
            "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
        }, lstm.StateDict().Keys);
        Assert.Equal(new[] { 12, 6 }, lstm.StateDict()["weight_ih_l1"].Shape);
        Assert.True(lstm.Parameters().All(p => p.ToArray<float>().All(v => Math.Abs(v) <= 1 / Math.Sqrt(3))));
    }

    [Fact]
    public void UnbatchedInputMatchesABatchOfOne()
    {
        using var scope = Tensor.Scope();
        using var lstm = new Lstm(4, 3, bidirectional: true, dtype: DType.F64);
        var x = Rand(5, 4);
        var (o, h, c) = lstm.Forward(x, null, null);
        var (ob, hb, cb) = lstm.Forward(x.Unsqueeze(1), null, null);
        Assert.Equal(new[] { 5, 6 }, o.Shape);
        Assert.Equal(new[] { 2, 3 }, h.Shape);
        Assert.Equal(o.ToArray<double>(), ob.ToArray<double>());
        Assert.Equal(c.ToArray<double>(), cb.ToArray<double>());
    }

    [Fact]
    public void FinalStateOfTheReverseDirectionIsItsOutputAtTheFirstStep()
    {
        using var scope = Tensor.Scope();
        using var lstm = new Lstm(2, 3, bidirectional: true, batchFirst: true, dtype: DType.F64);
        var (o, h, _) = lstm.Forward(Rand(2, 4, 2), null, null);
        Assert.Equal(o.Select(1, 3).Narrow(-1, 0, 3).ToArray<double>(), h.Select(0, 0).ToArray<double>());
        Assert.Equal(o.Select(1, 0).Narrow(-1, 3, 3).ToArray<double>(), h.Select(0, 1).ToArray<double>());
    }

    /// <summary>The register sigmoid and tanh saturate to 0, 1 and ±1 without NaN however large the pre-activations.</summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void SaturatesWithoutNaN(DType dtype)
    {
        using var scope = Tensor.Scope();
        var x = (Rand(2, 9, 8, 16) * 1e4).ToDType(dtype);
        var w = new[] { Rand(32, 16), Rand(32, 8), Rand(32), Rand(32) }.Select(t => (t * 100).ToDType(dtype)).ToArray();
        var y = F.Lstm2d(x, w, w, bidirectional: false);
        var values = y.ToDType(DType.F64).ToArray<double>();
        Assert.All(values, v => Assert.True(Math.Abs(v) <= 1, $"{v}"));
        Assert.Contains(values, v => Math.Abs(v) > 0.99);
    }

    [Fact]
    public void RejectsBadInputs()
    {
        using var scope = Tensor.Scope();
        var w = new[] { Rand(12, 5), Rand(12, 3), Rand(12), Rand(12) };
        var e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 4, 5), w));
        Assert.Contains("lstm", e.Message); Assert.Contains("[2, 3, 4, 5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 6), w));
        Assert.Contains("input.size(-1) must be equal to input_size. Expected 5, got 6", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 5), w[..3]));
        Assert.Contains("expected 4 weights", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 5), w, hasBiases: false));
        Assert.Contains("expected 2 weights", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 5), [w[0], Rand(12, 4), w[2], w[3]]));
        Assert.Contains("weight_hh_l0", e.Message); Assert.Contains("[12, 4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 5), [w[0], w[1], Rand(11), w[3]]));
        Assert.Contains("bias_ih_l0", e.Message); Assert.Contains("[11]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 5), w, h0: Rand(1, 2, 3)));
        Assert.Contains("Expected hidden[0] size (1, 3, 3), got [1, 2, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 5), w, bidirectional: true));
        Assert.Contains("expected 8 weights", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm(Rand(2, 3, 5).ToDType(DType.F32), w));
        Assert.Contains("dtype", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm2d(Rand(2, 3, 5), w, null));
        Assert.Contains("lstm2d", e.Message); Assert.Contains("[2, 3, 5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm2d(Rand(1, 2, 3, 5), null, null));
        Assert.Contains("lstm2d", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Lstm2d(Rand(1, 2, 3, 4), w, w, bidirectional: false));
        Assert.Contains("input_size. Expected 5, got 4", e.Message);
        Assert.Throws<ArgumentException>(() => new BiLstm2d(8, 3, withFc: false));
        Assert.Throws<ArgumentException>(() => new BiLstm2d(8, 2, union: "mul"));
    }

    [Fact]
    public void BiLstm2dVariantsRun()
    {
        using var scope = Tensor.Scope();
        var x = Rand(2, 3, 4, 8);
        foreach (var (union, withFc, hidden, layers) in new[] { ("cat", true, 3, 1), ("add", true, 3, 1), ("vertical", false, 4, 1), ("horizontal", true, 2, 1), ("cat", true, 3, 2) })
        {
            using var layer = new BiLstm2d(8, hidden, numLayers: layers, union: union, withFc: withFc, dtype: DType.F64);
            var y = layer.Call(x);
            Assert.Equal(new[] { 2, 3, 4, 8 }, y.Shape);
        }
    }

    [Fact]
    public void StackedBiLstm2dMatchesTheFusedPathForOneLayer()
    {
        using var scope = Tensor.Scope();
        var x = Rand(2, 3, 4, 8);
        using var layer = new BiLstm2d(8, 3, dtype: DType.F64);
        var fused = F.Lstm2d(x, ((Lstm)layer.NamedChildren().First(c => c.Name == "rnn_v").Module).FlatWeights,
            ((Lstm)layer.NamedChildren().First(c => c.Name == "rnn_h").Module).FlatWeights);
        var v = ((Lstm)layer.NamedChildren().First(c => c.Name == "rnn_v").Module).Call(x.Permute(0, 2, 1, 3).Reshape(8, 3, 8));
        var h = ((Lstm)layer.NamedChildren().First(c => c.Name == "rnn_h").Module).Call(x.Reshape(6, 4, 8));
        var expected = Tensor.Cat([v.Reshape(2, 4, 3, 6).Permute(0, 2, 1, 3), h.Reshape(2, 3, 4, 6)], -1);
        var diff = (fused - expected).Abs().Max().Item();
        Assert.True(diff < 1e-14, $"max diff {diff}");
    }
}

/// <summary>
/// The BiLSTM's thread invariance. It sets the process-wide <see cref="CpuParallel.ThreadCount"/>, so it runs in
/// the serial collection: beside other tests, their save-and-restore of the count could interleave with its own.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class LstmThreadTests
{
    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        using var scope = Tensor.Scope();
        using var layer = new BiLstm2d(8, 4, dtype: DType.F32);
        var x = Tensor.Randn([3, 5, 6, 8], DType.F32, generator: new Engine.Randomness.Generator(3));
        double[] Run(int threads)
        {
            int before = CpuParallel.ThreadCount;
            CpuParallel.ThreadCount = threads;
            try
            {
                layer.ZeroGrad();
                var xi = x.Clone().RequiresGradInPlace();
                var y = layer.Call(xi);
                (y * y).Sum().Backward();
                return [.. layer.Call(xi).ToArray<float>().Select(v => (double)v), .. xi.Grad!.ToArray<float>().Select(v => (double)v),
                    .. layer.Parameters().SelectMany(p => p.Grad!.ToArray<float>()).Select(v => (double)v)];
            }
            finally { CpuParallel.ThreadCount = before; }
        }
        Assert.Equal(Run(1), Run(2));
    }
}
