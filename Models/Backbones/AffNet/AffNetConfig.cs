using System.Text.Json;

namespace Engine.Models.Backbones.AffNet;

/// <summary>One stage after the stem: a run of MV2 blocks, or an AFF stage (stride-2 MV2, then the AFF blocks).</summary>
/// <param name="Type">"mv2" or "aff".</param>
/// <param name="Out">Output width (for "aff" also the AFF blocks' width).</param>
/// <param name="Blocks">MV2 blocks, or AFF blocks in the stage.</param>
/// <param name="Stride">1 or 2; block 0 of an MV2 stage, or the downsampling MV2 of an AFF stage.</param>
/// <param name="Expand">MV2 expansion ratio (an AFF stage's downsampling MV2 uses it too).</param>
/// <param name="Ffn">Hidden width of the MV2 inside each AFF block ("aff" only).</param>
/// <param name="NoFuse">No fusion conv: the stage's output is conv_proj's ("aff" only).</param>
public sealed record AffStageConfig(string Type, int Out, int Blocks, int Stride, double Expand, int Ffn = 0, bool NoFuse = false);

/// <summary>
/// An AFFNet configuration: the stem width, the five stage tables and the options the reference reads
/// from its global settings (activation, norms, soft-shrink threshold, head dropout). The reference's
/// stem takes 3 channels; <c>InChannels</c> is there for other data (1-channel images).
/// </summary>
public sealed record AffNetConfig(
    IReadOnlyList<AffStageConfig> Stages,
    int NumClasses = 1000,
    int StemOut = 16,
    int LastLayerExpFactor = 4,
    string Activation = "swish",
    string AttnNorm = "layer_norm",
    double BnMomentum = 0.1,
    double SparsityThreshold = 0.01,
    double ClassifierDropout = 0.0,
    int InChannels = 3)
{
    /// <summary>Mask groups of every AFF token mixer (hard-coded in the reference).</summary>
    public const int MaskGroups = 8;

    /// <summary>Width of the expansion conv before the head: min(factor·C5, 960).</summary>
    public int HeadWidth => Math.Min(LastLayerExpFactor * Stages[^1].Out, 960);

    /// <summary>The Nano config of the spec (32×32 inputs, 247,034 parameters at 10 classes).</summary>
    public static AffNetConfig Nano(int classes = 10) => new(
    [
        new("mv2", 24, 1, 1, 2), new("mv2", 32, 2, 1, 2),
        new("aff", 48, 2, 2, 2, 96), new("aff", 64, 2, 2, 2, 128), new("aff", 80, 2, 2, 2, 160),
    ], classes);

    /// <summary>AFFNet-ET ("xx_small").</summary>
    public static AffNetConfig ExtraTiny(int classes = 1000) => Official(2, 48, (64, 2), (104, 4), (144, 3), classes);

    /// <summary>AFFNet-T ("x_small").</summary>
    public static AffNetConfig Tiny(int classes = 1000) => Official(4, 48, (96, 2), (160, 4), (192, 3), classes);

    /// <summary>AFFNet ("small").</summary>
    public static AffNetConfig Small(int classes = 1000) => Official(4, 64, (128, 2), (256, 4), (320, 3), classes);

    private static AffNetConfig Official(double expand, int l2, (int C, int N) l3, (int C, int N) l4, (int C, int N) l5, int classes) => new(
    [
        new("mv2", 32, 1, 1, expand), new("mv2", l2, 3, 2, expand),
        new("aff", l3.C, l3.N, 2, expand, 2 * l3.C), new("aff", l4.C, l4.N, 2, expand, 2 * l4.C), new("aff", l5.C, l5.N, 2, expand, 2 * l5.C),
    ], classes);

    /// <summary>
    /// Reads the config JSON of an AFFNet golden file: <c>opts</c> (the reference's option names),
    /// <c>stages</c>, <c>stem_out</c>, <c>last_layer_exp_factor</c>, <c>num_classes</c>.
    /// </summary>
    public static AffNetConfig FromJson(JsonElement config)
    {
        var opts = config.TryGetProperty("opts", out var o) ? o : default;
        string Opt(string key, string fallback) => opts.ValueKind == JsonValueKind.Object && opts.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;
        double OptNum(string key, double fallback) => opts.ValueKind == JsonValueKind.Object && opts.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;
        int Int(JsonElement e, string key, int fallback) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        bool Flag(JsonElement e, string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;

        if (!config.TryGetProperty("stages", out var stagesJson) || stagesJson.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException("affnet: the config has no 'stages' array.");
        // The golden configs use the short names; the reference's own table names are accepted too.
        JsonElement? Find(JsonElement e, params string[] keys) =>
            keys.Select(k => e.TryGetProperty(k, out var v) ? v : (JsonElement?)null).FirstOrDefault(v => v is not null);
        int IntOf(JsonElement e, int fallback, params string[] keys) => Find(e, keys) is { ValueKind: JsonValueKind.Number } v ? v.GetInt32() : fallback;
        var stages = stagesJson.EnumerateArray().Select(s =>
        {
            var type = Find(s, "type", "block_type")?.GetString() ?? "mv2";
            bool aff = type is "aff" or "aff_block";
            double expand = Find(s, aff ? ["mv_expand", "mv_expand_ratio", "expand", "expand_ratio"] : ["expand", "expand_ratio"]) is { ValueKind: JsonValueKind.Number } e ? e.GetDouble() : 4;
            int blocks = IntOf(s, 1, aff ? ["blocks", "transformer_blocks", "num_blocks"] : ["blocks", "num_blocks"]);
            bool noFuse = Flag(s, "no_fuse") || Flag(s, "no_fusion");
            int width = IntOf(s, 0, "out", "out_channels");
            return new AffStageConfig(aff ? "aff" : type, width, blocks, IntOf(s, 1, "stride"), expand,
                IntOf(s, aff ? 2 * width : 0, "ffn", "ffn_dim"), noFuse);
        }).ToList();
        int classes = Int(config, "num_classes", (int)OptNum("model.classification.n_classes", 1000));
        var norm = Opt("model.normalization.name", "batch_norm");
        if (norm is not ("batch_norm" or "batch_norm_2d"))
            throw new NotSupportedException($"affnet: normalization '{norm}' is not supported (batch_norm only).");
        return new AffNetConfig(stages, classes, Int(config, "stem_out", 16), Int(config, "last_layer_exp_factor", 4),
            Opt("model.activation.name", "swish"), Opt("model.classification.affnet.attn_norm_layer", "layer_norm"),
            OptNum("model.normalization.momentum", 0.1), OptNum("model.activation.sparsity_threshold", 0.01),
            OptNum("model.classification.classifier_dropout", 0.0));
    }

    /// <summary>The engine's name of the reference's activation option.</summary>
    public static string ActivationName(string option) => option switch
    {
        "swish" or "silu" => "silu",
        "relu" => "relu",
        "gelu" => "gelu",
        "hard_swish" or "hardswish" => "hardswish",
        _ => throw new NotSupportedException($"affnet: activation '{option}' is not supported (swish, relu, gelu, hard_swish)."),
    };
}
