using Engine.Autograd;

namespace Engine.Models.Optim;

/// <summary>
/// The base of the optimizers, after <c>torch.optim.Optimizer</c>: parameter groups with their own
/// options, <see cref="Step()"/> updating the parameters in place from their gradients (with recording
/// off, through in-place kernels that bump <see cref="Storage.Version"/>), <see cref="ZeroGrad"/>, and a
/// state dict in PyTorch's structure.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly List<ParamGroup> _groups = [];
    private readonly HashSet<Tensor> _all = new(ReferenceEqualityComparer.Instance);

    /// <summary>Creates the optimizer over <paramref name="groups"/>, filling options they do not set from <paramref name="defaults"/>.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups, IReadOnlyDictionary<string, object> defaults)
    {
        Defaults = defaults;
        foreach (var g in groups) AddParamGroup(g);
        if (_groups.Count == 0) throw new ArgumentException($"{Kind}: optimizer got an empty parameter list.");
    }

    /// <summary>The name PyTorch gives the optimizer ("SGD", "AdamW"); saved with the state dict and checked on load.</summary>
    public abstract string Kind { get; }

    /// <summary>The options a group gets when it does not set them.</summary>
    public IReadOnlyDictionary<string, object> Defaults { get; }

    /// <summary>The parameter groups, in order.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>Adds a group (PyTorch's <c>add_param_group</c>): fills defaults, checks options and that no parameter is in two groups.</summary>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        for (int i = 0; i < group.Params.Count; i++)
        {
            var p = group.Params[i];
            if (p is null || p.IsDisposed) throw new ArgumentException($"{Kind}: parameter {i} of the group is null or disposed.");
            if (!p.IsLeaf) throw new ArgumentException($"{Kind}: can't optimize a non-leaf Tensor (parameter {i}, shape {Layout.Format(p.Shape)}).");
            if (!p.DType.IsFloatingPoint()) throw new ArgumentException($"{Kind}: parameter {i} (shape {Layout.Format(p.Shape)}) is {p.DType.TorchName()}; only floating point tensors can be optimized.");
        }
        var distinct = new HashSet<Tensor>(group.Params, ReferenceEqualityComparer.Instance);
        if (distinct.Count != group.Params.Count) throw new ArgumentException($"{Kind}: a parameter group contains the same tensor twice.");
        if (distinct.Overlaps(_all)) throw new ArgumentException($"{Kind}: some parameters appear in more than one parameter group.");
        foreach (var (k, v) in Defaults) group.SetDefault(k, v);
        Validate(group);
        _groups.Add(group);
        _all.UnionWith(distinct);
    }

    /// <summary>Checks a group's options, throwing with PyTorch's messages ("Invalid learning rate: -1").</summary>
    protected abstract void Validate(ParamGroup group);

    /// <summary>Updates every parameter that has a gradient, group by group, with recording off.</summary>
    public void Step() => Step(gradScale: null);

    /// <summary>
    /// Updates every parameter that has a gradient as if each gradient had first been multiplied by
    /// <paramref name="gradScale"/> (a one-element floating-point tensor, or null for none); the gradients
    /// themselves are not changed. This is gradient clipping folded into the step, as llm.c does: pass
    /// <see cref="GradientClipping.ComputeScale"/>'s <c>Scale</c>, computed on the gradients' device, and the
    /// step never reads it back. The result equals clipping the gradients in place and then stepping.
    /// </summary>
    public void Step(Tensor? gradScale)
    {
        if (gradScale is not null && !SupportsGradScale)
            throw new NotSupportedException($"{Kind}: this optimizer does not take a gradient scale; clip the gradients in place with GradientClipping.ClipGradNorm instead.");
        using var noGrad = Tape.NoGrad();
        using var scale = gradScale is null ? null : new GradScale(gradScale, Kind);
        CurrentScale = scale;
        try
        {
            foreach (var g in _groups)
            {
                Validate(g);
                StepGroup(g);
            }
        }
        finally
        {
            CurrentScale = null;
        }
    }

    /// <summary>Whether <see cref="StepGroup"/> applies <see cref="GradScaleTensor"/>; a subclass that does says so, and <see cref="Step(Tensor?)"/> refuses a scale otherwise.</summary>
    protected virtual bool SupportsGradScale => false;

    /// <summary>The gradient scale of the step in progress (see <see cref="Step(Tensor?)"/>), or null.</summary>
    protected Tensor? GradScaleTensor => CurrentScale?.Source;

    /// <summary>The scale of the step in progress with its per-device forms, or null.</summary>
    internal GradScale? CurrentScale { get; private set; }

    /// <summary>The update of one group; parameters without a gradient are skipped.</summary>
    protected abstract void StepGroup(ParamGroup group);

    /// <summary>
    /// Clears the gradients: zeroes them in place (PyTorch 1.13's default), or drops them when
    /// <paramref name="setToNone"/>, which frees their memory and makes the next backward assign rather than add.
    /// </summary>
    public void ZeroGrad(bool setToNone = false)
    {
        foreach (var g in _groups)
            foreach (var p in g.Params)
            {
                if (p.Grad is null) continue;
                if (setToNone) p.ZeroGrad();
                else p.Grad.ZeroInPlace();
            }
    }

    /// <summary>Every tensor of the optimizer's per-parameter state (moments, momentum buffers), for <see cref="ToDevice"/>.</summary>
    protected abstract IEnumerable<Tensor> StateTensors();

    /// <summary>
    /// Moves the optimizer's state tensors to <paramref name="device"/> in place (the handles stay the same),
    /// after the module's parameters were moved with <c>Module.ToDevice</c>.
    /// </summary>
    public Optimizer ToDevice(Device device)
    {
        Backends.Devices.Check(device, "Optimizer.ToDevice");
        using var noGrad = Tape.NoGrad();
        foreach (var t in StateTensors().ToList())
        {
            if (t.Device == device) continue;
            using var moved = t.ToDevice(device);
            t.SetData(moved);
        }
        return this;
    }

    /// <summary>The state entries every saved parameter state must have (checked before a load changes anything).</summary>
    protected virtual IReadOnlyList<string> RequiredStateKeys => [];

    /// <summary>The state of one parameter as named tensors (copies the caller will own), or null when it has none yet.</summary>
    protected abstract Dictionary<string, Tensor>? SaveParamState(Tensor param);

    /// <summary>Replaces the state of one parameter from <paramref name="state"/> (which stays the caller's: copy what you keep).</summary>
    protected abstract void LoadParamState(Tensor param, ParamGroup group, int index, IReadOnlyDictionary<string, Tensor> state);

    /// <summary>Forgets the state of one parameter (it had none in a loaded state dict).</summary>
    protected abstract void ClearParamState(Tensor param);

    /// <summary>The state in PyTorch's structure; the tensors are copies owned by the returned object.</summary>
    public OptimizerState StateDict()
    {
        var state = new SortedDictionary<int, Dictionary<string, Tensor>>();
        var groups = new List<Dictionary<string, object>>();
        int index = 0;
        using var noGrad = Tape.NoGrad();
        foreach (var g in _groups)
        {
            var packed = new Dictionary<string, object>(StringComparer.Ordinal);
            foreach (var (k, v) in g.Options) packed[k] = v is double[] a ? a.Clone() : v;
            var indices = new int[g.Params.Count];
            for (int i = 0; i < g.Params.Count; i++, index++)
            {
                indices[i] = index;
                if (SaveParamState(g.Params[i]) is { } s) state[index] = s;
            }
            packed[OptimizerState.ParamsKey] = indices;
            groups.Add(packed);
        }
        return new OptimizerState(Kind, state, groups);
    }

    /// <summary>
    /// Loads a state dict (PyTorch's <c>load_state_dict</c>): the groups must match in number and size; each
    /// group takes the saved options, and each parameter the saved state (copied, converted to its dtype).
    /// </summary>
    public void LoadStateDict(OptimizerState stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var saved = MatchGroups(stateDict);
        CheckLoadable(stateDict, saved);
        using var noGrad = Tape.NoGrad();
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            var group = _groups[gi];
            foreach (var (k, v) in stateDict.ParamGroups[gi])
                if (k != OptimizerState.ParamsKey) group[k] = v;
            for (int i = 0; i < group.Params.Count; i++)
            {
                if (stateDict.State.TryGetValue(saved[gi][i], out var s)) LoadParamState(group.Params[i], group, saved[gi][i], s);
                else ClearParamState(group.Params[i]);
            }
        }
    }

    /// <summary>The saved parameter indices of each group, after checking the groups correspond.</summary>
    private int[][] MatchGroups(OptimizerState stateDict)
    {
        if (stateDict.Kind is { } kind && kind != Kind)
            throw new ArgumentException($"{Kind}: the state dict was saved by a {kind} optimizer.");
        if (stateDict.ParamGroups.Count != _groups.Count)
            throw new ArgumentException($"{Kind}: loaded state dict has a different number of parameter groups ({stateDict.ParamGroups.Count}, the optimizer has {_groups.Count}).");
        var saved = new int[_groups.Count][];
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            if (!stateDict.ParamGroups[gi].TryGetValue(OptimizerState.ParamsKey, out var p) || p is not int[] indices)
                throw new ArgumentException($"{Kind}: param group {gi} of the loaded state dict has no 'params' index list.");
            if (indices.Length != _groups[gi].Params.Count)
                throw new ArgumentException($"{Kind}: loaded state dict contains a parameter group that doesn't match the size of optimizer's group (group {gi}: {indices.Length} parameters saved, {_groups[gi].Params.Count} here).");
            saved[gi] = indices;
        }
        foreach (var index in stateDict.State.Keys)
            if (!saved.Any(s => s.Contains(index)))
                throw new ArgumentException($"{Kind}: the loaded state dict has state for parameter {index}, which no param group lists.");
        return saved;
    }

    /// <summary>Checks options and state tensors before anything changes, so a bad state dict leaves the optimizer as it was.</summary>
    private void CheckLoadable(OptimizerState stateDict, int[][] saved)
    {
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            var trial = new ParamGroup(_groups[gi].Params);
            foreach (var (k, v) in _groups[gi].Options) trial[k] = v;
            foreach (var (k, v) in stateDict.ParamGroups[gi])
                if (k != OptimizerState.ParamsKey) trial[k] = v;
            Validate(trial);
            for (int i = 0; i < trial.Params.Count; i++)
            {
                if (!stateDict.State.TryGetValue(saved[gi][i], out var s)) continue;
                int index = saved[gi][i];
                foreach (var key in RequiredStateKeys)
                    if (!s.ContainsKey(key))
                        throw new ArgumentException($"{Kind}: the state of parameter {index} has no '{key}' (it has {string.Join(", ", s.Keys)}).");
                foreach (var (key, t) in s)
                {
                    if (t is null || t.IsDisposed) throw new ArgumentException($"{Kind}: state '{key}' of parameter {index} is null or disposed.");
                    // 'step' is the one scalar; every other state tensor is shaped like its parameter.
                    if (key != "step" && !t.Shape.AsSpan().SequenceEqual(trial.Params[i].Shape))
                        throw new ArgumentException($"{Kind}: state '{key}' of parameter {index} has shape {Layout.Format(t.Shape)} but the parameter has shape {Layout.Format(trial.Params[i].Shape)}.");
                }
            }
        }
    }

    /// <summary>A state tensor from a loaded state dict, checked against its parameter and copied to the parameter's dtype and device.</summary>
    protected Tensor CopyStateTensor(IReadOnlyDictionary<string, Tensor> state, string key, Tensor param, int index)
    {
        if (!state.TryGetValue(key, out var t))
            throw new ArgumentException($"{Kind}: the state of parameter {index} has no '{key}' (it has {string.Join(", ", state.Keys)}).");
        if (!t.Shape.AsSpan().SequenceEqual(param.Shape))
            throw new ArgumentException($"{Kind}: state '{key}' of parameter {index} has shape {Layout.Format(t.Shape)} but the parameter has shape {Layout.Format(param.Shape)}.");
        var copy = Tensor.Empty(param.Shape, param.DType, param.Device);
        copy.CopyFrom(t);
        return copy;
    }

    /// <summary>A scalar from a loaded state dict (such as <c>step</c>).</summary>
    protected long ReadStep(IReadOnlyDictionary<string, Tensor> state, string key, int index)
    {
        if (!state.TryGetValue(key, out var t) || t.NumEl != 1)
            throw new ArgumentException($"{Kind}: the state of parameter {index} has no scalar '{key}'.");
        double v = t.Item();
        if (v < 0 || v != Math.Floor(v)) throw new ArgumentException($"{Kind}: '{key}' of parameter {index} is {v}, not a step count.");
        return (long)v;
    }

    /// <summary>Frees the state tensors (moment estimates, momentum buffers); the parameters are not touched.</summary>
    public void Dispose()
    {
        foreach (var g in _groups)
            foreach (var p in g.Params) ClearParamState(p);
        GC.SuppressFinalize(this);
    }
}
