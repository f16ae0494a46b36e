using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.AffNet;

/// <summary>
/// The AFF token mixer (reference class AFNO2D_channelfirst): x + irfft2(M ⊙ rfft2(x)) with the mask M
/// from a two-layer complex group MLP over the spectrum and a soft-shrink. State: <c>w1</c>, <c>b1</c>,
/// <c>w2</c>, <c>b2</c> ([0] real, [1] imaginary; weights laid out (group, in, out)).
/// </summary>
public sealed class AffTokenMixer : Module<Tensor, Tensor>
{
    private readonly double _threshold;
    private readonly string _activation;

    /// <summary>Creates the mixer for <paramref name="channels"/> channels in <paramref name="groups"/> groups (parameters 0.02·N(0, 1)).</summary>
    public AffTokenMixer(int channels, int groups = AffNetConfig.MaskGroups, double sparsityThreshold = 0.01, string activation = "silu", Generator? generator = null)
    {
        if (groups < 1 || channels % groups != 0)
            throw new ArgumentException($"AffTokenMixer: channels ({channels}) must be divisible by the number of groups ({groups}).");
        int d = channels / groups;
        _threshold = sparsityThreshold;
        _activation = activation;
        foreach (var (name, shape) in new[] { ("w1", new[] { 2, groups, d, d }), ("b1", new[] { 2, groups, d }), ("w2", new[] { 2, groups, d, d }), ("b2", new[] { 2, groups, d }) })
            Init.Normal(RegisterParameter(name, Tensor.Empty(shape))!, 0, 0.02, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.AdaptiveFrequencyFilter(input,
        GetParameter("w1")!, GetParameter("b1")!, GetParameter("w2")!, GetParameter("b2")!, _threshold, _activation);
}

/// <summary>
/// One AFF block (reference class Block): LN1 → MV2 (with its residual) → LN2 → token mixer (with its
/// residual), plus the block residual. Registered as norm1, filter, norm2, mlp, the reference's order,
/// although mlp runs before filter.
/// </summary>
public sealed class AffBlock : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> _norm1, _norm2;
    private readonly AffTokenMixer _filter;
    private readonly InvertedResidual _mlp;

    /// <summary>Creates the block of width <paramref name="channels"/> with an MV2 of hidden width about <paramref name="ffnDim"/> (the network always uses 8 mask groups).</summary>
    public AffBlock(int channels, int ffnDim, AffNetConfig config, Generator? generator = null, int groups = AffNetConfig.MaskGroups)
    {
        string act = AffNetConfig.ActivationName(config.Activation);
        _norm1 = RegisterModule("norm1", AttnNorm(channels, config.AttnNorm));
        _filter = RegisterModule("filter", new AffTokenMixer(channels, groups, config.SparsityThreshold, act, generator));
        _norm2 = RegisterModule("norm2", AttnNorm(channels, config.AttnNorm));
        _mlp = RegisterModule("mlp", new InvertedResidual(channels, channels, 1, (double)ffnDim / channels, act, config.BnMomentum, generator));
    }

    /// <summary>The norm of the AFF blocks: "layer_norm" (channels-first, eps on the std) or "layer_norm_2d" (GroupNorm with one group).</summary>
    public static Module<Tensor, Tensor> AttnNorm(int channels, string name) => name switch
    {
        "layer_norm" => new LayerNorm2d(channels, 1e-5, epsOnStd: true),
        "layer_norm_2d" => new GroupNorm(1, channels, 1e-5),
        _ => throw new NotSupportedException($"affnet: attn_norm_layer '{name}' is not supported (layer_norm, layer_norm_2d)."),
    };

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var t = _mlp.Call(_norm1.Call(input));
        t = _filter.Call(_norm2.Call(t));
        return input + t;
    }
}

/// <summary>
/// The AFF stage wrapper (reference class AFFBlock): N AFF blocks and a final norm (<c>global_rep</c>),
/// a 1x1 conv + BN (<c>conv_proj</c>), and unless <c>noFuse</c> a 1x1 conv + BN + activation over the
/// channel concatenation [input, projection] (<c>fusion</c>).
/// </summary>
public sealed class AffStage : Module<Tensor, Tensor>
{
    private readonly Sequential _globalRep;
    private readonly ConvLayer _convProj;
    private readonly ConvLayer? _fusion;

    /// <summary>Creates the stage of width <paramref name="channels"/>.</summary>
    public AffStage(int channels, int ffnDim, int blocks, bool noFuse, AffNetConfig config, Generator? generator = null)
    {
        string act = AffNetConfig.ActivationName(config.Activation);
        _globalRep = RegisterModule("global_rep", new Sequential());
        for (int j = 0; j < blocks; j++) _globalRep.Append(new AffBlock(channels, ffnDim, config, generator));
        _globalRep.Append(AffBlock.AttnNorm(channels, config.AttnNorm));
        _convProj = RegisterModule("conv_proj", new ConvLayer(channels, channels, 1, activation: null, bnMomentum: config.BnMomentum, generator: generator));
        if (!noFuse)
            _fusion = RegisterModule("fusion", new ConvLayer(2 * channels, channels, 1, activation: act, bnMomentum: config.BnMomentum, generator: generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var f = _convProj.Call(_globalRep.Call(input));
        return _fusion is null ? f : _fusion.Call(Tensor.Cat([input, f], 1));
    }
}
