namespace Engine.Models.Optim;

/// <summary>
/// Stochastic gradient descent with momentum, as <c>torch.optim.SGD</c> (1.13, single-tensor path):
/// d = g + weight_decay * p; with momentum, the buffer is d itself on the first step (no dampening)
/// and buf * momentum + (1 - dampening) * d after; d becomes d + momentum * buf (nesterov) or buf;
/// then p -= lr * d. State per parameter: <c>momentum_buffer</c> (when momentum is not 0).
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly Dictionary<Tensor, Tensor> _buffers = new(ReferenceEqualityComparer.Instance);

    /// <summary>SGD over one group of <paramref name="parameters"/>.</summary>
    public Sgd(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : this([new ParamGroup(parameters)], lr, momentum, dampening, weightDecay, nesterov, maximize) { }

    /// <summary>SGD over parameter groups; options a group does not set come from these arguments.</summary>
    public Sgd(IEnumerable<ParamGroup> groups, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(groups, new Dictionary<string, object>
        {
            ["lr"] = lr, ["momentum"] = momentum, ["dampening"] = dampening,
            ["weight_decay"] = weightDecay, ["nesterov"] = nesterov, ["maximize"] = maximize,
        })
    { }

    /// <inheritdoc/>
    public override string Kind => "SGD";

    /// <inheritdoc/>
    protected override IEnumerable<Tensor> StateTensors() => _buffers.Values;

    /// <inheritdoc/>
    protected override void Validate(ParamGroup group)
    {
        double lr = group.Lr, momentum = group.GetDouble("momentum"), wd = group.WeightDecay;
        if (!(lr >= 0)) throw new ArgumentException($"Invalid learning rate: {lr}");
        if (!(momentum >= 0)) throw new ArgumentException($"Invalid momentum value: {momentum}");
        if (!(wd >= 0)) throw new ArgumentException($"Invalid weight_decay value: {wd}");
        if (group.GetBool("nesterov") && (momentum <= 0 || group.GetDouble("dampening") != 0))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening");
    }

    /// <inheritdoc/>
    protected override bool SupportsGradScale => true;

    /// <inheritdoc/>
    protected override unsafe void StepGroup(ParamGroup group)
    {
        double lr = group.Lr, wd = group.WeightDecay, momentum = group.GetDouble("momentum"), dampening = group.GetDouble("dampening");
        bool nesterov = group.GetBool("nesterov"), maximize = group.GetBool("maximize");
        var scale = CurrentScale;
        // Parameters on a CUDA device are gathered by (device, dtype, first step) and updated by one launch per table.
        var onDevice = new Dictionary<(Device, DType, bool), List<Tensor?[]>>();
        using var copies = new DisposableList();
        foreach (var p in group.Params)
        {
            if (p.Grad is null) continue;
            _buffers.TryGetValue(p, out var buf);
            bool first = momentum != 0 && buf is null;
            if (first) buf = _buffers[p] = OptimTensors.OwnedZeros(p);
            if (momentum == 0) buf = null;

            if (OptimTensors.IsFusable(p))
            {
                var g = OptimTensors.ContiguousGrad(p, out bool copied);
                try
                {
                    var s = new FusedKernels.SgdScalars(lr, wd, momentum, dampening, nesterov, maximize, first, scale?.Host ?? 1);
                    if (p.DType == DType.F32)
                        FusedKernels.Sgd(OptimTensors.Ptr<float>(p), OptimTensors.Ptr<float>(g), buf is null ? null : OptimTensors.Ptr<float>(buf), p.NumEl, s);
                    else
                        FusedKernels.Sgd(OptimTensors.Ptr<double>(p), OptimTensors.Ptr<double>(g), buf is null ? null : OptimTensors.Ptr<double>(buf), p.NumEl, s);
                }
                finally
                {
                    if (copied) g.Dispose();
                }
                OptimTensors.MarkWritten(p);
                if (buf is not null) OptimTensors.MarkWritten(buf);
            }
            else if (OptimCuda.CanUpdate(p))
            {
                var key = (p.Device, p.DType, first);
                if (!onDevice.TryGetValue(key, out var rows)) onDevice[key] = rows = [];
                rows.Add([p, copies.ContiguousGrad(p), buf]);
                OptimTensors.MarkWritten(p);
                if (buf is not null) OptimTensors.MarkWritten(buf);
            }
            else
            {
                StepWithTensorOps(p, buf, first, lr, wd, momentum, dampening, nesterov, maximize, scale);
            }
        }
        foreach (var ((device, _, first), rows) in onDevice)
            OptimCuda.Sgd(rows, new FusedKernels.SgdScalars(lr, wd, momentum, dampening, nesterov, maximize, first), scale?.On(device, DType.F64));
    }

    /// <summary>The same update from tensor operations, for parameters no kernel can take (a strided view, another device).</summary>
    private static void StepWithTensorOps(Tensor p, Tensor? buf, bool first, double lr, double wd, double momentum, double dampening, bool nesterov, bool maximize, GradScale? scale)
    {
        using var scope = Tensor.Scope();
        var d = scale is null ? p.Grad! : p.Grad!.Mul(scale.On(p.Device, p.DType));
        if (maximize) d = d.Neg();
        if (wd != 0) d = d.Add(p.Mul(wd));
        if (buf is not null)
        {
            if (first) buf.CopyFrom(d);
            else buf.MulInPlace(momentum).AddInPlace(d, 1 - dampening);
            d = nesterov ? d.Add(buf.Mul(momentum)) : buf;
        }
        p.AddInPlace(d, -lr);
    }

    /// <inheritdoc/>
    protected override Dictionary<string, Tensor>? SaveParamState(Tensor param) =>
        _buffers.TryGetValue(param, out var buf) ? new Dictionary<string, Tensor> { ["momentum_buffer"] = buf.Clone() } : null;

    /// <inheritdoc/>
    protected override void LoadParamState(Tensor param, ParamGroup group, int index, IReadOnlyDictionary<string, Tensor> state)
    {
        ClearParamState(param);
        // PyTorch keeps 'momentum_buffer': None when momentum is 0; such a state simply has no buffer.
        if (state.ContainsKey("momentum_buffer"))
            _buffers[param] = OptimTensors.Owned(CopyStateTensor(state, "momentum_buffer", param, index));
    }

    /// <inheritdoc/>
    protected override void ClearParamState(Tensor param)
    {
        if (_buffers.Remove(param, out var old)) old.Dispose();
    }
}
