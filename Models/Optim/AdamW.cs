namespace Engine.Models.Optim;

/// <summary>
/// Adam with decoupled weight decay, as <c>torch.optim.AdamW</c> (1.13, single-tensor path). Per step:
/// step += 1; p *= 1 - lr * weight_decay; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²;
/// with amsgrad vmax = max(vmax, v) replaces v below; denom = sqrt(v) / sqrt(1 - b2^step) + eps;
/// p -= lr / (1 - b1^step) * m / denom. State per parameter: <c>step</c> (a float64 scalar; PyTorch keeps
/// a float32 one), <c>exp_avg</c>, <c>exp_avg_sq</c>, and <c>max_exp_avg_sq</c> under amsgrad.
/// </summary>
public sealed class AdamW : Optimizer
{
    private sealed class State
    {
        public long Step;
        public required Tensor ExpAvg;
        public required Tensor ExpAvgSq;
        public Tensor? MaxExpAvgSq;

        public void Dispose()
        {
            ExpAvg.Dispose();
            ExpAvgSq.Dispose();
            MaxExpAvgSq?.Dispose();
        }
    }

    private readonly Dictionary<Tensor, State> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>AdamW over one group of <paramref name="parameters"/>.</summary>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : this([new ParamGroup(parameters)], lr, betas, eps, weightDecay, amsgrad, maximize) { }

