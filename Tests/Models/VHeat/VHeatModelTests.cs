using Engine.Models.Backbones.VHeat;
using Xunit;

namespace Engine.Tests.Models.VHeat;

/// <summary>Structure of the vHeat networks: parameter counts of the spec's table, names, infer mode, input sizes.</summary>
public class VHeatModelTests
{
    /// <summary>Builds without spending time on initialisation values: only shapes are counted (float32, 224², 1000 classes).</summary>
    [Theory]
    [Trait("Category", "Slow")]
    [InlineData("T", 30_853_480L, 564_480L, 29_558_056L, 28_128_040L)]
    [InlineData("S", 52_220_392L, 564_480L, 50_054_056L, 47_720_872L)]
    [InlineData("B", 92_132_328L, 752_640L, 87_498_984L, 84_388_072L)]
    public void OfficialVariantsHaveTheReferenceParameterCounts(string variant, long train, long freqEmbed, long inference, long inferenceTrainable)
    {
        var config = variant switch { "T" => VHeatConfig.Tiny(), "S" => VHeatConfig.Small(), _ => VHeatConfig.Base() };
        using var model = new Engine.Models.Backbones.VHeat.VHeat(config);
        Assert.Equal(train, model.ParameterCount());
        Assert.Equal(freqEmbed, model.NamedParameters().Where(p => p.Name.StartsWith("freq_embed.")).Sum(p => p.Parameter.NumEl));
        using var infer = new Engine.Models.Backbones.VHeat.VHeat(config with { InferMode = true });
        Assert.Equal(inference, infer.ParameterCount());
        Assert.Equal(inferenceTrainable, infer.ParameterCount(trainableOnly: true));
    }

    [Fact]
    public void NanoHasTheSpecsParameterCountAndBreakdown()
    {
        using var model = new Engine.Models.Backbones.VHeat.VHeat(VHeatConfig.Nano());
        Assert.Equal(436_554, model.ParameterCount());
        long Sum(string prefix) => model.NamedParameters().Where(p => p.Name.StartsWith(prefix)).Sum(p => p.Parameter.NumEl);
        Assert.Equal(1_440, Sum("patch_embed."));
        Assert.Equal(1_920, Sum("freq_embed."));
        Assert.Equal(6_944, Sum("layers.0.0.") + Sum("layers.0.1."));
        Assert.Equal(4_672, Sum("layers.0.2."));
        Assert.Equal(199_808, Sum("layers.3.0."));
        Assert.Equal(1_546, Sum("classifier."));
        // In inference mode: to_k and the embeddings go, one frozen k_exp (H, W, C) per block comes.
        using var infer = model.ToInference();
        long toK = model.NamedParameters().Where(p => p.Name.Contains(".to_k.")).Sum(p => p.Parameter.NumEl);
        long kExp = 2 * (8 * 8 * 16) + 2 * (4 * 4 * 32) + 2 * (2 * 2 * 64) + 128;
        Assert.Equal(436_554 - 1_920 - toK + kExp, infer.ParameterCount());
        Assert.Equal(436_554 - 1_920 - toK, infer.ParameterCount(trainableOnly: true));
    }

    [Fact]
    public void StateDictNamesAreTheReferences()
    {
        using var model = new Engine.Models.Backbones.VHeat.VHeat(VHeatConfig.Nano() with { PostNorm = true, LayerScale = 1e-5 });
        var keys = model.StateDict().Keys.ToHashSet();
        foreach (var k in new[] { "patch_embed.conv1.weight", "patch_embed.norm1.1.weight", "patch_embed.conv2.bias", "patch_embed.norm2.1.bias",
            "freq_embed.0", "freq_embed.3", "layers.0.0.norm1.weight", "layers.0.0.op.dwconv.weight", "layers.0.0.op.linear.bias",
            "layers.0.0.op.to_k.0.weight", "layers.0.0.op.out_norm.weight", "layers.0.0.op.out_linear.weight", "layers.0.1.mlp.fc1.weight",
            "layers.0.1.mlp.fc2.bias", "layers.0.1.gamma1", "layers.0.1.gamma2", "layers.0.2.0.weight", "layers.0.2.1.bias",
            "layers.3.0.norm2.weight", "classifier.0.weight", "classifier.3.weight", "classifier.3.bias" })
            Assert.Contains(k, keys);
        Assert.DoesNotContain("layers.0.2.0.bias", keys);
        Assert.DoesNotContain(keys, k => k.StartsWith("layers.3.1"));
        Assert.Equal([8, 8, 16], model.StateDict()["freq_embed.0"].Shape);
        Assert.Equal([64, 4 * 64, 1, 1], model.StateDict()["layers.2.0.mlp.fc2.weight"].Shape);
    }

    [Fact]
    public void InferenceModeGivesTheSameLogits()
    {
        using var scope = Tensor.Scope();
        using var model = new Engine.Models.Backbones.VHeat.VHeat(VHeatConfig.Nano(), DType.F64, new Engine.Randomness.Generator(3));
        // Perturb so that K is far from 0 and the decay matters.
        using (Engine.Autograd.Tape.NoGrad())
            foreach (var p in model.Parameters()) p.AddInPlace(Tensor.Randn(p.Shape, DType.F64, generator: new Engine.Randomness.Generator(9)), 0.3);
        var x = Tensor.Randn([2, 3, 32, 32], DType.F64, generator: new Engine.Randomness.Generator(4));
        using var infer = model.ToInference();
        Assert.True(infer.Config.InferMode);
        Core.Reference.Close(model.Call(x).ToArray<double>(), infer.Call(x).ToArray<double>(), 1e-13, 1e-13, "infer mode");
        Assert.All(infer.NamedParameters().Where(p => p.Name.EndsWith("k_exp")), p => Assert.False(p.Parameter.RequiresGrad));
        Assert.Throws<ArgumentException>(() => infer.Call(Tensor.Zeros([1, 3, 64, 64], DType.F64)));
    }

