using Engine.Autograd;
using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.VHeat;

/// <summary>
/// vHeat (Wang et al., "vHeat: Building Vision Models upon Heat Conduction"): a stem reducing by 4, four
/// stages of heat blocks with a downsample between stages, and a head (LN2d → mean over H×W → Linear).
/// Each stage has one frequency embedding <c>freq_embed.s</c> of shape (H_s, W_s, C_s), shared by its
/// blocks. State-dict names are the reference's (<c>patch_embed.*</c>, <c>freq_embed.s</c>,
/// <c>layers.s.j.*</c>, <c>layers.s.D.*</c>, <c>classifier.0.*</c>, <c>classifier.3.*</c>).
/// Input and output of every part are NCHW.
/// </summary>
public sealed class VHeat : Module<Tensor, Tensor>
{
    private readonly VHeatStem _stem;
    private readonly ParameterList? _freqEmbed;
    private readonly ModuleList<HeatStage> _layers;
    private readonly VHeatHead _classifier;

    /// <summary>Builds the network for <paramref name="config"/>, initialised as the reference does.</summary>
    public VHeat(VHeatConfig config, DType? dtype = null, Generator? generator = null)
    {
        config.Validate();
        Config = config;
        var dims = config.Dims;
        int stages = dims.Length, total = config.Depths.Sum();
        _stem = RegisterModule("patch_embed", new VHeatStem(config.InChans, dims[0], dtype, generator));
        if (!config.InferMode)
        {
            _freqEmbed = RegisterModule("freq_embed", new ParameterList());
            for (int s = 0; s < stages; s++)
            {
                var (h, w) = config.StageSize(s);
                _freqEmbed.Add(VHeatInit.FreqEmbed(h, w, dims[s], dtype, generator));
            }
        }
        _layers = RegisterModule("layers", new ModuleList<HeatStage>());
        int block = 0;
        for (int s = 0; s < stages; s++)
        {
            // torch.linspace(0, rate, total): rate·i/(total-1), block by block over the whole network.
            var rates = Enumerable.Range(block, config.Depths[s]).Select(i => total > 1 ? config.DropPathRate * i / (total - 1) : 0.0).ToArray();
            block += config.Depths[s];
            var (h, w) = config.StageSize(s);
            _layers.Add(new HeatStage(dims[s], s + 1 < stages ? dims[s + 1] : null, rates, config, h, w, dtype, generator));
        }
        _classifier = RegisterModule("classifier", new VHeatHead(dims[^1], config.NumClasses, dtype, generator));
    }

    /// <summary>The configuration the network was built from.</summary>
    public VHeatConfig Config { get; }

    /// <summary>The stages.</summary>
    public IReadOnlyList<HeatStage> Stages => _layers;

    /// <summary>Logits (B, classes) for images (B, in_chans, H, W).</summary>
    public override Tensor Forward(Tensor input) => _classifier.Call(ForwardChannelsLast(input));

    /// <summary>The last stage's map (B, C3, H3, W3), before the head.</summary>
    public Tensor ForwardFeatures(Tensor input) => ForwardChannelsLast(input).Permute(0, 3, 1, 2);

    /// <summary>
    /// The last stage's map channels-last, (B, H3, W3, C3). The stem runs on NCHW; from there on the
    /// residual stream is channels-last, so every norm is over the last axis and every linear map one GEMM.
    /// </summary>
    public Tensor ForwardChannelsLast(Tensor input)
    {
        if (input.Rank != 4 || input.Layout.Shape[1] != Config.InChans)
            throw new ArgumentException($"vHeat: expected images of shape (B, {Config.InChans}, H, W), got {Layout.Format(input.Layout.Shape)}.");
        int h0 = input.Layout.Shape[2], w0 = input.Layout.Shape[3];
        if ((h0 != Config.ImageHeight || w0 != Config.ImageWidth) && (Config.InferMode || !Config.ResizeFreqEmbed))
            throw new ArgumentException($"vHeat: the model is configured for {Config.ImageHeight}x{Config.ImageWidth} inputs (its frequency embeddings follow that size) but got {h0}x{w0} (input of shape {Layout.Format(input.Layout.Shape)}); build it for that size, or set ResizeFreqEmbed to resize the embeddings bicubically.");
        var x = _stem.Call(input).Permute(0, 2, 3, 1);
        for (int s = 0; s < _layers.Count; s++)
            x = _layers[s].Forward(x, _freqEmbed is null ? null : FreqEmbedFor(s, x.Layout.Shape[1], x.Layout.Shape[2]));
        return x;
    }

    /// <summary>
    /// Stage <paramref name="stage"/>'s embedding for an H×W map: itself when the sizes agree, else resized
    /// bicubically (align_corners false), as the reference's detection and segmentation wrappers do.
    /// </summary>
    public Tensor FreqEmbedFor(int stage, int h, int w)
    {
        var fve = _freqEmbed![stage];
        if (fve.Layout.Shape[0] == h && fve.Layout.Shape[1] == w) return fve;
        var chw = fve.Permute(2, 0, 1).Unsqueeze(0);
        var resized = Functional.Interpolate(chw, [h, w], mode: "bicubic", alignCorners: false);
        return resized.Squeeze(0).Permute(1, 2, 0);
    }

    /// <summary>
    /// The reference's <c>infer_init</c> as a conversion: a new network in infer mode whose operators hold
    /// k_exp = exp(-ReLU(to_k(FVE_s))·Ω) (frozen parameters) computed from this one, with to_k and the
    /// embeddings gone and every other parameter copied. Exact, and fixed to the configured input size.
    /// </summary>
    public VHeat ToInference()
    {
        if (Config.InferMode) throw new InvalidOperationException("vHeat: the model is already in infer mode.");
        var dtype = Parameters().First().DType;
        var infer = new VHeat(Config with { InferMode = true }, dtype);
        using (Tape.NoGrad())
        using (Tensor.Scope())
        {
            var state = StateDict();
            for (int s = 0; s < _layers.Count; s++)
                for (int j = 0; j < _layers[s].Blocks.Count; j++)
                {
                    state[$"layers.{s}.{j}.op.k_exp"] = _layers[s].Blocks[j].Op.Decay(_freqEmbed![s]).Contiguous();
                }
            var own = infer.StateDict();
            infer.LoadStateDict(state.Where(kv => own.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value));
        }
        infer.Train(Training);
        return infer;
    }
}
