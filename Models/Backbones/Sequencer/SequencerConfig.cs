using System.Text.Json;

namespace Engine.Models.Backbones.Sequencer;

/// <summary>
/// The hyper-parameters of a Sequencer2D network (names as the reference's constructor arguments): four
/// stages of <see cref="Layers"/> blocks with <see cref="EmbedDims"/> channels and LSTM hidden size
/// <see cref="HiddenSizes"/> per direction; the stem and transitions are stride-p convs with
/// <see cref="PatchSizes"/>.
/// </summary>
public sealed record SequencerConfig(
    int NumClasses, int InChans, int[] Layers, int[] PatchSizes, int[] EmbedDims, int[] HiddenSizes, double[] MlpRatios,
    int NumRnnLayers = 1, bool Bidirectional = true, string Union = "cat", bool WithFc = true,
    double DropRate = 0.0, double DropPathRate = 0.0, bool Nlhb = false)
{
    /// <summary>The Nano config of the spec (32x32 inputs, 294,634 parameters at 10 classes).</summary>
    public static SequencerConfig Nano(int numClasses = 10, int inChans = 3) =>
        new(numClasses, inChans, [2, 2, 2, 1], [2, 2, 1, 1], [32, 64, 64, 64], [8, 16, 16, 16], [3, 3, 3, 3]);

    /// <summary>Sequencer2D-S (27,651,688 parameters at 1000 classes).</summary>
    public static SequencerConfig Small(int numClasses = 1000, int inChans = 3) => Official([4, 3, 8, 3], numClasses, inChans);

    /// <summary>Sequencer2D-M (38,307,688 parameters at 1000 classes).</summary>
    public static SequencerConfig Medium(int numClasses = 1000, int inChans = 3) => Official([4, 3, 14, 3], numClasses, inChans);

    /// <summary>Sequencer2D-L (54,298,216 parameters at 1000 classes).</summary>
    public static SequencerConfig Large(int numClasses = 1000, int inChans = 3) => Official([8, 8, 16, 4], numClasses, inChans);

    private static SequencerConfig Official(int[] layers, int numClasses, int inChans) =>
        new(numClasses, inChans, layers, [7, 2, 1, 1], [192, 384, 384, 384], [48, 96, 96, 96], [3, 3, 3, 3]);

    /// <summary>
    /// Reads the config a golden file stores in its metadata (the reference's argument names: num_classes,
    /// in_chans, layers, patch_sizes, embed_dims, hidden_sizes, mlp_ratios, num_rnn_layers, bidirectional,
    /// union, with_fc, drop_rate, drop_path_rate, nlhb); absent optional keys take the defaults.
    /// </summary>
    public static SequencerConfig FromJson(JsonElement config)
    {
        int[] Ints(string key) => config.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        T Or<T>(string key, Func<JsonElement, T> read, T fallback) => config.TryGetProperty(key, out var v) ? read(v) : fallback;
        return new SequencerConfig(
            Or("num_classes", e => e.GetInt32(), 1000), Or("in_chans", e => e.GetInt32(), 3),
            Ints("layers"), Ints("patch_sizes"), Ints("embed_dims"), Ints("hidden_sizes"),
            config.GetProperty("mlp_ratios").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
            Or("num_rnn_layers", e => e.GetInt32(), 1), Or("bidirectional", e => e.GetBoolean(), true),
            Or("union", e => e.GetString()!, "cat"), Or("with_fc", e => e.GetBoolean(), true),
            Or("drop_rate", e => e.GetDouble(), 0.0), Or("drop_path_rate", e => e.GetDouble(), 0.0),
            Or("nlhb", e => e.GetBoolean(), false));
    }

    /// <summary>Throws unless every per-stage list has four entries.</summary>
    public void Validate()
    {
        foreach (var (name, length) in new[] { ("layers", Layers.Length), ("patch_sizes", PatchSizes.Length), ("embed_dims", EmbedDims.Length),
                     ("hidden_sizes", HiddenSizes.Length), ("mlp_ratios", MlpRatios.Length) })
            if (length != 4) throw new ArgumentException($"Sequencer2d: {name} must have 4 entries (one per stage), got {length}.");
    }
}
