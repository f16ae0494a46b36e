using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.DualVit;

public sealed partial class DualVit
{
    private const int QueryGrid = 8;
    private Tensor Queries => GetParameter("q")!;
    private Sequential _qEmbed = null!, _gate = null!;
    private Linear _kv = null!;
    private LayerNorm _proxyLn = null!;

    /// <summary>The model's own semantic-init state: <c>q</c>, <c>q_embed</c>, <c>kv</c>, <c>se</c>, <c>proxy_ln</c>.</summary>
    private void RegisterSemanticInit(int dim, DType? dtype)
    {
        RegisterParameter("q", Tensor.Empty([QueryGrid * QueryGrid, dim], dtype));
        _qEmbed = RegisterModule("q_embed", new Sequential(new LayerNorm(dim, 1e-5, dtype: dtype), new Linear(dim, dim, dtype: dtype)));
        _kv = RegisterModule("kv", new Linear(dim, 2 * dim, dtype: dtype));
        _gate = RegisterModule("se", new Sequential(new Linear(dim, dim, dtype: dtype), new Activation("relu"), new Linear(dim, 2 * dim, dtype: dtype)));
        _proxyLn = RegisterModule("proxy_ln", new LayerNorm(dim, 1e-5, dtype: dtype));
    }

    private void InitSemanticQueries(Generator? generator)
    {
        using var noGrad = Autograd.Tape.NoGrad();
        Init.TruncNormal(Queries, 0, 0.02, generator: generator);
        foreach (var (name, p) in NamedParameters())
            if (name.EndsWith("gamma1", StringComparison.Ordinal) || name.EndsWith("gamma2", StringComparison.Ordinal) || name.EndsWith("gamma3", StringComparison.Ordinal))
                Init.Constant(p, 1e-6);
    }

    /// <summary>
    /// The stage-1 semantic tokens (B, M, C) from the stem tokens (B, H·W, C): average pool p x p (floor, so
    /// trailing rows and columns that fill no window are dropped), single-head cross-attention from the learned
    /// queries (resized bicubically from 8x8 when M != 64) to the pooled tokens with scale C^-½, a per-channel
    /// softmax gate between the attention result and the pooled tokens, and LayerNorm.
    /// </summary>
    private Tensor SemanticTokens(Tensor x, int h, int w)
    {
        int p = _config.SemanticPool, c = x.Shape[2];
        if (h < p || w < p)
            throw new ArgumentException($"DualVit: the stage-1 grid {h}x{w} is smaller than the semantic pool {p}x{p}; use larger inputs or a smaller semantic_pool.");
        var pooled = Tokens.FromMap(Functional.AvgPool2d(Tokens.ToMap(x, h, w), p, p));
        int hp = h / p, wp = w / p, m = hp * wp;
        var kv = _kv.Call(pooled);
        var queries = _qEmbed.Call(m == QueryGrid * QueryGrid ? Queries : ResizedQueries(hp, wp));
        var attended = Functional.ScaledDotProductAttention(queries, Tokens.Part(kv, 0, c), Tokens.Part(kv, 1, c));

        var weights = Functional.Softmax(_gate.Call((attended + pooled).Mean(1)).Reshape(-1, 2, c), 1);
        var fused = attended * weights.Narrow(1, 0, 1) + pooled * weights.Narrow(1, 1, 1);
        return _proxyLn.Call(fused);
    }

    /// <summary>The learned queries read as a (C, 8, 8) image, resized bicubically (A = -0.75, half-pixel centres, no antialias) to (hp, wp), back as (hp·wp, C).</summary>
    private Tensor ResizedQueries(int hp, int wp)
    {
        int c = Queries.Shape[1];
        var image = Queries.Transpose(0, 1).Reshape(1, c, QueryGrid, QueryGrid);
        var resized = Functional.Interpolate(image, size: [hp, wp], mode: "bicubic", alignCorners: false);
        return resized.Reshape(c, hp * wp).Transpose(0, 1);
    }
}
