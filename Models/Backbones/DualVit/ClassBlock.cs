using Engine.Models.Nn;

namespace Engine.Models.Backbones.DualVit;

/// <summary>
/// CaiT-style class attention: only the class token (position 0) queries; keys and values come from every
/// token, the class token included. State: <c>q</c>, <c>kv</c>, <c>proj</c>.
/// </summary>
public sealed class ClassAttention : Module
{
    private readonly int _heads;
    private readonly Linear _q, _kv, _proj;

    /// <summary>Creates the attention.</summary>
    public ClassAttention(int dim, int heads, DType? dtype = null)
    {
        _heads = heads;
        _q = RegisterModule("q", new Linear(dim, dim, dtype: dtype));
        _kv = RegisterModule("kv", new Linear(dim, 2 * dim, dtype: dtype));
        _proj = RegisterModule("proj", new Linear(dim, dim, dtype: dtype));
    }

    /// <summary>Normalized tokens (B, 1 + T, C) in; the class token's update (B, 1, C) out.</summary>
    public Tensor Forward(Tensor u)
    {
        int c = u.Shape[^1];
        var kv = _kv.Call(u);
        var q = _q.Call(u.Narrow(1, 0, 1));
        return _proj.Call(Tokens.Attend(q, Tokens.Part(kv, 0, c), Tokens.Part(kv, 1, c), _heads));
    }
}

/// <summary>
/// The head's class block (reference <c>ClassBlock</c>): c1 = c0 + attn(norm1(t)), c2 = c1 + mlp(norm2(c1));
/// no layer scale, no drop path. Only the class token changes.
/// </summary>
public sealed class ClassBlock : Module
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly ClassAttention _attn;
    private readonly Mlp _mlp;

    /// <summary>Creates the block; the MLP hidden width is int(dim · mlpRatio).</summary>
    public ClassBlock(int dim, int heads, double mlpRatio, double lnEps = 1e-6, DType? dtype = null)
    {
        _norm1 = RegisterModule("norm1", new LayerNorm(dim, lnEps, dtype: dtype));
        _attn = RegisterModule("attn", new ClassAttention(dim, heads, dtype));
        _norm2 = RegisterModule("norm2", new LayerNorm(dim, lnEps, dtype: dtype));
        _mlp = RegisterModule("mlp", new Mlp(dim, (int)(dim * mlpRatio), dtype: dtype));
    }

    /// <summary>Tokens [class ; rest] (B, 1 + T, C) in; the updated class token (B, 1, C) out.</summary>
    public Tensor Forward(Tensor t)
    {
        var c1 = t.Narrow(1, 0, 1) + _attn.Forward(_norm1.Call(t));
        return c1 + _mlp.Call(_norm2.Call(c1));
    }
}
