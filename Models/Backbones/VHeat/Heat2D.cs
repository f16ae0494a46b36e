using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.VHeat;

/// <summary>
/// The Heat Conduction Operator (the reference's <c>Heat2D</c>): depthwise 3×3 conv, a linear map to
/// [u | z], u through DCT2 → ⊙ exp(-K·Ω) → IDCT2 → LayerNorm over channels, gated by SiLU(z), and an
/// output linear map. K = ReLU(to_k(FVE)) comes from the stage's frequency embedding (H, W, C).
/// State: <c>dwconv.*</c>, <c>linear.*</c>, <c>to_k.0.*</c> (or the frozen <c>k_exp</c> in infer mode),
/// <c>out_norm.*</c>, <c>out_linear.*</c>, as in the reference.
/// </summary>
/// <remarks>
/// The reference permutes to channels-last for the linear maps and the DCT. Here everything stays NCHW:
/// the linear maps are 1×1 convolutions with the (out, in) weight viewed as (out, in, 1, 1), the DCT runs
/// over the last two axes, out_norm is the channels-first layer norm, and the decay is laid out (C, H, W).
/// The arithmetic is the same; the permute copies are gone.
/// </remarks>
public sealed class Heat2D : Module
{
    private readonly Conv2d _dwconv;
    private readonly Linear _linear, _outLinear;
    private readonly Linear? _toK;
    private readonly LayerNorm2d _outNorm;
    private readonly int _hidden;

    /// <summary>Creates the operator; in infer mode it holds a frozen (H, W, C) k_exp of the given size instead of to_k.</summary>
    public Heat2D(int dim, int hiddenDim, bool inferMode = false, int inferHeight = 0, int inferWidth = 0, DType? dtype = null, Generator? generator = null)
    {
        if (dim < 1 || hiddenDim < 1 || dim % hiddenDim != 0)
            throw new ArgumentException($"Heat2D: dim ({dim}) must be a multiple of hidden_dim ({hiddenDim}) (the depthwise conv has hidden_dim groups).");
        _hidden = hiddenDim;
        _dwconv = RegisterModule("dwconv", new Conv2d(dim, hiddenDim, 3, padding: 1, groups: hiddenDim, dtype: dtype, generator: generator));
        _linear = RegisterModule("linear", VHeatInit.Linear(hiddenDim, 2 * hiddenDim, dtype, generator));
        if (inferMode)
        {
            var kExp = RegisterParameter("k_exp", Tensor.Ones([inferHeight, inferWidth, hiddenDim], dtype))!;
            kExp.RequiresGrad = false;
        }
        else
        {
            _toK = VHeatInit.Linear(hiddenDim, hiddenDim, dtype, generator);
            RegisterModule("to_k", new Sequential(_toK, new Activation("relu")));
        }
        _outNorm = RegisterModule("out_norm", new LayerNorm2d(hiddenDim, 1e-5, dtype: dtype));
        _outLinear = RegisterModule("out_linear", VHeatInit.Linear(hiddenDim, hiddenDim, dtype, generator));
    }

    /// <summary>True when the decay is the frozen k_exp rather than computed from an embedding.</summary>
    public bool InferMode => _toK is null;

    /// <summary>The frozen decay (H, W, C) in infer mode, else null.</summary>
    public Tensor? KExp => InferMode ? GetParameter("k_exp") : null;

    /// <summary>The decay F = exp(-ReLU(to_k(FVE))·Ω), laid out (C, H, W), from an (H, W, C) embedding.</summary>
    public Tensor Decay(Tensor freqEmbed)
    {
        if (_toK is null) return KExp!.Permute(2, 0, 1);
        var k = Functional.Linear(freqEmbed, _toK.Weight, _toK.Bias).Relu();
        return Functional.HeatDecay(k.Permute(2, 0, 1));
    }

    /// <summary>
    /// y = out_linear(LN(IDCT2(DCT2(u) ⊙ F)) ⊙ SiLU(z)) with [u | z] = linear(dwconv(x)); x is (B, C, H, W),
    /// <paramref name="freqEmbed"/> (H, W, C), or null in infer mode.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? freqEmbed)
    {
        if (x.Rank != 4)
            throw new ArgumentException($"Heat2D: expected an input of shape (B, C, H, W), got {Layout.Format(x.Layout.Shape)}.");
        int h = x.Layout.Shape[2], w = x.Layout.Shape[3];
        var decay = InferMode ? Decay(null!) : Decay(freqEmbed ?? throw new ArgumentException("Heat2D: the frequency embedding is required outside infer mode."));
        if (decay.Layout.Shape[1] != h || decay.Layout.Shape[2] != w)
            throw new ArgumentException($"Heat2D: the decay map is {decay.Layout.Shape[1]}x{decay.Layout.Shape[2]} but the feature map is {h}x{w} (input of shape {Layout.Format(x.Layout.Shape)}).");

        var t = _dwconv.Call(x);
        t = Pointwise(t, _linear);
        var u = t.Narrow(1, 0, _hidden);
        var z = t.Narrow(1, _hidden, _hidden);
        var v = Functional.Idct2(Functional.Dct2(u) * decay);
        v = _outNorm.Call(v);
        v = v * Functional.Silu(z);
        return Pointwise(v, _outLinear);
    }

    /// <summary>A Linear over the channels of NCHW: the same numbers as permute → linear → permute back.</summary>
    private static Tensor Pointwise(Tensor x, Linear linear) =>
        Functional.Conv2d(x, linear.Weight.View(linear.OutFeatures, linear.InFeatures, 1, 1), linear.Bias);
}
