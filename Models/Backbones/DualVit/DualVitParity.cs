using Engine.Models.Parity;

namespace Engine.Models.Backbones.DualVit;

/// <summary>
/// Builders for the Dual-ViT goldens: the whole model ("dualvit", config of the reference constructor) and the
/// two blocks alone ("dualvit.DualBlock", "dualvit.MergeBlock"), which take the packed sequence
/// (B, H·W + M, C) with H and W in the config and return it packed the same way.
/// </summary>
public static class DualVitParity
{
    /// <summary>The whole model; <c>semantic_pool</c> and <c>token_label</c> come from the config.</summary>
    public static ParityModel Model(GoldenCase golden)
    {
        var model = new DualVit(DualVitConfig.FromJson(golden.Config), dtype: DType.F64);
        return new ParityModel(model, model.Call);
    }

    /// <summary>One <see cref="DualBlock"/>: input [pixel tokens ; semantic tokens].</summary>
    public static ParityModel DualBlock(GoldenCase golden)
    {
        var (dim, heads, ratio, eps, h, w) = BlockConfig(golden);
        var block = new DualBlock(dim, heads, ratio, eps, dtype: DType.F64);
        return new ParityModel(block, s =>
        {
            int n = h * w, m = s.Shape[1] - n;
            var (x, z) = block.Forward(s.Narrow(1, 0, n), s.Narrow(1, n, m), h, w);
            return Tensor.Cat([x, z], 1);
        });
    }

    /// <summary>One <see cref="MergeBlock"/> on the packed sequence.</summary>
    public static ParityModel MergeBlock(GoldenCase golden)
    {
        var (dim, heads, ratio, eps, h, w) = BlockConfig(golden);
        var block = new MergeBlock(dim, heads, ratio, eps, dtype: DType.F64);
        return new ParityModel(block, s => block.Forward(s, h, w));
    }

    private static (int Dim, int Heads, double Ratio, double Eps, int H, int W) BlockConfig(GoldenCase golden)
    {
        var c = golden.Config;
        return (c.GetProperty("dim").GetInt32(), c.GetProperty("num_heads").GetInt32(), c.GetProperty("mlp_ratio").GetDouble(),
            c.TryGetProperty("ln_eps", out var e) ? e.GetDouble() : 1e-6, c.GetProperty("H").GetInt32(), c.GetProperty("W").GetInt32());
    }
}
