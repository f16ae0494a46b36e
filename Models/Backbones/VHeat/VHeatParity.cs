using System.Text.Json;
using Engine.Models.Nn;
using Engine.Models.Parity;
using Engine.Randomness;

namespace Engine.Models.Backbones.VHeat;

/// <summary>
/// The models behind vHeat's golden files: the whole network ("vHeat", from the reference constructor's
/// kwargs and the file's img_hw) and one operator with its embedding ("vHeat.Heat2D": state <c>op.*</c>
/// and <c>freq_embed</c>).
/// </summary>
public static class VHeatParity
{
    /// <summary>The parity model of a "vHeat" golden: the network for its config and img_hw, in float64.</summary>
    public static ParityModel Build(GoldenCase golden)
    {
        var model = BuildModel(golden.Config, golden.Metadata.GetValueOrDefault("img_hw"), DType.F64);
        return new ParityModel(model, model.Call);
    }

    /// <summary>The parity model of a "vHeat.Heat2D" golden: the operator and its embedding, in float64.</summary>
    public static ParityModel BuildOperator(GoldenCase golden)
    {
        var op = BuildOperator(golden.Config, DType.F64);
        return new ParityModel(op, op.Call);
    }

    /// <summary>The network for a golden's config JSON and optional img_hw JSON ("[H, W]").</summary>
    public static VHeat BuildModel(JsonElement config, string? imageHwJson, DType dtype)
    {
        int[]? hw = string.IsNullOrEmpty(imageHwJson) ? null : JsonSerializer.Deserialize<int[]>(imageHwJson);
        return new VHeat(VHeatConfig.FromJson(config, hw), dtype, new Generator(0));
    }

    /// <summary>The operator alone, from {"dim", "hidden_dim", "H", "W"}.</summary>
    public static Heat2DWithEmbedding BuildOperator(JsonElement config, DType dtype)
    {
        int dim = config.GetProperty("dim").GetInt32();
        int hidden = config.TryGetProperty("hidden_dim", out var hd) && hd.ValueKind == JsonValueKind.Number ? hd.GetInt32() : dim;
        return new Heat2DWithEmbedding(dim, hidden, config.GetProperty("H").GetInt32(), config.GetProperty("W").GetInt32(), dtype, new Generator(0));
    }
}

/// <summary>A <see cref="Heat2D"/> under "op" with its own (H, W, C) frequency embedding under "freq_embed": the operator golden's module.</summary>
public sealed class Heat2DWithEmbedding : Module<Tensor, Tensor>
{
    /// <summary>Creates the operator and an embedding of the given size.</summary>
    public Heat2DWithEmbedding(int dim, int hiddenDim, int height, int width, DType? dtype = null, Generator? generator = null)
    {
        Op = RegisterModule("op", new Heat2D(dim, hiddenDim, dtype: dtype, generator: generator));
        RegisterParameter("freq_embed", VHeatInit.FreqEmbed(height, width, hiddenDim, dtype, generator));
    }

    /// <summary>The operator.</summary>
    public Heat2D Op { get; }

    /// <summary>The embedding, (H, W, C).</summary>
    public Tensor FreqEmbed => GetParameter("freq_embed")!;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Op.Forward(input, FreqEmbed);
}