    /// <summary>AdamW over parameter groups; options a group does not set come from these arguments. <paramref name="betas"/> defaults to (0.9, 0.999).</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base(groups, new Dictionary<string, object>
        {
            ["lr"] = lr, ["betas"] = new[] { (betas ?? (0.9, 0.999)).Beta1, (betas ?? (0.9, 0.999)).Beta2 }, ["eps"] = eps,
            ["weight_decay"] = weightDecay, ["amsgrad"] = amsgrad, ["maximize"] = maximize,
        })
    { }

    /// <inheritdoc/>
    public override string Kind => "AdamW";

    /// <inheritdoc/>
    protected override IEnumerable<Tensor> StateTensors() =>
        _state.Values.SelectMany(s => s.MaxExpAvgSq is null ? new[] { s.ExpAvg, s.ExpAvgSq } : [s.ExpAvg, s.ExpAvgSq, s.MaxExpAvgSq]);

    /// <inheritdoc/>
    protected override void Validate(ParamGroup group)
    {
        double lr = group.Lr, eps = group.GetDouble("eps"), wd = group.WeightDecay;
        var betas = group.GetDoubles("betas");
        if (!(lr >= 0)) throw new ArgumentException($"Invalid learning rate: {lr}");
        if (!(eps >= 0)) throw new ArgumentException($"Invalid epsilon value: {eps}");
        if (betas.Length != 2) throw new ArgumentException($"Invalid betas: expected two values, got {betas.Length}");
        if (!(betas[0] >= 0 && betas[0] < 1)) throw new ArgumentException($"Invalid beta parameter at index 0: {betas[0]}");
        if (!(betas[1] >= 0 && betas[1] < 1)) throw new ArgumentException($"Invalid beta parameter at index 1: {betas[1]}");
        if (!(wd >= 0)) throw new ArgumentException($"Invalid weight_decay value: {wd}");
    }

    /// <inheritdoc/>
    protected override bool SupportsGradScale => true;

    /// <inheritdoc/>
    protected override unsafe void StepGroup(ParamGroup group)
    {
        double lr = group.Lr, wd = group.WeightDecay, eps = group.GetDouble("eps");
        var betas = group.GetDoubles("betas");
        double beta1 = betas[0], beta2 = betas[1];
        bool amsgrad = group.GetBool("amsgrad"), maximize = group.GetBool("maximize");
        var scale = CurrentScale;
        // Parameters on a CUDA device are gathered by (device, dtype, step count), whose scalars are the same,
        // and updated by one launch per table of tensors after the loop.
        var onDevice = new Dictionary<(Device, DType, long), List<Tensor?[]>>();
        using var copies = new DisposableList();
        foreach (var p in group.Params)
        {
            if (p.Grad is null) continue;
            if (!_state.TryGetValue(p, out var s))
                _state[p] = s = new State { ExpAvg = OptimTensors.OwnedZeros(p), ExpAvgSq = OptimTensors.OwnedZeros(p) };
            if (amsgrad) s.MaxExpAvgSq ??= OptimTensors.OwnedZeros(p);
            s.Step++;
            var scalars = Scalars(s.Step, lr, wd, beta1, beta2, eps, amsgrad, maximize);

            if (OptimTensors.IsFusable(p))
            {
                scalars = scalars with { GradScale = scale?.Host ?? 1 };
                var g = OptimTensors.ContiguousGrad(p, out bool copied);
                try
                {
                    if (p.DType == DType.F32)
                        FusedKernels.AdamW(OptimTensors.Ptr<float>(p), OptimTensors.Ptr<float>(g), OptimTensors.Ptr<float>(s.ExpAvg), OptimTensors.Ptr<float>(s.ExpAvgSq),
                            amsgrad ? OptimTensors.Ptr<float>(s.MaxExpAvgSq!) : null, p.NumEl, scalars);
                    else
                        FusedKernels.AdamW(OptimTensors.Ptr<double>(p), OptimTensors.Ptr<double>(g), OptimTensors.Ptr<double>(s.ExpAvg), OptimTensors.Ptr<double>(s.ExpAvgSq),
                            amsgrad ? OptimTensors.Ptr<double>(s.MaxExpAvgSq!) : null, p.NumEl, scalars);
                }
                finally
                {
                    if (copied) g.Dispose();
                }
                MarkStepped(p, s);
            }
            else if (OptimCuda.CanUpdate(p))
            {
                var key = (p.Device, p.DType, s.Step);
                if (!onDevice.TryGetValue(key, out var rows)) onDevice[key] = rows = [];
                rows.Add([p, copies.ContiguousGrad(p), s.ExpAvg, s.ExpAvgSq, amsgrad ? s.MaxExpAvgSq : null]);
                MarkStepped(p, s);
            }
            else
            {
                StepWithTensorOps(p, s, scalars, scale);
            }
        }
        foreach (var ((device, _, step), rows) in onDevice)
            OptimCuda.AdamW(rows, Scalars(step, lr, wd, beta1, beta2, eps, amsgrad, maximize), scale?.On(device, DType.F64));
    }

    /// <summary>The scalars of a parameter's <paramref name="step"/>-th update, as PyTorch computes them on the host.</summary>
    private static FusedKernels.AdamWScalars Scalars(long step, double lr, double wd, double beta1, double beta2, double eps, bool amsgrad, bool maximize)
    {
        // Python floats: step is the float step_t.item(); ** is C pow.
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        double stepSize = lr / biasCorrection1;
        return new FusedKernels.AdamWScalars(1 - lr * wd, beta1, beta2, eps, Math.Sqrt(biasCorrection2), -stepSize, amsgrad, maximize);
    }

    private static void MarkStepped(Tensor p, State s)
    {
        OptimTensors.MarkWritten(p);
        OptimTensors.MarkWritten(s.ExpAvg);
        OptimTensors.MarkWritten(s.ExpAvgSq);
        if (s.MaxExpAvgSq is not null) OptimTensors.MarkWritten(s.MaxExpAvgSq);
    }

    /// <summary>The same update from tensor operations, for parameters no kernel can take (a strided view, another device).</summary>
    private static void StepWithTensorOps(Tensor p, State s, FusedKernels.AdamWScalars k, GradScale? scale)
    {
        using var scope = Tensor.Scope();
        var g = scale is null ? p.Grad! : p.Grad!.Mul(scale.On(p.Device, p.DType));
        if (k.Maximize) g = g.Neg();
        p.MulInPlace(k.DecayFactor);
        s.ExpAvg.MulInPlace(k.Beta1).AddInPlace(g, 1 - k.Beta1);
        s.ExpAvgSq.MulInPlace(k.Beta2).AddInPlace(g.Mul(1 - k.Beta2).Mul(g));
        var second = s.ExpAvgSq;
        if (k.Amsgrad)
        {
            s.MaxExpAvgSq!.CopyFrom(Tensor.Maximum(s.MaxExpAvgSq, s.ExpAvgSq));
            second = s.MaxExpAvgSq;
        }
        var denom = second.Sqrt().Div(k.Bc2Sqrt).Add(k.Eps);
        p.AddInPlace(s.ExpAvg.Mul(k.NegStepSize).Div(denom));
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> RequiredStateKeys { get; } = ["step", "exp_avg", "exp_avg_sq"];

    /// <inheritdoc/>
    protected override Dictionary<string, Tensor>? SaveParamState(Tensor param)
    {
        if (!_state.TryGetValue(param, out var s)) return null;
        var d = new Dictionary<string, Tensor>
        {
            ["step"] = Tensor.Scalar(s.Step, DType.F64),
            ["exp_avg"] = s.ExpAvg.Clone(),
            ["exp_avg_sq"] = s.ExpAvgSq.Clone(),
        };
        if (s.MaxExpAvgSq is not null) d["max_exp_avg_sq"] = s.MaxExpAvgSq.Clone();
        return d;
    }

    /// <inheritdoc/>
    protected override void LoadParamState(Tensor param, ParamGroup group, int index, IReadOnlyDictionary<string, Tensor> state)
    {
        long step = ReadStep(state, "step", index);
        var copies = new List<Tensor>();
        Tensor Copy(string key)
        {
            var t = OptimTensors.Owned(CopyStateTensor(state, key, param, index));
            copies.Add(t);
            return t;
        }
        State s;
        try
        {
            s = new State { Step = step, ExpAvg = Copy("exp_avg"), ExpAvgSq = Copy("exp_avg_sq") };
            if (state.ContainsKey("max_exp_avg_sq")) s.MaxExpAvgSq = Copy("max_exp_avg_sq");
        }
        catch
        {
            foreach (var t in copies) t.Dispose();
            throw;
        }
        ClearParamState(param);
        _state[param] = s;
    }

    /// <inheritdoc/>
    protected override void ClearParamState(Tensor param)
    {
        if (_state.Remove(param, out var old)) old.Dispose();
    }
}
