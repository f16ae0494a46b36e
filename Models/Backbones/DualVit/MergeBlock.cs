using Engine.Models.Nn;

namespace Engine.Models.Backbones.DualVit;

/// <summary>Plain multi-head self-attention with q, kv and proj (reference <c>MergeAttention</c>).</summary>
public sealed class MergeAttention : Module
{
    private readonly int _heads;
    private readonly Linear _q, _kv, _proj;

    /// <summary>Creates the attention.</summary>
    public MergeAttention(int dim, int heads, DType? dtype = null)
    {
        _heads = heads;
        _q = RegisterModule("q", new Linear(dim, dim, dtype: dtype));
        _kv = RegisterModule("kv", new Linear(dim, 2 * dim, dtype: dtype));
        _proj = RegisterModule("proj", new Linear(dim, dim, dtype: dtype));
    }

    /// <summary>Self-attention over the whole sequence (B, L, C).</summary>
    public Tensor Forward(Tensor t)
    {
        int c = t.Shape[^1];
        var kv = _kv.Call(t);
        return _proj.Call(Tokens.Attend(_q.Call(t), Tokens.Part(kv, 0, c), Tokens.Part(kv, 1, c), _heads));
    }
}

/// <summary>
/// The Merge block of stages 3 and 4 (reference <c>MergeBlock</c>): pixel and semantic tokens in one
/// sequence [pixel (H·W) ; semantic (M)] share the attention, norms and layer scales; the FFN is split
/// (depthwise-conv FFN for pixels, GELU MLP of ratio 2 for semantic tokens).
/// </summary>
public sealed class MergeBlock : Module
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly MergeAttention _attn;
    private readonly PixelFfn _mlp;
    // Looked up on each use: ToDType replaces the tensors registered under these names.
    private Tensor Gamma1 => GetParameter("gamma1")!;
    private Tensor Gamma2 => GetParameter("gamma2")!;
    private readonly double _dropPath;

    /// <summary>Creates the block; the pixel FFN hidden width is int(dim · mlpRatio).</summary>
    public MergeBlock(int dim, int heads, double mlpRatio, double lnEps = 1e-6, double dropPath = 0, DType? dtype = null)
    {
        _dropPath = dropPath;
        RegisterParameter("gamma1", Tensor.Full([dim], 1e-6, dtype));
        RegisterParameter("gamma2", Tensor.Full([dim], 1e-6, dtype));
        _norm1 = RegisterModule("norm1", new LayerNorm(dim, lnEps, dtype: dtype));
        _attn = RegisterModule("attn", new MergeAttention(dim, heads, dtype));
        _norm2 = RegisterModule("norm2", new LayerNorm(dim, lnEps, dtype: dtype));
        _mlp = RegisterModule("mlp", new PixelFfn(dim, (int)(dim * mlpRatio), semantic: true, dtype));
    }

    /// <summary>The sequence (B, H·W + M, C) in and out.</summary>
    public Tensor Forward(Tensor s, int h, int w)
    {
        int n = h * w, m = s.Shape[1] - n;
        s = Residual.Add(s, Gamma1, _attn.Forward(_norm1.Call(s)), _dropPath, Training);
        var t = _norm2.Call(s);
        var f = Tensor.Cat([_mlp.Pixels(t.Narrow(1, 0, n), h, w), _mlp.Semantic(t.Narrow(1, n, m))], 1);
        return Residual.Add(s, Gamma2, f, _dropPath, Training);
    }
}
