using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.DualVit;

/// <summary>Reshapes between the layouts of the spec: token sequences, NCHW maps and attention heads.</summary>
internal static class Tokens
{
    /// <summary>(B, C, H, W) to (B, H·W, C), token n = row · W + col.</summary>
    public static Tensor FromMap(Tensor map) => map.Flatten(2).Transpose(1, 2);

    /// <summary>(B, H·W, C) to (B, C, H, W).</summary>
    public static Tensor ToMap(Tensor tokens, int h, int w)
    {
        var s = tokens.Layout.Shape;
        return tokens.Transpose(1, 2).Reshape(s[0], s[2], h, w);
    }

    /// <summary>(B, L, C) to (B, heads, L, C / heads), channel c in head c / d: a view, no copy.</summary>
    public static Tensor Heads(Tensor t, int heads)
    {
        var s = t.Layout.Shape;
        return t.Reshape(s[0], s[1], heads, s[2] / heads).Permute(0, 2, 1, 3);
    }

    /// <summary>(B, heads, L, d) to (B, L, heads · d).</summary>
    public static Tensor Merge(Tensor t)
    {
        var s = t.Layout.Shape;
        return t.Permute(0, 2, 1, 3).Reshape(s[0], s[2], s[1] * s[3]);
    }

    /// <summary>Multi-head attention of the spec on (B, L, C) projections: heads, softmax(q kᵀ d^-½) v, merge.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int heads) =>
        Merge(Functional.ScaledDotProductAttention(Heads(q, heads), Heads(k, heads), Heads(v, heads)));

    /// <summary>Columns [start, start + length) of the last axis (the q / k / v parts of a fused projection).</summary>
    public static Tensor Part(Tensor t, int index, int width) => t.Narrow(-1, index * width, width);
}

/// <summary>The depthwise 3x3 conv of the pixel FFN; holds the conv as <c>dwconv</c>, as the reference's DWConv.</summary>
internal sealed class DwConv : Module
{
    private readonly Conv2d _conv;

    public DwConv(int channels, DType? dtype) =>
        _conv = RegisterModule("dwconv", new Conv2d(channels, channels, 3, 1, 1, groups: channels, dtype: dtype));

    public Tensor Forward(Tensor tokens, int h, int w) => Tokens.FromMap(_conv.Call(Tokens.ToMap(tokens, h, w)));
}

/// <summary>
/// PVTv2's FFN on pixel tokens, fc2(GELU(dwconv(fc1(x)))); with <c>semantic</c> also the plain
/// GELU MLP <c>fc_proxy</c> (ratio 2) that the Merge blocks apply to the semantic tokens.
/// </summary>
internal sealed class PixelFfn : Module
{
    private readonly Linear _fc1, _fc2;
    private readonly DwConv _dwconv;
    private readonly Sequential? _proxy;

    public PixelFfn(int dim, int hidden, bool semantic, DType? dtype)
    {
        _fc1 = RegisterModule("fc1", new Linear(dim, hidden, dtype: dtype));
        _dwconv = RegisterModule("dwconv", new DwConv(hidden, dtype));
        _fc2 = RegisterModule("fc2", new Linear(hidden, dim, dtype: dtype));
        if (semantic)
            _proxy = RegisterModule("fc_proxy", new Sequential(new Linear(dim, 2 * dim, dtype: dtype), new Activation("gelu"), new Linear(2 * dim, dim, dtype: dtype)));
    }

    /// <summary>The pixel path on (B, H·W, C).</summary>
    public Tensor Pixels(Tensor x, int h, int w) => _fc2.Call(Functional.Gelu(_dwconv.Forward(_fc1.Call(x), h, w)));

    /// <summary>The semantic path on (B, M, C) (Merge blocks only).</summary>
    public Tensor Semantic(Tensor z) => _proxy!.Call(z);
}

/// <summary>Overlapping patch embedding: conv 3x3 stride 2 pad 1, then tokens and LayerNorm(1e-5).</summary>
internal sealed class OverlapPatchEmbed : Module
{
    private readonly Conv2d _proj;
    private readonly LayerNorm _norm;

    public OverlapPatchEmbed(int inChannels, int dim, DType? dtype)
    {
        _proj = RegisterModule("proj", new Conv2d(inChannels, dim, 3, 2, 1, dtype: dtype));
        _norm = RegisterModule("norm", new LayerNorm(dim, 1e-5, dtype: dtype));
    }

    /// <summary>NCHW map in; tokens (B, H'·W', C) and the new grid out.</summary>
    public (Tensor Tokens, int H, int W) Forward(Tensor map)
    {
        var y = _proj.Call(map);
        return (_norm.Call(Tokens.FromMap(y)), y.Shape[2], y.Shape[3]);
    }
}

/// <summary>The stage-1 stem: conv7x7/2-BN-ReLU, two conv3x3-BN-ReLU (the <c>conv</c> sequence), then conv3x3/2 and LayerNorm.</summary>
internal sealed class Stem : Module
{
    private readonly Sequential _conv;
    private readonly OverlapPatchEmbed _embed;

    public Stem(int inChannels, int hidden, int dim, DType? dtype)
    {
        _conv = RegisterModule("conv", new Sequential(
            new Conv2d(inChannels, hidden, 7, 2, 3, bias: false, dtype: dtype), new BatchNorm2d(hidden, dtype: dtype), new Activation("relu"),
            new Conv2d(hidden, hidden, 3, 1, 1, bias: false, dtype: dtype), new BatchNorm2d(hidden, dtype: dtype), new Activation("relu"),
            new Conv2d(hidden, hidden, 3, 1, 1, bias: false, dtype: dtype), new BatchNorm2d(hidden, dtype: dtype), new Activation("relu")));
        // proj and norm sit directly on the stem in the reference (patch_embed1.proj, patch_embed1.norm).
        _embed = new OverlapPatchEmbed(hidden, dim, dtype);
        foreach (var (name, child) in _embed.NamedChildren()) RegisterModule(name, child);
    }

    public (Tensor Tokens, int H, int W) Forward(Tensor image) => _embed.Forward(_conv.Call(image));
}

/// <summary>Residual helpers: layer scale and stochastic depth.</summary>
internal static class Residual
{
    /// <summary>x + drop_path(gamma · branch).</summary>
    public static Tensor Add(Tensor x, Tensor gamma, Tensor branch, double dropPath, bool training) =>
        x + Functional.DropPath(branch * gamma, dropPath, training);
}

/// <summary>The reference's <c>_init_weights</c>, applied to a whole model.</summary>
public static class DualVitInit
{
    /// <summary>Linear: trunc normal 0.02, bias 0; conv: normal(0, sqrt(2 / fan_out)), bias 0; LayerNorm 1 / 0.</summary>
    public static void Apply(Module model, Generator? generator)
    {
        using var noGrad = Autograd.Tape.NoGrad();
        foreach (var (_, m) in model.NamedModules())
        {
            switch (m)
            {
                case Linear linear:
                    Init.TruncNormal(linear.Weight, 0, 0.02, generator: generator);
                    if (linear.Bias is { } lb) Init.Zeros(lb);
                    break;
                case Conv2d conv:
                    long fanOut = (long)conv.KernelSize.H * conv.KernelSize.W * conv.OutChannels / conv.Groups;
                    Init.Normal(conv.Weight, 0, Math.Sqrt(2.0 / fanOut), generator);
                    if (conv.Bias is { } cb) Init.Zeros(cb);
                    break;
            }
        }
    }
}
