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
/// Channels-last inside, as the reference after its first permute; the depthwise conv runs channels-last
/// too (<see cref="Functional.DepthwiseConv2dChannelsLast"/>). The heat path is the fused
/// <see cref="Functional.HeatConduction"/>, which reads u in place as a channel slice of the linear map's output.
/// </remarks>
public sealed class Heat2D : Module
{
    private readonly Conv2d _dwconv;
    private readonly Linear _linear, _outLinear;
    private readonly Linear? _toK;
    private readonly LayerNorm _outNorm;
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
        _outNorm = RegisterModule("out_norm", new LayerNorm(hiddenDim, 1e-5, dtype: dtype));
        _outLinear = RegisterModule("out_linear", VHeatInit.Linear(hiddenDim, hiddenDim, dtype, generator));
    }

    /// <summary>True when the decay is the frozen k_exp rather than computed from an embedding.</summary>
    public bool InferMode => _toK is null;

    /// <summary>The frozen decay (H, W, C) in infer mode, else null.</summary>
    public Tensor? KExp => InferMode ? GetParameter("k_exp") : null;

    /// <summary>The decay F = exp(-ReLU(to_k(FVE))·Ω), (H, W, C), from an (H, W, C) embedding (or the frozen k_exp in infer mode).</summary>
    public Tensor Decay(Tensor? freqEmbed)
    {
        if (_toK is null) return KExp!;
        ArgumentNullException.ThrowIfNull(freqEmbed, "freqEmbed (the frequency embedding is required outside infer mode)");
        var k = Functional.Linear(freqEmbed, _toK.Weight, _toK.Bias).Relu();
        return Functional.HeatDecay(k.Permute(2, 0, 1)).Permute(1, 2, 0);
    }

    /// <summary>The reference's interface: x and the result are NCHW (B, C, H, W); <paramref name="freqEmbed"/> is (H, W, C), or null in infer mode.</summary>
    public Tensor Forward(Tensor x, Tensor? freqEmbed)
    {
        if (x.Rank != 4)
            throw new ArgumentException($"Heat2D: expected an input of shape (B, C, H, W), got {Layout.Format(x.Layout.Shape)}.");
        return ForwardChannelsLast(x.Permute(0, 2, 3, 1), freqEmbed).Permute(0, 3, 1, 2);
    }

    /// <summary>
    /// y = out_linear(LN(IDCT2(DCT2(u) ⊙ F)) ⊙ SiLU(z)) with [u | z] = linear(dwconv(x)), on channels-last
    /// x (B, H, W, C); the result is (B, H, W, C).
    /// </summary>
    public Tensor ForwardChannelsLast(Tensor x, Tensor? freqEmbed)
    {
        if (x.Rank != 4)
            throw new ArgumentException($"Heat2D: expected a channels-last input of shape (B, H, W, C), got {Layout.Format(x.Layout.Shape)}.");
        int h = x.Layout.Shape[1], w = x.Layout.Shape[2];
        var decay = Decay(freqEmbed);
        if (decay.Layout.Shape[0] != h || decay.Layout.Shape[1] != w)
            throw new ArgumentException($"Heat2D: the decay map is {decay.Layout.Shape[0]}x{decay.Layout.Shape[1]} but the feature map is {h}x{w} (channels-last input of shape {Layout.Format(x.Layout.Shape)}).");

        // With dim == hidden_dim (every vHeat config) the depthwise conv runs channels-last as well.
        var t = _dwconv.InChannels == _hidden
            ? Functional.DepthwiseConv2dChannelsLast(x, _dwconv.Weight, _dwconv.Bias)
            : _dwconv.Call(x.Permute(0, 3, 1, 2)).Permute(0, 2, 3, 1);
        t = Functional.Linear(t, _linear.Weight, _linear.Bias);
        var v = Functional.HeatConduction(t.Narrow(3, 0, _hidden), decay);
        v = _outNorm.Call(v) * Functional.Silu(t.Narrow(3, _hidden, _hidden));
        return Functional.Linear(v, _outLinear.Weight, _outLinear.Bias);
    }
}
