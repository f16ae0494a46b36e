using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Nn;

/// <summary>y = x Wᵀ + b, with PyTorch's default initialisation. State: <c>weight</c> (out, in), <c>bias</c> (out).</summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, DType? dtype = null, Generator? generator = null)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var w = RegisterParameter("weight", Tensor.Empty([outFeatures, inFeatures], dtype))!;
        var b = RegisterParameter("bias", bias ? Tensor.Empty([outFeatures], dtype) : null);
        Init.DefaultLinearOrConv(w, b, generator);
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>The weight, (out, in).</summary>
    public Tensor Weight => GetParameter("weight")!;

    /// <summary>The bias, or null.</summary>
    public Tensor? Bias => GetParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Linear(input, Weight, Bias);

    /// <inheritdoc/>
    public override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={Bias is not null}";
}

/// <summary>2-D convolution over NCHW with PyTorch's default initialisation. State: <c>weight</c> (out, in/groups, kH, kW), <c>bias</c> (out).</summary>
public sealed class Conv2d : Module<Tensor, Tensor>
{
    private readonly Size2d _stride, _dilation;
    private readonly Padding2d _padding;

    /// <summary>Creates the layer.</summary>
    public Conv2d(int inChannels, int outChannels, Size2d kernelSize, Size2d? stride = null, Padding2d? padding = null,
        Size2d? dilation = null, int groups = 1, bool bias = true, DType? dtype = null, Generator? generator = null)
    {
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: in_channels ({inChannels}) and out_channels ({outChannels}) must be divisible by groups ({groups}).");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Groups = groups;
        _stride = stride ?? 1;
        _padding = padding ?? 0;
        _dilation = dilation ?? 1;
        var w = RegisterParameter("weight", Tensor.Empty([outChannels, inChannels / groups, kernelSize.H, kernelSize.W], dtype))!;
        var b = RegisterParameter("bias", bias ? Tensor.Empty([outChannels], dtype) : null);
        Init.DefaultLinearOrConv(w, b, generator);
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel height and width.</summary>
    public Size2d KernelSize { get; }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <summary>The weight.</summary>
    public Tensor Weight => GetParameter("weight")!;

    /// <summary>The bias, or null.</summary>
    public Tensor? Bias => GetParameter("bias");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Conv2d(input, Weight, Bias, _stride, _padding, _dilation, Groups);

    /// <inheritdoc/>
    public override string ExtraRepr() => $"{InChannels}, {OutChannels}, kernel_size=({KernelSize.H}, {KernelSize.W}), stride=({_stride.H}, {_stride.W}), groups={Groups}, bias={Bias is not null}";
}

/// <summary>LayerNorm over the trailing dimensions. State: <c>weight</c>, <c>bias</c> of the normalised shape.</summary>
public sealed class LayerNorm : Module<Tensor, Tensor>
{
    private readonly int[] _shape;
    private readonly double _eps;

    /// <summary>Creates the layer (weight ones, bias zeros, as PyTorch).</summary>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType? dtype = null)
    {
        _shape = (int[])normalizedShape.Clone();
        _eps = eps;
        RegisterParameter("weight", elementwiseAffine ? Tensor.Ones(_shape, dtype) : null);
        RegisterParameter("bias", elementwiseAffine ? Tensor.Zeros(_shape, dtype) : null);
    }

    /// <summary>Creates the layer over one trailing dimension.</summary>
    public LayerNorm(int features, double eps = 1e-5, bool elementwiseAffine = true, DType? dtype = null) : this([features], eps, elementwiseAffine, dtype) { }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.LayerNorm(input, _shape, GetParameter("weight"), GetParameter("bias"), _eps);
}

/// <summary>
/// LayerNorm over the channels of NCHW at each pixel. <c>epsOnStd</c> selects the variant that
/// adds eps to the standard deviation instead of the variance (AFFNet's channels-first LayerNorm).
/// </summary>
public sealed class LayerNorm2d : Module<Tensor, Tensor>
{
    private readonly double _eps;
    private readonly bool _epsOnStd;

    /// <summary>Creates the layer (weight ones, bias zeros).</summary>
    public LayerNorm2d(int channels, double eps = 1e-5, bool epsOnStd = false, DType? dtype = null)
    {
        _eps = eps;
        _epsOnStd = epsOnStd;
        RegisterParameter("weight", Tensor.Ones([channels], dtype));
        RegisterParameter("bias", Tensor.Zeros([channels], dtype));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _epsOnStd
        ? Functional.LayerNorm2dEpsOnStd(input, GetParameter("weight"), GetParameter("bias"), _eps)
        : Functional.LayerNorm2d(input, GetParameter("weight"), GetParameter("bias"), _eps);
}

/// <summary>
/// BatchNorm over (N, H, W) per channel. Training: batch statistics, running statistics updated with
/// <c>momentum</c> (null: the cumulative average, as PyTorch's <c>momentum=None</c>) and the unbiased variance;
/// evaluation: the running statistics. State: <c>weight</c>, <c>bias</c>, <c>running_mean</c>, <c>running_var</c>,
/// <c>num_batches_tracked</c>, as PyTorch. The counter is counted and read on its own device by the operator, so a
/// training step on a GPU never waits for a host read.
/// </summary>
public sealed class BatchNorm2d : Module<Tensor, Tensor>
{
    private readonly double _eps;
    private readonly double? _momentum;

