using Engine.Models.Backbones.Sequencer;
using Engine.Models.Parity;
using Engine.Models.Zoo;
using Engine.Tests.Models;
using Xunit;

namespace Engine.Tests.Models.Sequencer;

/// <summary>The Sequencer2D network: sizes of the spec's table, state-dict keys, configs from golden metadata, free input sizes.</summary>
public class SequencerModelTests
{
    [Fact]
    public void NanoHasTheSpecsParameterCount()
    {
        using var model = new Sequencer2d(SequencerConfig.Nano());
        Assert.Equal(294_634, model.ParameterCount());
    }

    /// <summary>Sequencer2D-S at 1000 classes (section 7.1).</summary>
    [Fact]
    public void SmallHasTheSpecsParameterCount()
    {
        using var model = new Sequencer2d(SequencerConfig.Small());
        Assert.Equal(27_651_688L, model.ParameterCount());
    }

    /// <summary>M and L at 1000 classes: 38 M and 54 M parameters to allocate and initialise, so slow.</summary>
    [Fact, Trait("Category", "Slow")]
    public void MediumAndLargeHaveTheSpecsParameterCounts()
    {
        foreach (var (config, expected) in new[] { (SequencerConfig.Medium(), 38_307_688L), (SequencerConfig.Large(), 54_298_216L) })
        {
            using var model = new Sequencer2d(config);
            Assert.Equal(expected, model.ParameterCount());
        }
    }

    [Fact]
    public void StateDictKeysAreTheReferences()
    {
        using var golden = GoldenCase.Load(GoldenFiles.Copied("sequencer/nano_train.safetensors"));
        using var model = new Sequencer2d(SequencerConfig.FromJson(golden.Config));
        Assert.Equal(golden.Parameters.Keys.Order(), model.StateDict().Keys.Order());
        Assert.Contains("blocks.0.2.down.weight", model.StateDict().Keys);
        Assert.Equal(SequencerConfig.Nano().Layers, model.Config.Layers);
    }

    [Fact]
    public void BuildsFromAnotherConfigAndTakesNonSquareInputs()
    {
        // The spec's "alt" config (section 7.3): D != C/4, a widening 1x1 transition, 48x32 inputs.
        var json = System.Text.Json.JsonDocument.Parse("""
            {"num_classes": 7, "in_chans": 3, "layers": [1, 2, 1, 1], "patch_sizes": [4, 2, 1, 1], "embed_dims": [24, 48, 48, 64],
             "hidden_sizes": [8, 12, 16, 16], "mlp_ratios": [2.0, 3.0, 3.0, 4.0]}
            """).RootElement;
        using var model = new Sequencer2d(SequencerConfig.FromJson(json));
        Assert.Equal(169_167, model.ParameterCount());
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([2, 3, 48, 32]);
        var y = model.Call(x);
        Assert.Equal(new[] { 2, 7 }, y.Shape);
        var z = model.Call(Tensor.Randn([1, 3, 30, 45]));
        Assert.Equal(new[] { 1, 7 }, z.Shape);
    }

    [Fact]
    public void TrainAndEvalAgreeWithoutDropRates()
    {
        using var scope = Tensor.Scope();
        using var model = new Sequencer2d(SequencerConfig.Nano(), DType.F64, new Engine.Randomness.Generator(5));
        var x = Tensor.Randn([1, 3, 32, 32], DType.F64);
        var train = model.Call(x).ToArray<double>();
        model.Eval();
        Assert.Equal(train, model.Call(x).ToArray<double>());
    }

    [Fact]
    public void ZooBuildsSequencerNano()
    {
        using var model = ModelZoo.Create("sequencer-nano", new Engine.Models.Data.ImageShape(3, 32, 32), 10, new Engine.Randomness.Generator(1));
        Assert.Equal(294_634, model.ParameterCount());
    }
}
