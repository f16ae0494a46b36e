using Engine.Models.Nn;
using Engine.Randomness;

namespace Engine.Models.Backbones.AffNet;

/// <summary>
/// CVNets' ConvLayer: a bias-free convolution, BatchNorm and an optional activation, padding (k − 1)/2.
/// State: <c>block.conv.weight</c>, <c>block.norm.*</c>.
/// </summary>
public sealed class ConvLayer : Module<Tensor, Tensor>
{
    private readonly ConvBnAct _block;

    /// <summary>Creates the layer; <paramref name="activation"/> null means none.</summary>
    public ConvLayer(int inChannels, int outChannels, int kernelSize, int stride = 1, int groups = 1, string? activation = "silu",
        double bnMomentum = 0.1, Generator? generator = null)
    {
        _block = RegisterModule("block", new ConvBnAct(inChannels, outChannels, kernelSize, stride, groups, activation, bnMomentum, generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _block.Call(input);

    private sealed class ConvBnAct : Module<Tensor, Tensor>
    {
        private readonly Conv2d _conv;
        private readonly BatchNorm2d _norm;
        private readonly Activation? _act;

        public ConvBnAct(int cin, int cout, int k, int stride, int groups, string? activation, double bnMomentum, Generator? generator)
        {
            _conv = RegisterModule("conv", new Conv2d(cin, cout, k, stride, (k - 1) / 2, groups: groups, bias: false, generator: generator));
            _norm = RegisterModule("norm", new BatchNorm2d(cout, momentum: bnMomentum));
            _act = activation is null ? null : new Activation(activation);
        }

        public override Tensor Forward(Tensor input)
        {
            var y = _norm.Call(_conv.Call(input));
            return _act is null ? y : _act.Call(y);
        }
    }
}

/// <summary>
/// MobileNetV2's inverted residual (MV2): 1x1 expansion (absent when the ratio is 1), depthwise 3x3 with
/// the stride, 1x1 projection without activation, and a residual when the stride is 1 and the widths
/// match. State: <c>block.exp_1x1.*</c>, <c>block.conv_3x3.*</c>, <c>block.red_1x1.*</c>.
/// </summary>
public sealed class InvertedResidual : Module<Tensor, Tensor>
{
    private readonly Body _block;

    /// <summary>Creates the block.</summary>
    public InvertedResidual(int inChannels, int outChannels, int stride, double expandRatio, string activation = "silu", double bnMomentum = 0.1, Generator? generator = null)
    {
        if (stride is not (1 or 2)) throw new ArgumentException($"InvertedResidual: stride must be 1 or 2, got {stride}.");
        HiddenChannels = MakeDivisible((int)Math.Round(inChannels * expandRatio, MidpointRounding.ToEven), 8);
        if (expandRatio == 1) HiddenChannels = inChannels;
        UsesResidual = stride == 1 && inChannels == outChannels;
        _block = RegisterModule("block", new Body(inChannels, HiddenChannels, outChannels, stride, expandRatio != 1, activation, bnMomentum, generator));
    }

    /// <summary>Width of the expanded (depthwise) part.</summary>
    public int HiddenChannels { get; }

    /// <summary>True when the block adds its input to the output.</summary>
    public bool UsesResidual { get; }

    /// <summary>
    /// CVNets' make_divisible(v, 8): the nearest multiple of the divisor, at least the divisor, and one step
    /// more when rounding down lost more than 10 %.
    /// </summary>
    public static int MakeDivisible(double value, int divisor = 8)
    {
        int v = Math.Max(divisor, (int)(value + divisor / 2.0) / divisor * divisor);
        return v < 0.9 * value ? v + divisor : v;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => UsesResidual ? input + _block.Call(input) : _block.Call(input);

    private sealed class Body : Module<Tensor, Tensor>
    {
        private readonly ConvLayer? _expand;
        private readonly ConvLayer _depthwise, _reduce;

        public Body(int cin, int hid, int cout, int stride, bool expand, string activation, double bnMomentum, Generator? generator)
        {
            if (expand) _expand = RegisterModule("exp_1x1", new ConvLayer(cin, hid, 1, activation: activation, bnMomentum: bnMomentum, generator: generator));
            _depthwise = RegisterModule("conv_3x3", new ConvLayer(hid, hid, 3, stride, groups: hid, activation: activation, bnMomentum: bnMomentum, generator: generator));
            _reduce = RegisterModule("red_1x1", new ConvLayer(hid, cout, 1, activation: null, bnMomentum: bnMomentum, generator: generator));
        }

        public override Tensor Forward(Tensor input)
        {
            var x = _expand is null ? input : _expand.Call(input);
            return _reduce.Call(_depthwise.Call(x));
        }
    }
}
