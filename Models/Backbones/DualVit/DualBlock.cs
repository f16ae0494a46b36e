using Engine.Models.Nn;

namespace Engine.Models.Backbones.DualVit;

/// <summary>
/// The attention of a Dual block (reference <c>DualAttention</c>): the semantic tokens update themselves
/// (self-attention, cross-attention to the pixel tokens, ReLU MLP; each with its layer scale
/// <c>gamma1..3</c> and no output projection), then the pixel tokens attend to the updated semantic tokens
/// (with <c>proj</c>). The four inner LayerNorms use eps 1e-5.
/// </summary>
public sealed class DualAttention : Module
{
    private readonly int _heads;
    private readonly Sequential _qkvProxy, _mlpProxy;
    private readonly LayerNorm _qProxyLn, _pLn, _proxyLn;
    private readonly Linear _qProxy, _kvProxy, _q, _kv, _proj;
    // Looked up on each use: ToDType replaces the tensors registered under these names.
    private Tensor Gamma1 => GetParameter("gamma1")!;
    private Tensor Gamma2 => GetParameter("gamma2")!;
    private Tensor Gamma3 => GetParameter("gamma3")!;

    /// <summary>Creates the attention for width <paramref name="dim"/> and <paramref name="heads"/> heads.</summary>
    public DualAttention(int dim, int heads, DType? dtype = null)
    {
        _heads = heads;
        _q = RegisterModule("q", new Linear(dim, dim, dtype: dtype));
        _kv = RegisterModule("kv", new Linear(dim, 2 * dim, dtype: dtype));
        _proj = RegisterModule("proj", new Linear(dim, dim, dtype: dtype));
        _qkvProxy = RegisterModule("qkv_proxy", new Sequential(new LayerNorm(dim, 1e-5, dtype: dtype), new Linear(dim, 3 * dim, dtype: dtype)));
        RegisterParameter("gamma1", Tensor.Full([dim], 1e-6, dtype));
        RegisterParameter("gamma2", Tensor.Full([dim], 1e-6, dtype));
        RegisterParameter("gamma3", Tensor.Full([dim], 1e-6, dtype));
        _qProxyLn = RegisterModule("q_proxy_ln", new LayerNorm(dim, 1e-5, dtype: dtype));
        _qProxy = RegisterModule("q_proxy", new Linear(dim, dim, dtype: dtype));
        _kvProxy = RegisterModule("kv_proxy", new Linear(dim, 2 * dim, dtype: dtype));
        _pLn = RegisterModule("p_ln", new LayerNorm(dim, 1e-5, dtype: dtype));
        _mlpProxy = RegisterModule("mlp_proxy", new Sequential(new Linear(dim, 4 * dim, dtype: dtype), new Activation("relu"), new Linear(4 * dim, dim, dtype: dtype)));
        _proxyLn = RegisterModule("proxy_ln", new LayerNorm(dim, 1e-5, dtype: dtype));
    }

    /// <summary>
    /// <paramref name="u"/>: normalized pixel tokens (B, N, C); <paramref name="z"/>: semantic tokens (B, M, C).
    /// Returns the pixel branch (after <c>proj</c>, before the block's layer scale) and the updated semantic tokens.
    /// </summary>
    public (Tensor Pixel, Tensor Semantic) Forward(Tensor u, Tensor z, double dropPath)
    {
        int c = u.Shape[^1];
        var qkv = _qkvProxy.Call(z);
        var self = Tokens.Attend(Tokens.Part(qkv, 0, c), Tokens.Part(qkv, 1, c), Tokens.Part(qkv, 2, c), _heads);
        z = Residual.Add(z, Gamma1, self, dropPath, Training);

        var qc = _qProxy.Call(_qProxyLn.Call(z));
        var kvp = _kvProxy.Call(u);
        var cross = Tokens.Attend(qc, Tokens.Part(kvp, 0, c), Tokens.Part(kvp, 1, c), _heads);
        z = Residual.Add(z, Gamma2, cross, dropPath, Training);

        z = Residual.Add(z, Gamma3, _mlpProxy.Call(_pLn.Call(z)), dropPath, Training);

        var qx = _q.Call(u);
        var kvz = _kv.Call(_proxyLn.Call(z));
        var pixel = _proj.Call(Tokens.Attend(qx, Tokens.Part(kvz, 0, c), Tokens.Part(kvz, 1, c), _heads));
        return (pixel, z);
    }
}

/// <summary>
/// The Dual block of stages 1 and 2 (reference <c>DualBlock</c>): <see cref="DualAttention"/> on
/// norm1(x) and z, then the pixel FFN with its depthwise conv; layer scales <c>gamma1</c>, <c>gamma2</c>.
/// </summary>
public sealed class DualBlock : Module
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly DualAttention _attn;
    private readonly PixelFfn _mlp;
    // Looked up on each use: ToDType replaces the tensors registered under these names.
    private Tensor Gamma1 => GetParameter("gamma1")!;
    private Tensor Gamma2 => GetParameter("gamma2")!;
    private readonly double _dropPath;

    /// <summary>Creates the block; the FFN hidden width is int(dim · mlpRatio).</summary>
    public DualBlock(int dim, int heads, double mlpRatio, double lnEps = 1e-6, double dropPath = 0, DType? dtype = null)
    {
        _dropPath = dropPath;
        RegisterParameter("gamma1", Tensor.Full([dim], 1e-6, dtype));
        RegisterParameter("gamma2", Tensor.Full([dim], 1e-6, dtype));
        _norm1 = RegisterModule("norm1", new LayerNorm(dim, lnEps, dtype: dtype));
        _attn = RegisterModule("attn", new DualAttention(dim, heads, dtype));
        _norm2 = RegisterModule("norm2", new LayerNorm(dim, lnEps, dtype: dtype));
        _mlp = RegisterModule("mlp", new PixelFfn(dim, (int)(dim * mlpRatio), semantic: false, dtype));
    }

    /// <summary>Pixel tokens <paramref name="x"/> (B, H·W, C) and semantic tokens <paramref name="z"/> (B, M, C) in, both updated out.</summary>
    public (Tensor X, Tensor Z) Forward(Tensor x, Tensor z, int h, int w)
    {
        var (pixel, semantic) = _attn.Forward(_norm1.Call(x), z, _dropPath);
        x = Residual.Add(x, Gamma1, pixel, _dropPath, Training);
        x = Residual.Add(x, Gamma2, _mlp.Pixels(_norm2.Call(x), h, w), _dropPath, Training);
        return (x, semantic);
    }
}
