using System.Text.Json;

namespace Engine.Models.Backbones.DualVit;

/// <summary>
/// Hyper-parameters of a Dual-ViT, named as in the reference constructor. <see cref="SemanticPool"/> is the
/// side of the average pool that makes the semantic tokens from the stage-1 grid (the reference hard-codes 7;
/// the Nano uses 2). <see cref="MlpRatios"/> has five entries: four stages and the class block.
/// </summary>
public sealed record DualVitConfig
{
    /// <summary>Width of the stem's hidden convolutions.</summary>
    public int StemHiddenDim { get; init; } = 32;

    /// <summary>Widths of the four stages.</summary>
    public int[] EmbedDims { get; init; } = [64, 128, 320, 448];

    /// <summary>Attention heads per stage.</summary>
    public int[] NumHeads { get; init; } = [2, 4, 10, 14];

    /// <summary>FFN ratios of the four stages and of the class block.</summary>
    public double[] MlpRatios { get; init; } = [8, 8, 4, 3, 2];

    /// <summary>Blocks per stage.</summary>
    public int[] Depths { get; init; } = [3, 4, 6, 3];

    /// <summary>Number of classes of the head.</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Epsilon of the block and stage norms (the inner LayerNorms use 1e-5 always).</summary>
    public double LnEps { get; init; } = 1e-6;

    /// <summary>Kernel and stride of the pool that makes the semantic tokens.</summary>
    public int SemanticPool { get; init; } = 7;

    /// <summary>Adds the token-labeling head (<c>aux_head</c>); eval output is cls + 0.5 · max over pixel tokens of aux.</summary>
    public bool TokenLabel { get; init; }

    /// <summary>Stochastic depth rate, increasing linearly over all blocks.</summary>
    public double DropPathRate { get; init; }

    /// <summary>Dual-ViT-S (24,605,000 parameters without the aux head at 1000 classes).</summary>
    public static DualVitConfig Small(bool tokenLabel = false, int numClasses = 1000) => new()
    {
        StemHiddenDim = 32, EmbedDims = [64, 128, 320, 448], NumHeads = [2, 4, 10, 14], Depths = [3, 4, 6, 3],
        DropPathRate = 0.15, TokenLabel = tokenLabel, NumClasses = numClasses,
    };

    /// <summary>Dual-ViT-B.</summary>
    public static DualVitConfig Base(bool tokenLabel = false, int numClasses = 1000) => new()
    {
        StemHiddenDim = 64, EmbedDims = [64, 128, 320, 512], NumHeads = [2, 4, 10, 16], Depths = [3, 4, 15, 3],
        DropPathRate = 0.15, TokenLabel = tokenLabel, NumClasses = numClasses,
    };

    /// <summary>Dual-ViT-L.</summary>
    public static DualVitConfig Large(bool tokenLabel = false, int numClasses = 1000) => new()
    {
        StemHiddenDim = 64, EmbedDims = [96, 192, 384, 512], NumHeads = [3, 6, 12, 16], Depths = [3, 6, 21, 3],
        DropPathRate = 0.3, TokenLabel = tokenLabel, NumClasses = numClasses,
    };

    /// <summary>The Nano of the spec: 32x32 inputs, 16 semantic tokens, 389,762 parameters at 10 classes.</summary>
    public static DualVitConfig Nano(int numClasses = 10) => new()
    {
        StemHiddenDim = 16, EmbedDims = [32, 40, 48, 64], NumHeads = [2, 2, 3, 4], Depths = [2, 1, 2, 1],
        SemanticPool = 2, NumClasses = numClasses,
    };

    /// <summary>The config of a golden file's metadata (the reference's keys; missing keys keep the defaults).</summary>
    public static DualVitConfig FromJson(JsonElement json)
    {
        var c = new DualVitConfig();
        int[] Ints(string key, int[] fallback) => json.TryGetProperty(key, out var v) ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray() : fallback;
        return c with
        {
            StemHiddenDim = json.TryGetProperty("stem_hidden_dim", out var s) ? s.GetInt32() : c.StemHiddenDim,
            EmbedDims = Ints("embed_dims", c.EmbedDims),
            NumHeads = Ints("num_heads", c.NumHeads),
            Depths = Ints("depths", c.Depths),
            MlpRatios = json.TryGetProperty("mlp_ratios", out var r) ? r.EnumerateArray().Select(e => e.GetDouble()).ToArray() : c.MlpRatios,
            NumClasses = json.TryGetProperty("num_classes", out var n) ? n.GetInt32() : c.NumClasses,
            LnEps = json.TryGetProperty("ln_eps", out var e) ? e.GetDouble() : c.LnEps,
            SemanticPool = json.TryGetProperty("semantic_pool", out var p) ? p.GetInt32() : c.SemanticPool,
            TokenLabel = json.TryGetProperty("token_label", out var t) && t.GetBoolean(),
            DropPathRate = json.TryGetProperty("drop_path_rate", out var d) ? d.GetDouble() : 0,
        };
    }

    /// <summary>Throws when the lists have the wrong lengths or a width does not split into its heads.</summary>
    public void Validate()
    {
        if (EmbedDims.Length != 4 || NumHeads.Length != 4 || Depths.Length != 4 || MlpRatios.Length != 5)
            throw new ArgumentException($"DualVit: expected 4 embed_dims, num_heads and depths and 5 mlp_ratios, got {EmbedDims.Length}, {NumHeads.Length}, {Depths.Length} and {MlpRatios.Length}.");
        for (int i = 0; i < 4; i++)
            if (NumHeads[i] < 1 || EmbedDims[i] % NumHeads[i] != 0)
                throw new ArgumentException($"DualVit: stage {i + 1} width {EmbedDims[i]} is not divisible by its {NumHeads[i]} heads.");
        if (SemanticPool < 1) throw new ArgumentException($"DualVit: semantic_pool must be at least 1, got {SemanticPool}.");
    }
}