    /// <summary>Creates the layer.</summary>
    public BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType? dtype = null)
    {
        _eps = eps;
        _momentum = momentum;
        RegisterParameter("weight", affine ? Tensor.Ones([numFeatures], dtype) : null);
        RegisterParameter("bias", affine ? Tensor.Zeros([numFeatures], dtype) : null);
        RegisterBuffer("running_mean", trackRunningStats ? Tensor.Zeros([numFeatures], dtype) : null);
        RegisterBuffer("running_var", trackRunningStats ? Tensor.Ones([numFeatures], dtype) : null);
        RegisterBuffer("num_batches_tracked", trackRunningStats ? Tensor.Zeros([], DType.I64) : null);
    }

    /// <summary>
    /// When set (by <see cref="Distributed.SyncBatchNorm.ConvertSyncBatchNorm"/>), batch statistics are those of the
    /// global batch over this group's ranks (SyncBatchNorm); null: this process's batch only (the default, as
    /// PyTorch's DDP).
    /// </summary>
    public Engine.Distributed.ProcessGroup? SyncGroup { get; set; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var runningMean = GetBuffer("running_mean");
        bool useBatchStats = Training || runningMean is null;
        if (useBatchStats && SyncGroup is { WorldSize: > 1 } group)
            return Distributed.SyncBatchNorm.Forward(input, runningMean, GetBuffer("running_var"), GetParameter("weight"), GetParameter("bias"),
                Training ? GetBuffer("num_batches_tracked") : null, Training ? _momentum : 0, _eps, group);
        return Functional.BatchNorm2d(input, runningMean, GetBuffer("running_var"),
            GetParameter("weight"), GetParameter("bias"), useBatchStats, _momentum, _eps,
            numBatchesTracked: Training ? GetBuffer("num_batches_tracked") : null);
    }
}

/// <summary>GroupNorm. State: <c>weight</c>, <c>bias</c> of shape (C).</summary>
public sealed class GroupNorm : Module<Tensor, Tensor>
{
    private readonly int _groups;
    private readonly double _eps;

    /// <summary>Creates the layer.</summary>
    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true, DType? dtype = null)
    {
        if (numGroups < 1 || numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: num_channels ({numChannels}) must be divisible by num_groups ({numGroups}).");
        _groups = numGroups;
        _eps = eps;
        RegisterParameter("weight", affine ? Tensor.Ones([numChannels], dtype) : null);
        RegisterParameter("bias", affine ? Tensor.Zeros([numChannels], dtype) : null);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.GroupNorm(input, _groups, GetParameter("weight"), GetParameter("bias"), _eps);
}

/// <summary>Zeroes elements with probability p in training, scaling the rest by 1/(1-p); identity in evaluation.</summary>
public sealed class Dropout(double p = 0.5, Generator? generator = null) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Dropout(input, p, Training, generator);
}

/// <summary>Stochastic depth: drops whole samples of a residual branch with probability p in training.</summary>
public sealed class DropPath(double p = 0.0, Generator? generator = null) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.DropPath(input, p, Training, generator: generator);
}

/// <summary>An activation as a module, so it can sit in a <see cref="Sequential"/>.</summary>
public sealed class Activation(string name) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => name switch
    {
        "relu" => input.Relu(),
        "gelu" => Functional.Gelu(input),
        "gelu_tanh" => Functional.Gelu(input, "tanh"),
        "silu" or "swish" => Functional.Silu(input),
        "hardswish" => Functional.Hardswish(input),
        "sigmoid" => input.Sigmoid(),
        "tanh" => input.Tanh(),
        "identity" => input,
        _ => throw new ArgumentException($"Activation: unknown activation '{name}'."),
    };

    /// <inheritdoc/>
    public override string ExtraRepr() => name;
}

/// <summary>Max pooling as a module.</summary>
public sealed class MaxPool2d(Size2d kernelSize, Size2d? stride = null, Size2d padding = default) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.MaxPool2d(input, kernelSize, stride, padding);
}

/// <summary>Mean over H and W, giving (N, C).</summary>
public sealed class GlobalAvgPool2d : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.GlobalAvgPool2d(input);
}

/// <summary>Flattens every dimension after the first.</summary>
public sealed class Flatten : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Flatten(1);
}

/// <summary>
/// The transformer MLP (timm's <c>Mlp</c>): fc1, activation, dropout, fc2, dropout. State: <c>fc1.*</c>, <c>fc2.*</c>.
/// </summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly Linear _fc1, _fc2;
    private readonly Activation _act;
    private readonly Dropout _drop;

    /// <summary>Creates the block; hidden and output sizes default to the input size.</summary>
    public Mlp(int inFeatures, int? hiddenFeatures = null, int? outFeatures = null, string activation = "gelu", double drop = 0.0, DType? dtype = null)
    {
        _fc1 = RegisterModule("fc1", new Linear(inFeatures, hiddenFeatures ?? inFeatures, dtype: dtype));
        _act = new Activation(activation);
        _drop = new Dropout(drop);
        _fc2 = RegisterModule("fc2", new Linear(hiddenFeatures ?? inFeatures, outFeatures ?? inFeatures, dtype: dtype));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        _drop.Train(Training);
        var h = _drop.Call(_act.Call(_fc1.Call(input)));
        return _drop.Call(_fc2.Call(h));
    }
}