    [Fact]
    public void NonSquareInputsSizeTheEmbeddingsByCeilHalving()
    {
        using var scope = Tensor.Scope();
        var config = VHeatConfig.Nano(imageHeight: 32, imageWidth: 48) with { Depths = [1, 1, 1, 1] };
        using var model = new Engine.Models.Backbones.VHeat.VHeat(config, DType.F64);
        Assert.Equal([8, 12, 16], model.StateDict()["freq_embed.0"].Shape);
        Assert.Equal([2, 3, 64], model.StateDict()["freq_embed.2"].Shape);
        Assert.Equal([1, 2, 128], model.StateDict()["freq_embed.3"].Shape);
        var x = Tensor.Randn([2, 3, 32, 48], DType.F64); x.RequiresGrad = true;
        var y = model.Call(x);
        Assert.Equal([2, 10], y.Shape);
        y.Sum().Backward();
        Assert.All(model.Parameters(), p => Assert.True(p.Grad is null || p.Grad.ToArray<double>().All(double.IsFinite)));
        // Odd sizes round up: 30x45 → 8x12 → 4x6 → 2x3 → 1x2, the same stage maps.
        Assert.Equal((1, 2), config.StageSize(3, 30, 45));
    }

    [Fact]
    public void OtherResolutionsAreRefusedOrResizeTheEmbeddings()
    {
        using var scope = Tensor.Scope();
        var config = VHeatConfig.Nano() with { Depths = [1, 1, 1, 1] };
        using var strict = new Engine.Models.Backbones.VHeat.VHeat(config, DType.F64);
        var e = Assert.Throws<ArgumentException>(() => strict.Call(Tensor.Zeros([1, 3, 64, 48], DType.F64)));
        Assert.Contains("32x32", e.Message);
        Assert.Contains("64x48", e.Message);
        using var resizing = new Engine.Models.Backbones.VHeat.VHeat(config with { ResizeFreqEmbed = true }, DType.F64);
        var x = Tensor.Randn([1, 3, 64, 48], DType.F64); x.RequiresGrad = true;
        var y = resizing.Call(x);
        y.Sum().Backward();
        Assert.Equal([1, 10], y.Shape);
        Assert.Equal([16, 12, 16], resizing.FreqEmbedFor(0, 16, 12).Shape);
        Assert.NotNull(resizing.StateDict()["freq_embed.0"].Grad);
    }

    [Fact]
    public void ConfigComesFromTheReferenceKwargsJson()
    {
        using var doc = System.Text.Json.JsonDocument.Parse("{\"patch_size\": 4, \"in_chans\": 1, \"num_classes\": 7, \"depths\": [1, 2, 1, 1], \"dims\": [8, 16, 24, 32], \"drop_path_rate\": 0.1, \"post_norm\": true, \"layer_scale\": 1e-05, \"mlp_ratio\": 3.0, \"img_size\": 32}");
        var c = VHeatConfig.FromJson(doc.RootElement, [28, 44]);
        Assert.Equal([8, 16, 24, 32], c.Dims);
        Assert.Equal([1, 2, 1, 1], c.Depths);
        Assert.Equal((7, 1, true, (double?)1e-5, 3.0, 0.1, 28, 44), (c.NumClasses, c.InChans, c.PostNorm, c.LayerScale, c.MlpRatio, c.DropPathRate, c.ImageHeight, c.ImageWidth));
        using var nano = System.Text.Json.JsonDocument.Parse("{\"dims\": 16, \"depths\": [2, 2, 2, 1], \"layer_scale\": null, \"post_norm\": false, \"img_size\": 32, \"num_classes\": 10, \"drop_path_rate\": 0.0}");
        var n = VHeatConfig.FromJson(nano.RootElement);
        Assert.Equal([16, 32, 64, 128], n.Dims);
        Assert.Null(n.LayerScale);
        Assert.Equal((32, 32), (n.ImageHeight, n.ImageWidth));
        using var model = new Engine.Models.Backbones.VHeat.VHeat(n);
        Assert.Equal(436_554, model.ParameterCount());
    }

    [Fact]
    public void AnOperatorWithAWiderInputRunsItsDepthwiseConvGrouped()
    {
        using var scope = Tensor.Scope();
        using var op = new Heat2D(24, 12, dtype: DType.F64);
        var x = Tensor.Randn([2, 24, 5, 6], DType.F64);
        var fve = Tensor.Randn([5, 6, 12], DType.F64);
        var y = op.Forward(x, fve);
        Assert.Equal([2, 12, 5, 6], y.Shape);
        Assert.Equal([12, 2, 3, 3], op.StateDict()["dwconv.weight"].Shape);
    }

    [Fact]
    public void BadConfigurationsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new Engine.Models.Backbones.VHeat.VHeat(VHeatConfig.Nano() with { Depths = [1, 1] }));
        Assert.Throws<ArgumentException>(() => new Engine.Models.Backbones.VHeat.VHeat(VHeatConfig.Nano() with { Dims = [3, 6, 12, 24] }));
        Assert.Throws<ArgumentException>(() => new Heat2D(12, 5));
    }
}
