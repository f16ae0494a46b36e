using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.VHeat;

/// <summary>
/// One vHeat block. Pre-norm (vHeat-T, Nano): x + DropPath(HCO(LN(x))), then x + DropPath(MLP(LN(x))).
/// Post-norm (vHeat-S/B): x + DropPath(γ1·LN(HCO(x))), then x + DropPath(γ2·LN(MLP(x))); the norm is on
/// the branch, never on the residual stream. γ is present only with a layer scale.
/// State: <c>norm1.*</c>, <c>op.*</c>, <c>norm2.*</c>, <c>mlp.fc1.*</c>, <c>mlp.fc2.*</c>, [<c>gamma1</c>, <c>gamma2</c>].
/// Works on channels-last maps (B, H, W, C): the norms are over the last axis, γ broadcasts over it.
/// </summary>
public sealed class HeatBlock : Module
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly ConvMlp _mlp;
    private readonly bool _postNorm, _scaled;
    private readonly double _dropPath;

    /// <summary>Creates the block for <paramref name="dim"/> channels.</summary>
    public HeatBlock(int dim, double dropPath, bool postNorm, double? layerScale, double mlpRatio,
        bool inferMode = false, int inferHeight = 0, int inferWidth = 0, DType? dtype = null, Generator? generator = null)
    {
        _postNorm = postNorm;
        _dropPath = dropPath;
        _norm1 = RegisterModule("norm1", new LayerNorm(dim, 1e-5, dtype: dtype));
        Op = RegisterModule("op", new Heat2D(dim, dim, inferMode, inferHeight, inferWidth, dtype, generator));
        _norm2 = RegisterModule("norm2", new LayerNorm(dim, 1e-5, dtype: dtype));
        _mlp = RegisterModule("mlp", new ConvMlp(dim, (int)(dim * mlpRatio), dtype, generator));
        if (layerScale is { } scale)
        {
            _scaled = true;
            RegisterParameter("gamma1", Tensor.Full([dim], scale, dtype));
            RegisterParameter("gamma2", Tensor.Full([dim], scale, dtype));
        }
    }

    /// <summary>The heat conduction operator.</summary>
    public Heat2D Op { get; }

    /// <summary>One block on channels-last <paramref name="x"/> (B, H, W, C); <paramref name="freqEmbed"/> is the stage's (H, W, C) embedding (null in infer mode).</summary>
    public Tensor Forward(Tensor x, Tensor? freqEmbed)
    {
        var g1 = _scaled ? GetParameter("gamma1") : null;
        var g2 = _scaled ? GetParameter("gamma2") : null;
        var a = _postNorm ? _norm1.Call(Op.ForwardChannelsLast(x, freqEmbed)) : Op.ForwardChannelsLast(_norm1.Call(x), freqEmbed);
        x = x + DropPath(Scale(a, g1));
        var m = _postNorm ? _norm2.Call(_mlp.Call(x)) : _mlp.Call(_norm2.Call(x));
        return x + DropPath(Scale(m, g2));
    }

    private static Tensor Scale(Tensor branch, Tensor? gamma) =>
        gamma is null ? branch : branch * gamma;

    // The masks come from the default generator, as timm's DropPath draws from PyTorch's global one: the
    // construction generator only initialises, and a checkpoint (which keeps the default generator) resumes the masks.
    private Tensor DropPath(Tensor branch) =>
        _dropPath > 0 ? Functional.DropPath(branch, _dropPath, Training) : branch;
}

/// <summary>
/// The block's MLP: fc1, exact GELU, fc2 (dropout is 0 in every config). The reference's 1×1 convolutions
/// (state <c>fc1.*</c>, <c>fc2.*</c> with (out, in, 1, 1) weights) run as linear maps over the channels of
/// channels-last maps: the same numbers, one GEMM each.
/// </summary>
public sealed class ConvMlp : Module<Tensor, Tensor>
{
    private readonly Conv2d _fc1, _fc2;

    /// <summary>Creates the MLP; both convs keep PyTorch's default initialisation, as in the reference.</summary>
    public ConvMlp(int dim, int hidden, DType? dtype = null, Generator? generator = null)
    {
        _fc1 = RegisterModule("fc1", new Conv2d(dim, hidden, 1, dtype: dtype, generator: generator));
        _fc2 = RegisterModule("fc2", new Conv2d(hidden, dim, 1, dtype: dtype, generator: generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        Pointwise(Functional.Gelu(Pointwise(input, _fc1)), _fc2);

    private static Tensor Pointwise(Tensor x, Conv2d conv) =>
        Functional.Linear(x, conv.Weight.View(conv.OutChannels, conv.InChannels), conv.Bias);
}
