using Engine.Autograd;
using Engine.Models.Backbones.AffNet;
using Engine.Models.Nn;
using Engine.Models.Zoo;
using Xunit;

namespace Engine.Tests.Models.AffNet;

/// <summary>Parameter counts of the spec's tables, any input size, state-dict names, and the zoo entry.</summary>
public class AffNetModelTests
{
    [Theory]
    [InlineData("ET", 1_436_264)]
    [InlineData("T", 2_654_232)]
    [InlineData("AFFNet", 5_568_696)]
    public void OfficialVariantsHaveTheReferenceParameterCounts(string variant, long expected)
    {
        var config = variant switch { "ET" => AffNetConfig.ExtraTiny(), "T" => AffNetConfig.Tiny(), _ => AffNetConfig.Small() };
        using var model = new Engine.Models.Backbones.AffNet.AffNet(config);
        Assert.Equal(expected, model.ParameterCount());
    }

    [Fact]
    public void NanoMatchesTheSpecTableStageByStage()
    {
        using var model = new Engine.Models.Backbones.AffNet.AffNet(AffNetConfig.Nano());
        Assert.Equal(247_034, model.ParameterCount());
        var perStage = model.NamedParameters().GroupBy(p => p.Name.Split('.')[0]).ToDictionary(g => g.Key, g => g.Sum(p => p.Parameter.NumEl));
        Assert.Equal(new Dictionary<string, long>
        {
            ["conv_1"] = 464, ["layer_1"] = 1_744, ["layer_2"] = 8_368, ["layer_3"] = 37_440, ["layer_4"] = 66_272,
            ["layer_5"] = 103_296, ["conv_1x1_exp"] = 26_240, ["classifier"] = 3_210,
        }, perStage);
    }

    [Fact]
    public void StateDictUsesTheReferenceNames()
    {
        using var model = new Engine.Models.Backbones.AffNet.AffNet(AffNetConfig.Nano());
        var keys = model.StateDict().Keys.ToHashSet();
        foreach (var key in new[]
        {
            "conv_1.block.conv.weight", "conv_1.block.norm.running_var", "layer_1.0.block.exp_1x1.block.conv.weight",
            "layer_3.0.block.conv_3x3.block.norm.weight", "layer_3.1.global_rep.0.norm1.weight", "layer_3.1.global_rep.0.filter.w1",
            "layer_3.1.global_rep.1.mlp.block.red_1x1.block.norm.bias", "layer_3.1.global_rep.2.bias", "layer_5.1.conv_proj.block.conv.weight",
            "layer_5.1.fusion.block.conv.weight", "conv_1x1_exp.block.conv.weight", "classifier.fc.weight", "classifier.fc.bias",
        })
            Assert.Contains(key, keys);
    }

    [Theory]
    [InlineData(32, 32)]
    [InlineData(37, 45)]
    [InlineData(17, 9)]
    [InlineData(64, 40)]
    public void AnyInputSizeRunsForwardAndBackward(int h, int w)
    {
        var config = AffNetConfig.Nano() with { Stages = [.. AffNetConfig.Nano().Stages.Take(4), AffNetConfig.Nano().Stages[4] with { NoFuse = true }] };
        using var model = new Engine.Models.Backbones.AffNet.AffNet(config, new Engine.Randomness.Generator(1));
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([2, 3, h, w], DType.F32, generator: new Engine.Randomness.Generator(2));
        var y = model.Call(x);
        Assert.Equal([2, 10], y.Shape);
        y.Sum().Backward();
        Assert.All(model.Parameters(), p => Assert.NotNull(p.Grad));
        Assert.DoesNotContain(model.StateDict().Keys, k => k.StartsWith("layer_5.1.fusion", StringComparison.Ordinal));
    }

    [Fact]
    public void ConfigReadsTheReferenceTableNamesToo()
    {
        const string json = """
            {"opts": {"model.activation.name": "swish", "model.classification.affnet.attn_norm_layer": "layer_norm"}, "num_classes": 10,
             "stages": [{"block_type": "mv2", "out_channels": 24, "expand_ratio": 2, "num_blocks": 1, "stride": 1},
                        {"block_type": "mv2", "out_channels": 32, "expand_ratio": 2, "num_blocks": 2, "stride": 1},
                        {"block_type": "aff_block", "out_channels": 48, "ffn_dim": 96, "transformer_blocks": 2, "stride": 2, "mv_expand_ratio": 2},
                        {"block_type": "aff_block", "out_channels": 64, "ffn_dim": 128, "transformer_blocks": 2, "stride": 2, "mv_expand_ratio": 2},
                        {"block_type": "aff_block", "out_channels": 80, "transformer_blocks": 2, "stride": 2, "mv_expand_ratio": 2, "no_fuse": true}]}
            """;
        var config = AffNetConfig.FromJson(System.Text.Json.JsonDocument.Parse(json).RootElement);
        Assert.Equal(AffNetConfig.Nano().Stages.Take(4), config.Stages.Take(4));
        Assert.Equal(AffNetConfig.Nano().Stages[4] with { NoFuse = true }, config.Stages[4]);
    }

    [Fact]
    public void BadConfigurationsAreRefusedWithAMessage()
    {
        var nano = AffNetConfig.Nano();
        var notDivisible = nano with { Stages = [.. nano.Stages.Take(2), nano.Stages[2] with { Out = 44 }, .. nano.Stages.Skip(3)] };
        Assert.Contains("stage 3 width 44 is not divisible by the 8 mask groups",
            Assert.Throws<ArgumentException>(() => new Engine.Models.Backbones.AffNet.AffNet(notDivisible)).Message);
        var strideOne = nano with { Stages = [.. nano.Stages.Take(2), nano.Stages[2] with { Stride = 1 }, .. nano.Stages.Skip(3)] };
        Assert.Contains("stage 3 has stride 1, so its input width 32 must equal its width 48",
            Assert.Throws<ArgumentException>(() => new Engine.Models.Backbones.AffNet.AffNet(strideOne)).Message);
        Assert.Contains("channels (12) must be divisible by the number of groups (8)",
            Assert.Throws<ArgumentException>(() => new AffTokenMixer(12)).Message);
        Assert.Contains("activation 'mish' is not supported",
            Assert.Throws<NotSupportedException>(() => new Engine.Models.Backbones.AffNet.AffNet(nano with { Activation = "mish" })).Message);
    }

    [Fact]
    public void ZooBuildsNano()
    {
        using var model = ModelZoo.Create("affnet-nano", new Engine.Models.Data.ImageShape(3, 32, 32), 10, new Engine.Randomness.Generator(0));
        Assert.Equal(247_034, ((Module)model).ParameterCount());
    }
}
