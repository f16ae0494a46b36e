using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.VHeat;

/// <summary>
/// The stem (<c>patch_embed</c>): conv3×3/s2 → LN(1e-6) → GELU → conv3×3/s2 → LN(1e-6), reducing H and W
/// by 4 (ceil-halving twice). State: <c>conv1.*</c>, <c>norm1.1.*</c>, <c>conv2.*</c>, <c>norm2.1.*</c>.
/// </summary>
public sealed class VHeatStem : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv1, _conv2;
    private readonly ChannelsLastNorm _norm1, _norm2;

    /// <summary>Creates the stem from <paramref name="inChans"/> to <paramref name="dim"/> channels (hidden width dim/2).</summary>
    public VHeatStem(int inChans, int dim, DType? dtype = null, Generator? generator = null)
    {
        _conv1 = RegisterModule("conv1", new Conv2d(inChans, dim / 2, 3, stride: 2, padding: 1, dtype: dtype, generator: generator));
        _norm1 = RegisterModule("norm1", new ChannelsLastNorm(dim / 2, 1e-6, dtype));
        _conv2 = RegisterModule("conv2", new Conv2d(dim / 2, dim, 3, stride: 2, padding: 1, dtype: dtype, generator: generator));
        _norm2 = RegisterModule("norm2", new ChannelsLastNorm(dim, 1e-6, dtype));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        _norm2.Call(_conv2.Call(Functional.Gelu(_norm1.Call(_conv1.Call(input)))));
}

/// <summary>
/// The reference's permute → LayerNorm → permute Sequential, whose norm sits at index 1 (hence the
/// <c>.1.</c> in its state-dict names). Computed as the channels-first layer norm: the same numbers.
/// </summary>
public sealed class ChannelsLastNorm : Module<Tensor, Tensor>
{
    private readonly LayerNorm2d _norm;

    /// <summary>Creates the norm over <paramref name="channels"/>.</summary>
    public ChannelsLastNorm(int channels, double eps, DType? dtype = null) =>
        _norm = RegisterModule("1", new LayerNorm2d(channels, eps, dtype: dtype));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _norm.Call(input);
}

/// <summary>
/// One stage (<c>layers.s</c>): its heat blocks under "0".."d-1", all reading the stage's frequency
/// embedding, then (except after the last stage) the downsample under "d": conv3×3/s2 without bias → LN2d(1e-5).
/// Input and output are channels-last (B, H, W, C).
/// </summary>
public sealed class HeatStage : Module
{
    private readonly List<HeatBlock> _blocks = [];
    private readonly Downsample? _downsample;

    /// <summary>Creates the stage; <paramref name="dropPaths"/> holds one rate per block.</summary>
    public HeatStage(int dim, int? nextDim, double[] dropPaths, VHeatConfig config, int height, int width, DType? dtype, Generator? generator)
    {
        for (int j = 0; j < dropPaths.Length; j++)
            _blocks.Add(RegisterModule(j.ToString(System.Globalization.CultureInfo.InvariantCulture),
                new HeatBlock(dim, dropPaths[j], config.PostNorm, config.LayerScale, config.MlpRatio, config.InferMode, height, width, dtype, generator)));
        if (nextDim is { } next)
            _downsample = RegisterModule(dropPaths.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), new Downsample(dim, next, dtype, generator));
    }

    /// <summary>The heat blocks.</summary>
    public IReadOnlyList<HeatBlock> Blocks => _blocks;

    /// <summary>The blocks, then the downsample.</summary>
    public Tensor Forward(Tensor x, Tensor? freqEmbed)
    {
        foreach (var b in _blocks) x = b.Forward(x, freqEmbed);
        return _downsample is null ? x : _downsample.Call(x);
    }
}

/// <summary>
/// Between stages: conv3×3/s2 without bias (state <c>0.weight</c>), then LayerNorm over the channels
/// (<c>1.*</c>, eps 1e-5). Channels-last in and out; the conv reads a permuted view.
/// </summary>
public sealed class Downsample : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv;
    private readonly LayerNorm _norm;

    /// <summary>Creates the downsample from <paramref name="dim"/> to <paramref name="next"/> channels.</summary>
    public Downsample(int dim, int next, DType? dtype = null, Generator? generator = null)
    {
        _conv = RegisterModule("0", new Conv2d(dim, next, 3, stride: 2, padding: 1, bias: false, dtype: dtype, generator: generator));
        _norm = RegisterModule("1", new LayerNorm(next, 1e-5, dtype: dtype));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _norm.Call(_conv.Call(input.Permute(0, 3, 1, 2)).Permute(0, 2, 3, 1));
}

/// <summary>
/// The head (<c>classifier</c>): LayerNorm over the channels of every pixel (<c>0.*</c>, eps 1e-5), the
/// mean over H×W, then the Linear layer (<c>3.*</c>); indices 1 and 2 are the reference's pooling and
/// flatten, which hold nothing. Takes channels-last maps.
/// </summary>
public sealed class VHeatHead : Module<Tensor, Tensor>
{
    private readonly LayerNorm _norm;
    private readonly Linear _fc;

    /// <summary>Creates the head.</summary>
    public VHeatHead(int dim, int classes, DType? dtype = null, Generator? generator = null)
    {
        _norm = RegisterModule("0", new LayerNorm(dim, 1e-5, dtype: dtype));
        _fc = RegisterModule("3", VHeatInit.Linear(dim, classes, dtype, generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _fc.Call(_norm.Call(input).Mean([1, 2]));
}
