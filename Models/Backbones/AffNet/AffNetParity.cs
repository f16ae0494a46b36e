using System.Text.Json;
using Engine.Models.Parity;

namespace Engine.Models.Backbones.AffNet;

/// <summary>Builds the models of AFFNet golden files from their metadata: the network, one AFF block, or the token mixer alone.</summary>
public static class AffNetParity
{
    /// <summary>"affnet": the whole network from the config's stage table and options.</summary>
    public static ParityModel Network(GoldenCase golden)
    {
        var model = new AffNet(AffNetConfig.FromJson(golden.Config));
        return new ParityModel(model, model.Call);
    }

    /// <summary>"affnet.AFF_block": one block, width <c>dim</c>, MV2 hidden width <c>ffn_dim</c>.</summary>
    public static ParityModel Block(GoldenCase golden)
    {
        var config = Options(golden.Config);
        var block = new AffBlock(golden.ConfigInt("dim", 0), golden.ConfigInt("ffn_dim", 0), config, groups: golden.ConfigInt("num_blocks", AffNetConfig.MaskGroups));
        return new ParityModel(block, block.Call);
    }

    /// <summary>"affnet.AFF_token_mixer": the mixer of width <c>hidden_size</c> in <c>num_blocks</c> groups.</summary>
    public static ParityModel TokenMixer(GoldenCase golden)
    {
        var config = Options(golden.Config);
        var mixer = new AffTokenMixer(golden.ConfigInt("hidden_size", 0), golden.ConfigInt("num_blocks", AffNetConfig.MaskGroups),
            config.SparsityThreshold, AffNetConfig.ActivationName(config.Activation));
        return new ParityModel(mixer, mixer.Call);
    }

    /// <summary>The options of a block or mixer golden (their configs describe them in words: "swish (SiLU), ...", "layer_norm (...)").</summary>
    private static AffNetConfig Options(JsonElement c)
    {
        string FirstWord(string key, string fallback) =>
            c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!.Split(' ', 2)[0] : fallback;
        double threshold = c.TryGetProperty("sparsity_threshold", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetDouble() : 0.01;
        if (c.TryGetProperty("hidden_size_factor", out var f) && f.ValueKind == JsonValueKind.Number && f.GetDouble() != 1)
            throw new NotSupportedException($"affnet: the token mixer's hidden_size_factor is 1 in the reference's AFF blocks; the golden asks for {f.GetDouble()}.");
        return new AffNetConfig([], Activation: FirstWord("activation", "swish"), AttnNorm: FirstWord("norm", "layer_norm"), SparsityThreshold: threshold);
    }
}
