using Engine.Models.Nn;
using Engine.Randomness;

namespace Engine.Models.Backbones.VHeat;

/// <summary>The reference's <c>_init_weights</c>: Linear weights truncated-normal(0, 0.02) cut at ±2, biases 0; convs keep PyTorch's default.</summary>
internal static class VHeatInit
{
    public const double Std = 0.02;

    public static Linear Linear(int inFeatures, int outFeatures, DType? dtype, Generator? generator)
    {
        var l = new Linear(inFeatures, outFeatures, dtype: dtype, generator: generator);
        using (Autograd.Tape.NoGrad())
        {
            Init.TruncNormal(l.Weight, 0, Std, -2, 2, generator);
            Init.Zeros(l.Bias!);
        }
        return l;
    }

    /// <summary>A frequency embedding (H, W, C), truncated-normal(0, 0.02).</summary>
    public static Tensor FreqEmbed(int h, int w, int c, DType? dtype, Generator? generator)
    {
        var t = Tensor.Empty([h, w, c], dtype);
        using (Autograd.Tape.NoGrad()) Init.TruncNormal(t, 0, Std, -2, 2, generator);
        return t;
    }
}
