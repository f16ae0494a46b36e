using Engine.Models.Backbones.DualVit;
using Engine.Models.Parity;
using Xunit;
using Model = Engine.Models.Backbones.DualVit.DualVit;

namespace Engine.Tests.Models.DualVit;

/// <summary>Dual-ViT variants: parameter counts of the spec's table, state-dict keys, other input and pool sizes.</summary>
public class DualVitModelTests
{
    [Theory]
    [InlineData("S", false, 24_605_000L)]
    [InlineData("S", true, 25_054_000L)]
    public void DualVitSHasTheReferenceParameterCounts(string variant, bool tokenLabel, long expected) =>
        OfficialVariantsHaveTheReferenceParameterCounts(variant, tokenLabel, expected);

    /// <summary>B and L: 42 and 73 million parameters take 10 to 25 s each to allocate and initialise on 2 cores.</summary>
    [Theory]
    [Trait("Category", "Slow")]
    [InlineData("B", false, 42_114_024L)]
    [InlineData("B", true, 42_627_024L)]
    [InlineData("L", false, 72_453_544L)]
    [InlineData("L", true, 72_966_544L)]
    public void OfficialVariantsHaveTheReferenceParameterCounts(string variant, bool tokenLabel, long expected)
    {
        var config = variant switch
        {
            "S" => DualVitConfig.Small(tokenLabel),
            "B" => DualVitConfig.Base(tokenLabel),
            _ => DualVitConfig.Large(tokenLabel),
        };
        using var model = new Model(config);
        Assert.Equal(expected, model.ParameterCount());
    }

    [Fact]
    public void NanoHasTheSpecsParameterCountAndTheGoldensKeys()
    {
        using var model = new Model(DualVitConfig.Nano());
        Assert.Equal(389_762L, model.ParameterCount());
        using var golden = GoldenCase.Load(GoldenFiles.Copied("dualvit/nano_train.safetensors"));
        using (var fromGolden = new Model(DualVitConfig.FromJson(golden.Config))) Assert.Equal(389_762L, fromGolden.ParameterCount());
        var keys = model.StateDict().Keys.Where(k => !k.EndsWith("num_batches_tracked")).Order().ToArray();
        var expected = golden.Parameters.Keys.Concat(golden.Buffers.Keys).Order().ToArray();
        Assert.Equal(expected, keys);
    }

    /// <summary>
    /// 44x36 input: stage-1 grid 11x9; pool 3 drops the last 2 rows and the last column (3x3 pooled, M = 9, so
    /// the queries are resized 8x8 to 3x3); grids 6x5, 3x3, 2x2. Forward and backward run, gradients reach q.
    /// </summary>
    [Fact]
    public void NonSquareInputWithAPoolThatDropsRowsAndColumnsAndResizedQueries()
    {
        using var scope = Tensor.Scope();
        using var model = new Model(DualVitConfig.Nano() with { SemanticPool = 3 }, generator: new Engine.Randomness.Generator(1));
        var x = Tensor.Randn([2, 3, 44, 36], DType.F32, generator: new Engine.Randomness.Generator(2));
        var y = model.Call(x);
        Assert.Equal([2, 10], y.Shape);
        y.Sum().Backward();
        var q = model.NamedParameters().Single(p => p.Name == "q").Parameter;
        Assert.True(q.Grad!.Abs().Max().Item() > 0);
    }

    [Fact]
    public void TokenLabelHeadRefusesTrainingModeAndTooSmallInputsAreNamed()
    {
        using var scope = Tensor.Scope();
        using var model = new Model(DualVitConfig.Nano() with { TokenLabel = true });
        var x = Tensor.Zeros([1, 3, 32, 32]);
        Assert.Throws<NotSupportedException>(() => model.Call(x));
        model.Eval();
        Assert.Equal([1, 10], model.Call(x).Shape);
        using var coarse = new Model(DualVitConfig.Nano() with { SemanticPool = 9 });
        var e = Assert.Throws<ArgumentException>(() => coarse.Call(x));
        Assert.Contains("8x8", e.Message);
    }
}
