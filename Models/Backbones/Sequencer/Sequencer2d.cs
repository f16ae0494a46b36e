using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.Sequencer;

/// <summary>
/// Sequencer2D (Tatsunami and Taki, NeurIPS 2022) as the official repository builds it: a stride-p conv stem
/// (<c>stem.proj</c>) to a channels-last token grid, four stages of <see cref="Sequencer2dBlock"/> with the
/// conv into the next stage stored at the end of each stage (<c>blocks.{i}.{L_i}.down</c>), a final
/// LayerNorm (<c>norm</c>), the mean over the grid and the linear <c>head</c>. State-dict keys are the
/// reference's. Inputs are NCHW of any size (grids are floored by the patch sizes).
/// </summary>
public sealed class Sequencer2d : Module<Tensor, Tensor>
{
    private readonly PatchStem _stem;
    private readonly Sequential _blocks;
    private readonly LayerNorm _norm;
    private readonly Linear _head;

    /// <summary>Builds the network and initialises it as the reference's <c>_init_weights</c> does.</summary>
    public Sequencer2d(SequencerConfig config, DType? dtype = null, Generator? generator = null)
    {
        config.Validate();
        Config = config;
        _stem = RegisterModule("stem", new PatchStem(config.InChans, config.EmbedDims[0], config.PatchSizes[0], dtype));
        int total = config.Layers.Sum(), index = 0;
        var stages = new Module<Tensor, Tensor>[4];
        for (int i = 0; i < 4; i++)
        {
            var stage = new Sequential();
            for (int j = 0; j < config.Layers[i]; j++, index++)
            {
                double rate = total > 1 ? config.DropPathRate * index / (total - 1) : 0.0;
                stage.Append(new Sequencer2dBlock(config.EmbedDims[i], config.HiddenSizes[i], config.MlpRatios[i], config, rate, dtype, generator));
            }
            if (i < 3) stage.Append(new Downsample2d(config.EmbedDims[i], config.EmbedDims[i + 1], config.PatchSizes[i + 1], dtype));
            stages[i] = stage;
        }
        _blocks = RegisterModule("blocks", new Sequential(stages));
        _norm = RegisterModule("norm", new LayerNorm(config.EmbedDims[3], 1e-6, dtype: dtype));
        _head = RegisterModule("head", new Linear(config.EmbedDims[3], config.NumClasses, dtype: dtype));
        InitWeights(generator);
    }

    /// <summary>The configuration the network was built from.</summary>
    public SequencerConfig Config { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        using var stem = _stem.Call(input);
        using var x = _blocks.Call(stem);
        using var normed = _norm.Call(x);
        using var pooled = normed.Mean([1, 2]);
        return _head.Call(pooled);
    }

    /// <summary>Section 6 of the spec: head zero, MLP Linears xavier with N(0, 1e-6) bias, other Linears xavier with zero bias, convs lecun-normal, LSTMs U(±1/√D).</summary>
    private void InitWeights(Generator? generator)
    {
        foreach (var (name, module) in NamedModules())
        {
            switch (module)
            {
                case Linear linear when name.StartsWith("head", StringComparison.Ordinal):
                    Init.Zeros(linear.Weight);
                    if (linear.Bias is { } hb) Init.Constant(hb, Config.Nlhb ? -Math.Log(Config.NumClasses) : 0.0);
                    break;
                case Linear linear:
                    Init.XavierUniform(linear.Weight, generator: generator);
                    if (linear.Bias is { } b)
                    {
                        if (name.Contains("mlp", StringComparison.Ordinal)) Init.Normal(b, 0, 1e-6, generator);
                        else Init.Zeros(b);
                    }
                    break;
                case Conv2d conv:
                    // timm 0.5.4's lecun_normal_: a truncated normal with the 0.8796 correction and absolute bounds ±2.
                    var (fanIn, _) = Init.Fans(conv.Weight);
                    Init.TruncNormal(conv.Weight, 0, Math.Sqrt(1.0 / fanIn) / 0.87962566103423978, -2, 2, generator);
                    if (conv.Bias is { } cb) Init.Zeros(cb);
                    break;
            }
        }
    }
}

/// <summary>The stem (<c>stem.proj</c>): a p×p stride-p conv, its output permuted to channels-last.</summary>
public sealed class PatchStem : Module<Tensor, Tensor>
{
    private readonly Conv2d _proj;

    /// <summary>Creates the stem.</summary>
    public PatchStem(int inChans, int dim, int patch, DType? dtype = null) =>
        _proj = RegisterModule("proj", new Conv2d(inChans, dim, patch, patch, dtype: dtype));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"Sequencer2d: expected an NCHW image batch, got shape {Layout.Format(input.Shape)}.");
        using var y = _proj.Call(input);
        return y.Permute(0, 2, 3, 1);
    }
}

/// <summary>
/// The transition into the next stage (<c>down</c>): a p×p stride-p conv between channels-last maps. With
/// p = 1 it is a per-token Linear on the channels-last map, so it runs as one (no permutes).
/// </summary>
public sealed class Downsample2d : Module<Tensor, Tensor>
{
    private readonly Conv2d _down;
    private readonly int _patch;

    /// <summary>Creates the transition.</summary>
    public Downsample2d(int inDim, int outDim, int patch, DType? dtype = null)
    {
        _patch = patch;
        _down = RegisterModule("down", new Conv2d(inDim, outDim, patch, patch, dtype: dtype));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (_patch == 1)
        {
            using var weight = _down.Weight.Reshape(_down.OutChannels, _down.InChannels);
            return Functional.Linear(input, weight, _down.Bias);
        }
        using var nchw = input.Permute(0, 3, 1, 2);
        using var y = _down.Call(nchw);
        return y.Permute(0, 2, 3, 1);
    }
}
