using Engine.Autograd;
using Engine.Models.Backbones.AffNet;
using Engine.Models.Nn;
using Xunit;

namespace Engine.Tests.Models.AffNet;

/// <summary>
/// Float64 gradient checks of the AFFNet modules in training mode (BatchNorm on batch statistics), for the
/// input and every parameter: MV2 with and without expansion and residual, one AFF block, an AFF stage with
/// and without fusion, on odd, non-square maps.
/// </summary>
public class AffNetGradientTests
{
    private static readonly AffNetConfig Options = AffNetConfig.Nano();

    public static TheoryData<string> Modules() => ["mv2-residual", "mv2-stride2-expand1", "aff-block", "aff-stage", "aff-stage-nofuse"];

    /// <summary>Parameters from a fixed seed: the default generator's state depends on which tests ran before.</summary>
    private static (Module<Tensor, Tensor> Module, int Channels) Build(string name, Engine.Randomness.Generator g) => name switch
    {
        "mv2-residual" => (new InvertedResidual(4, 4, 1, 2.0, generator: g), 4),
        "mv2-stride2-expand1" => (new InvertedResidual(8, 6, 2, 1.0, generator: g), 8),
        "aff-block" => (new AffBlock(8, 12, Options, g, groups: 4), 8),
        "aff-stage" => (new AffStage(8, 8, 1, noFuse: false, Options, g), 8),
        _ => (new AffStage(8, 16, 1, noFuse: true, Options, g), 8),
    };

    [Theory]
    [MemberData(nameof(Modules))]
    public void InputAndParameterGradientsMatchFiniteDifferences(string name)
    {
        var (module, channels) = Build(name, new Engine.Randomness.Generator(7));
        using (module)
        {
            module.ToDType(DType.F64);
            module.Train();
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([2, channels, 3, 5], DType.F64, generator: new Engine.Randomness.Generator(3));
            var inputs = new[] { x }.Concat(module.Parameters()).ToArray();
            var result = GradCheck.Check(_ => module.Call(x), inputs);
            Assert.True(result.Passed, $"{name}: {result}");
        }
    }
}
