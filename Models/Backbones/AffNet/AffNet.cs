using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.AffNet;

/// <summary>
/// AFFNet (Huang et al., ICCV 2023; reference microsoft/TokenMixers, "Adaptive Frequency Filters"): a
/// stride-2 stem, MV2 stages, three AFF stages and a 1x1 expansion before a mean-pool + linear head, with
/// the reference's state-dict keys. Any input size works: each stride-2 layer maps n to ⌈n/2⌉.
/// </summary>
public sealed class AffNet : Module<Tensor, Tensor>
{
    private readonly ConvLayer _conv1, _convExp;
    private readonly Sequential[] _layers;
    private readonly Classifier _classifier;

    /// <summary>Builds the network; parameters are initialised as the reference does (§4 of the spec).</summary>
    public AffNet(AffNetConfig config, Generator? generator = null)
    {
        Config = config;
        string act = AffNetConfig.ActivationName(config.Activation);
        _conv1 = RegisterModule("conv_1", new ConvLayer(config.InChannels, config.StemOut, 3, 2, activation: act, bnMomentum: config.BnMomentum, generator: generator));
        int width = config.StemOut;
        _layers = new Sequential[config.Stages.Count];
        for (int s = 0; s < config.Stages.Count; s++)
        {
            var st = config.Stages[s];
            var layer = new Sequential();
            if (st.Type == "mv2")
            {
                for (int b = 0; b < st.Blocks; b++)
                    layer.Append(new InvertedResidual(b == 0 ? width : st.Out, st.Out, b == 0 ? st.Stride : 1, st.Expand, act, config.BnMomentum, generator));
            }
            else if (st.Type == "aff")
            {
                if (st.Stride == 2)
                    layer.Append(new InvertedResidual(width, st.Out, 2, st.Expand, act, config.BnMomentum, generator));
                else if (width != st.Out)
                    throw new ArgumentException($"AffNet: stage {s + 1} has stride 1, so its input width {width} must equal its width {st.Out}.");
                if (st.Out % AffNetConfig.MaskGroups != 0)
                    throw new ArgumentException($"AffNet: stage {s + 1} width {st.Out} is not divisible by the {AffNetConfig.MaskGroups} mask groups.");
                layer.Append(new AffStage(st.Out, st.Ffn, st.Blocks, st.NoFuse, config, generator));
            }
            else throw new ArgumentException($"AffNet: unknown stage type '{st.Type}' (mv2 or aff).");
            _layers[s] = RegisterModule($"layer_{s + 1}", layer);
            width = st.Out;
        }
        _convExp = RegisterModule("conv_1x1_exp", new ConvLayer(width, config.HeadWidth, 1, activation: act, bnMomentum: config.BnMomentum, generator: generator));
        _classifier = RegisterModule("classifier", new Classifier(config.HeadWidth, config.NumClasses, config.ClassifierDropout, generator));
    }

    /// <summary>The configuration the network was built from.</summary>
    public AffNetConfig Config { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = _conv1.Call(input);
        foreach (var layer in _layers) x = layer.Call(x);
        return _classifier.Call(_convExp.Call(x));
    }

    /// <summary>Mean over (H, W), dropout when 0 &lt; p &lt; 1, and a linear layer (Xavier-uniform weight, zero bias). State: <c>fc.*</c>.</summary>
    private sealed class Classifier : Module<Tensor, Tensor>
    {
        private readonly Dropout? _dropout;
        private readonly Linear _fc;

        public Classifier(int features, int classes, double dropout, Generator? generator)
        {
            if (dropout > 0 && dropout < 1) _dropout = RegisterModule("dropout", new Dropout(dropout));   // masks from the default generator, which a checkpoint resumes
            _fc = RegisterModule("fc", new Linear(features, classes, generator: generator));
            Init.XavierUniform(_fc.Weight, generator: generator);
            Init.Zeros(_fc.Bias!);
        }

        public override Tensor Forward(Tensor input)
        {
            var x = Functional.GlobalAvgPool2d(input);
            return _fc.Call(_dropout is null ? x : _dropout.Call(x));
        }
    }
}
