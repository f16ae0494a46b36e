using System.Text.Json;
using Engine.Models.Parity;

namespace Engine.Models.Backbones.Sequencer;

/// <summary>Builders for the Sequencer goldens: the whole network, the BiLSTM2D layer, and the vanilla Sequencer's 1-D LSTM mixer.</summary>
public static class SequencerParity
{
    /// <summary>True for the reference's network names (sequencer2d_s, sequencer2d_nano, ...).</summary>
    public static bool IsNetwork(string model) => model.StartsWith("sequencer2d", StringComparison.OrdinalIgnoreCase);

    /// <summary>True for the reference's <c>LSTM2D</c> layer alone.</summary>
    public static bool IsLayer(string model) => model.StartsWith("LSTM2D", StringComparison.Ordinal);

    /// <summary>True for the vanilla Sequencer's <c>LSTM</c> token mixer alone.</summary>
    public static bool IsTokenMixer(string model) => model == "LSTM" || model.StartsWith("LSTM (", StringComparison.Ordinal);

    /// <summary>The network of the golden's config, in float64.</summary>
    public static ParityModel Network(GoldenCase golden)
    {
        var model = new Sequencer2d(SequencerConfig.FromJson(golden.Config), DType.F64);
        return new ParityModel(model, model.Call);
    }

    /// <summary>The BiLSTM2D layer of the golden's config (input_size, hidden_size, num_layers, bias, bidirectional, union, with_fc).</summary>
    public static ParityModel Layer(GoldenCase golden)
    {
        var c = golden.Config;
        var layer = new BiLstm2d(c.GetProperty("input_size").GetInt32(), c.GetProperty("hidden_size").GetInt32(),
            Int(c, "num_layers", 1), Bool(c, "bias", true), Bool(c, "bidirectional", true),
            c.TryGetProperty("union", out var u) ? u.GetString()! : "cat", Bool(c, "with_fc", true), DType.F64);
        return new ParityModel(layer, layer.Call);
    }

    /// <summary>The 1-D LSTM token mixer of the golden's config.</summary>
    public static ParityModel TokenMixer(GoldenCase golden)
    {
        var c = golden.Config;
        var mixer = new LstmTokenMixer(c.GetProperty("input_size").GetInt32(), c.GetProperty("hidden_size").GetInt32(),
            Int(c, "num_layers", 1), Bool(c, "bias", true), Bool(c, "bidirectional", true), DType.F64);
        return new ParityModel(mixer, mixer.Call);
    }

    private static int Int(JsonElement c, string key, int fallback) => c.TryGetProperty(key, out var v) ? v.GetInt32() : fallback;

    private static bool Bool(JsonElement c, string key, bool fallback) => c.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;
}
