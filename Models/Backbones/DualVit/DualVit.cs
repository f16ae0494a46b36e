using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.DualVit;

/// <summary>
/// Dual Vision Transformer (Yao et al., 2022), the reference's <c>DualViT</c> with the same state-dict keys:
/// a stem and three overlapping patch embeddings make the pixel tokens of four stages; semantic tokens are
/// made once from an average pool of the stage-1 tokens (see <c>SemanticInit</c>) and carried through all
/// stages; stages 1-2 run <see cref="DualBlock"/>s, stages 3-4 <see cref="MergeBlock"/>s on [pixel ; semantic];
/// the head is a <see cref="ClassBlock"/> whose class token starts as the mean of all tokens.
/// Input NCHW of any size with ceil(H/4) and ceil(W/4) at least the semantic pool; output logits
/// (B, classes), or cls + 0.5 · max over pixel tokens of aux in eval mode with the token-label head.
/// </summary>
public sealed partial class DualVit : Module<Tensor, Tensor>
{
    private readonly DualVitConfig _config;
    private readonly Stem _stem;
    private readonly OverlapPatchEmbed[] _patchEmbeds = new OverlapPatchEmbed[4];
    private readonly ProxyProjection?[] _proxyEmbeds = new ProxyProjection?[4];
    private readonly ModuleList<DualBlock>[] _dualStages = new ModuleList<DualBlock>[2];
    private readonly ModuleList<MergeBlock>[] _mergeStages = new ModuleList<MergeBlock>[2];
    private readonly LayerNorm[] _norms = new LayerNorm[4];
    private readonly LayerNorm[] _proxyNorms = new LayerNorm[3];
    private readonly ClassBlock _classBlock;
    private readonly Linear _head;
    private readonly Linear? _auxHead;

    /// <summary>Builds the model for 3-channel images (or <paramref name="inChannels"/>), initialised as the reference does.</summary>
    public DualVit(DualVitConfig config, int inChannels = 3, DType? dtype = null, Generator? generator = null)
    {
        config.Validate();
        _config = config;
        var dims = config.EmbedDims;
        double eps = config.LnEps;
        int total = config.Depths.Sum(), blockIndex = 0;
        double Rate() => total > 1 ? config.DropPathRate * blockIndex++ / (total - 1) : 0;

        _stem = RegisterModule("patch_embed1", new Stem(inChannels, config.StemHiddenDim, dims[0], dtype));
        for (int i = 0; i < 4; i++)
        {
            if (i > 0)
            {
                _patchEmbeds[i] = RegisterModule($"patch_embed{i + 1}", new OverlapPatchEmbed(dims[i - 1], dims[i], dtype));
                _proxyEmbeds[i] = RegisterModule($"proxy_embed{i + 1}", new ProxyProjection(dims[i - 1], dims[i], dtype));
            }
            if (i < 2)
            {
                var blocks = new ModuleList<DualBlock>();
                for (int j = 0; j < config.Depths[i]; j++)
                    blocks.Add(new DualBlock(dims[i], config.NumHeads[i], config.MlpRatios[i], eps, Rate(), dtype));
                _dualStages[i] = RegisterModule($"block{i + 1}", blocks);
            }
            else
            {
                var blocks = new ModuleList<MergeBlock>();
                for (int j = 0; j < config.Depths[i]; j++)
                {
                    // Stage 3 alternates its FFN ratio (r, r - 1, r, ...); stage 4 does not.
                    double ratio = i == 2 && j % 2 == 1 ? config.MlpRatios[i] - 1 : config.MlpRatios[i];
                    blocks.Add(new MergeBlock(dims[i], config.NumHeads[i], ratio, eps, Rate(), dtype));
                }
                _mergeStages[i - 2] = RegisterModule($"block{i + 1}", blocks);
            }
            _norms[i] = RegisterModule($"norm{i + 1}", new LayerNorm(dims[i], eps, dtype: dtype));
            if (i < 3) _proxyNorms[i] = RegisterModule($"norm_proxy{i + 1}", new LayerNorm(dims[i], eps, dtype: dtype));
        }
        _classBlock = RegisterModule("post_network", new ModuleList<ClassBlock>(
            new ClassBlock(dims[3], config.NumHeads[3], config.MlpRatios[4], eps, dtype)))[0];
        _head = RegisterModule("head", new Linear(dims[3], config.NumClasses, dtype: dtype));
        if (config.TokenLabel) _auxHead = RegisterModule("aux_head", new Linear(dims[3], config.NumClasses, dtype: dtype));
        RegisterSemanticInit(dims[0], dtype);

        DualVitInit.Apply(this, generator);
        InitSemanticQueries(generator);
    }

    /// <summary>The hyper-parameters.</summary>
    public DualVitConfig Config => _config;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"DualVit: expected an NCHW input (B, C, H, W), got shape {Layout.Format(input.Shape)}.");
        if (_auxHead is not null && Training)
            throw new NotSupportedException("DualVit: the token-labeling training path (MixToken, dense targets) is not implemented; build with TokenLabel = false to train, or call Eval().");
        var (x, h, w) = _stem.Forward(input);
        var z = SemanticTokens(x, h, w);
        Tensor s = x;
        for (int i = 0; i < 4; i++)
        {
            if (i > 0)
            {
                (x, h, w) = _patchEmbeds[i].Forward(Tokens.ToMap(x, h, w));
                z = _proxyEmbeds[i]!.Call(z);
            }
            if (i < 2)
                foreach (var block in _dualStages[i]) (x, z) = block.Forward(x, z, h, w);
            else
            {
                int n = h * w, m = z.Shape[1];
                s = Tensor.Cat([x, z], 1);
                foreach (var block in _mergeStages[i - 2]) s = block.Forward(s, h, w);
                if (i == 3) break;
                (x, z) = (s.Narrow(1, 0, n), s.Narrow(1, n, m));
            }
            x = _norms[i].Call(x);
            z = _proxyNorms[i].Call(z);
        }
        return Head(s, h * w);
    }

    /// <summary>Class token = mean of the stage-4 sequence, class block, norm4, head (and the aux head).</summary>
    private Tensor Head(Tensor s4, int pixelTokens)
    {
        var c0 = s4.Mean(1, keepDim: true);
        var c2 = _classBlock.Forward(Tensor.Cat([c0, s4], 1));
        if (_auxHead is null) return _head.Call(_norms[3].Call(c2.Squeeze(1)));
        var t = _norms[3].Call(Tensor.Cat([c2, s4], 1));
        var cls = _head.Call(t.Select(1, 0));
        var aux = _auxHead.Call(t.Narrow(1, 1, pixelTokens));
        return cls + aux.Max(1) * 0.5;
    }
}

/// <summary><c>proxy_embedK</c>: holds <c>proj_proxy</c> = [Linear(C_{K-1} → C_K), LayerNorm(C_K, 1e-5)] for the semantic tokens.</summary>
internal sealed class ProxyProjection : Module<Tensor, Tensor>
{
    private readonly Sequential _proj;

    public ProxyProjection(int inDim, int dim, DType? dtype) =>
        _proj = RegisterModule("proj_proxy", new Sequential(new Linear(inDim, dim, dtype: dtype), new LayerNorm(dim, 1e-5, dtype: dtype)));

    public override Tensor Forward(Tensor input) => _proj.Call(input);
}
