using Engine.Autograd;
using Engine.Models.Data;
using Engine.Models.Serialization.Pth;
using Engine.Models.Zoo;
using Xunit;

namespace Engine.Tests.Models.Pth;

/// <summary>
/// Each Nano backbone loads the state dict PyTorch saved from its twin (Samples/bench/twins, written by
/// Tests/Data/pth/make_pth.py as an official checkpoint nests it, under "model") with strict key checking, and
/// gives the twin's float64 eval-mode logits.
/// </summary>
public class PthBackboneTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData("vheat-nano", "vheat")]
    [InlineData("affnet-nano", "affnet")]
    [InlineData("sequencer-nano", "sequencer")]
    [InlineData("dualvit-nano", "dualvit")]
    public void TheTwinsCheckpointGivesTheTwinsLogits(string model, string family)
    {
        using var scope = Tensor.Scope();
        using var weights = PthReader.Read(PthFiles.Path($"nano_{family}.pth"));
        using var io = PthReader.Read(PthFiles.Path($"nano_{family}_io.pth"));
        Assert.Equal("model", weights.Entry);
        using var module = ModelZoo.Create(model, new ImageShape(3, 32, 32), 10, new Engine.Randomness.Generator(123));
        var result = module.LoadStateDict(weights.Tensors);
        Assert.Empty(result.MissingKeys);
        Assert.Empty(result.UnexpectedKeys);
        module.ToDType(DType.F64);
        module.Eval();
        double[] actual;
        using (Tape.NoGrad()) actual = module.Forward(io.Tensors["input"]).ToArray<double>();
        var expected = io.Tensors["logits"].ToArray<double>();
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        output.WriteLine($"{model}: largest logit difference {worst:g3}, relative {worst / scale:g3}");
        Assert.True(worst <= 1e-12 * scale, $"{model}: largest logit difference {worst:g3} (logits up to {scale:g3})");
    }
}
