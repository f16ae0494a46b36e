using Engine.Autograd;

namespace Engine.Models.Nn;

/// <summary>What <see cref="Module.LoadStateDict"/> found: keys the module has but the state lacked, and keys the state had that the module does not know.</summary>
public sealed record LoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

/// <summary>
/// A building block of a network: it owns parameters (tensors that train), buffers (state that does not,
/// such as BatchNorm's running statistics) and child modules, each under a name. The dotted path of
/// names (<c>layers.0.blocks.1.norm.weight</c>) is the key in the state dict, exactly as in PyTorch, so
/// reference checkpoints load by name.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Tensor? Tensor)> _parameters = [];
    private readonly List<(string Name, Tensor? Tensor, bool Persistent)> _buffers = [];
    private readonly List<(string Name, Module Module)> _children = [];
    private bool _disposed;

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a trainable tensor under <paramref name="name"/> and returns it (null leaves a named hole, as PyTorch's optional bias).</summary>
    protected Tensor? RegisterParameter(string name, Tensor? parameter)
    {
        CheckName(name);
        if (parameter is not null)
        {
            if (!parameter.DType.IsFloatingPoint())
                throw new ArgumentException($"{GetType().Name}: parameter '{name}' must be a floating point tensor, got {parameter.DType.TorchName()}.");
            parameter.DetachFromScope();
            if (!parameter.IsLeaf) throw new ArgumentException($"{GetType().Name}: parameter '{name}' must be a leaf tensor (Detach() it first).");
            parameter.RequiresGrad = true;
        }
        _parameters.Add((name, parameter));
        return parameter;
    }

    /// <summary>Registers state that is not trained; persistent buffers are part of the state dict.</summary>
    protected Tensor? RegisterBuffer(string name, Tensor? buffer, bool persistent = true)
    {
        CheckName(name);
        buffer?.DetachFromScope();
        _buffers.Add((name, buffer, persistent));
        return buffer;
    }

    /// <summary>Registers a child module under <paramref name="name"/> and returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: '{name}' is not a valid name (non-empty, no dots).");
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _children.Any(c => c.Name == name))
            throw new ArgumentException($"{GetType().Name}: the name '{name}' is already registered.");
    }

    /// <summary>Replaces the tensor registered under a parameter or buffer name (used by loading and dtype conversion).</summary>
    protected void ReplaceTensor(string name, Tensor? tensor)
    {
        int p = _parameters.FindIndex(x => x.Name == name);
        if (p >= 0)
        {
            var old = _parameters[p].Tensor;
            // A frozen parameter stays frozen (PyTorch's .to() keeps requires_grad).
            if (tensor is not null) { tensor.DetachFromScope(); tensor.RequiresGrad = old?.RequiresGrad ?? true; }
            _parameters[p] = (name, tensor);
            if (old is not null && !ReferenceEquals(old, tensor)) old.Dispose();
            return;
        }
        int b = _buffers.FindIndex(x => x.Name == name);
        if (b < 0) throw new ArgumentException($"{GetType().Name}: no parameter or buffer named '{name}'.");
        var oldBuffer = _buffers[b].Tensor;
        tensor?.DetachFromScope();
        _buffers[b] = (name, tensor, _buffers[b].Persistent);
        if (oldBuffer is not null && !ReferenceEquals(oldBuffer, tensor)) oldBuffer.Dispose();
    }

    /// <summary>The parameter registered under <paramref name="name"/> on this module (not its children).</summary>
    protected Tensor? GetParameter(string name) => _parameters.First(p => p.Name == name).Tensor;

    /// <summary>The buffer registered under <paramref name="name"/> on this module (not its children).</summary>
    protected Tensor? GetBuffer(string name) => _buffers.First(b => b.Name == name).Tensor;

    /// <summary>Direct children with their names, in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children;

    /// <summary>This module and every descendant, with dotted names ('' for this one), parents before children.</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix, this);
        foreach (var (name, child) in _children)
            foreach (var m in child.NamedModules(Join(prefix, name)))
                yield return m;
    }

    /// <summary>Every parameter with its dotted name, this module's first, then each child's in order.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (name, t) in _parameters)
            if (t is not null) yield return (Join(prefix, name), t);
        foreach (var (name, child) in _children)
            foreach (var p in child.NamedParameters(Join(prefix, name)))
                yield return p;
    }

    /// <summary>Every parameter, in <see cref="NamedParameters"/> order.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Every buffer with its dotted name.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "", bool persistentOnly = false)
    {
        foreach (var (name, t, persistent) in _buffers)
            if (t is not null && (persistent || !persistentOnly)) yield return (Join(prefix, name), t);
        foreach (var (name, child) in _children)
            foreach (var b in child.NamedBuffers(Join(prefix, name), persistentOnly))
                yield return b;
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    /// <summary>Number of parameter elements (only those requiring a gradient when <paramref name="trainableOnly"/>).</summary>
    public long ParameterCount(bool trainableOnly = false) =>
        Parameters().Where(p => !trainableOnly || p.RequiresGrad).Sum(p => p.NumEl);

    /// <summary>Sets training mode on this module and every descendant.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = mode;
        return this;
    }

    /// <summary>Sets evaluation mode (dropout off, BatchNorm on running statistics).</summary>
    public Module Eval() => Train(false);

    /// <summary>Calls <paramref name="action"/> on every descendant and then on this module, as PyTorch's <c>apply</c> (for initialisation).</summary>
    public Module Apply(Action<Module> action)
    {
        foreach (var (_, child) in _children) child.Apply(action);
        action(this);
        return this;
    }

    /// <summary>Drops the gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>
    /// Parameters and persistent buffers by dotted name, in PyTorch's order (each module's parameters,
    /// then its buffers, then its children). The tensors are the module's own, not copies.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>();
        Collect(state, "");
        return state;
    }

    private void Collect(Dictionary<string, Tensor> state, string prefix)
    {
        foreach (var (name, t) in _parameters) if (t is not null) state[Join(prefix, name)] = t;
        foreach (var (name, t, persistent) in _buffers) if (t is not null && persistent) state[Join(prefix, name)] = t;
        foreach (var (name, child) in _children) child.Collect(state, Join(prefix, name));
    }

    /// <summary>
    /// Copies values from <paramref name="state"/> into the parameters and buffers with the same names
    /// (converting the dtype when it differs). Returns the missing and unexpected keys. As PyTorch's
    /// <c>load_state_dict</c>: a shape mismatch is always an error, missing or unexpected keys only with
    /// <paramref name="strict"/>; one error lists them all, in PyTorch's words, and nothing is copied.
    /// </summary>
    public LoadResult LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var errors = new List<string>();
        if (strict && missing.Count > 0) errors.Add($"Missing key(s) in state_dict: {Quote(missing)}. ");
        if (strict && unexpected.Count > 0) errors.Add($"Unexpected key(s) in state_dict: {Quote(unexpected)}. ");
        errors.AddRange(own.Where(kv => state.TryGetValue(kv.Key, out var s) && !s.Shape.SequenceEqual(kv.Value.Shape))
            .Select(kv => $"size mismatch for {kv.Key}: copying a param with shape torch.Size({Layout.Format(state[kv.Key].Shape)}) from checkpoint, " +
                          $"the shape in current model is torch.Size({Layout.Format(kv.Value.Shape)})."));
        if (errors.Count > 0)
            throw new ArgumentException($"Error(s) in loading state_dict for {GetType().Name}:\n\t" + string.Join("\n\t", errors));
        using (Tape.NoGrad())
            foreach (var (key, target) in own)
                if (state.TryGetValue(key, out var source)) target.CopyFrom(source);
        return new LoadResult(missing, unexpected);
    }

    private static string Quote(IEnumerable<string> keys) => string.Join(", ", keys.Select(k => $"\"{k}\""));

    /// <summary>
    /// Converts every parameter and buffer of floating-point dtype to <paramref name="dtype"/> (for example F64
    /// for gradient parity). The tensors are converted in place (<see cref="Tensor.SetData"/>), so references
    /// to them stay valid; gradients are converted with them.
    /// </summary>
    public Module ToDType(DType dtype) => Apply(t => t.DType.IsFloatingPoint() && t.DType != dtype, t => t.ToDType(dtype));

    /// <summary>
    /// Moves every parameter, its gradient and every buffer to <paramref name="device"/>, in place, as
    /// PyTorch's <c>module.to(device)</c>: the tensor handles stay the same objects, so an optimizer made
    /// before the move keeps working (move its state with <c>Optimizer.ToDevice</c>).
    /// </summary>
    public Module ToDevice(Device device)
    {
        Backends.Devices.Check(device, "Module.ToDevice");
        return Apply(t => t.Device != device, t => t.ToDevice(device));
    }

    private Module Apply(Func<Tensor, bool> needs, Func<Tensor, Tensor> convert)
    {
        using var noGrad = Tape.NoGrad();
        foreach (var (_, m) in NamedModules())
        {
            foreach (var (_, t) in m._parameters)
                if (t is not null) ApplyInPlace(t, needs, convert);
            foreach (var (_, t, _) in m._buffers)
                if (t is not null) ApplyInPlace(t, needs, convert);
        }
        return this;
    }

    private static void ApplyInPlace(Tensor t, Func<Tensor, bool> needs, Func<Tensor, Tensor> convert)
    {
        if (!needs(t)) return;
        var grad = t.Grad is { } g && needs(g) ? convert(g) : null;
        var data = convert(t);
        t.SetData(data);
        if (!ReferenceEquals(data, t)) data.Dispose();
        if (grad is not null) t.Grad = grad.DetachFromScope();
    }

    /// <summary>Frees every parameter and buffer of this module and its descendants.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var (_, t) in _parameters) t?.Dispose();
        foreach (var (_, t, _) in _buffers) t?.Dispose();
        foreach (var (_, c) in _children) c.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A one-line description for printing the module tree (override to show hyper-parameters).</summary>
    public virtual string ExtraRepr() => "";

    /// <summary>The module tree, indented, in PyTorch's style.</summary>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(GetType().Name).Append('(').Append(ExtraRepr());
        if (_children.Count > 0)
        {
            sb.Append('\n');
            foreach (var (name, child) in _children)
                sb.Append("  (").Append(name).Append("): ").Append(child.ToString().Replace("\n", "\n  ")).Append('\n');
        }
        return sb.Append(')').ToString();
    }
}

/// <summary>A module with a typed forward; <see cref="Call"/> runs the forward hooks around it.</summary>
public abstract class Module<TIn, TOut> : Module
{
    private readonly List<Action<Module, TIn, TOut>> _forwardHooks = [];

    /// <summary>The computation.</summary>
    public abstract TOut Forward(TIn input);

    /// <summary>Runs <see cref="Forward"/>, then every forward hook with the input and the output.</summary>
    public TOut Call(TIn input)
    {
        var output = Forward(input);
        foreach (var hook in _forwardHooks.ToArray()) hook(this, input, output);
        return output;
    }

    /// <summary>Adds a hook called after every <see cref="Call"/>; dispose the result to remove it.</summary>
    public IDisposable RegisterForwardHook(Action<Module, TIn, TOut> hook)
    {
        _forwardHooks.Add(hook);
        return new HookHandle(() => _forwardHooks.Remove(hook));
    }

    private sealed class HookHandle(Action remove) : IDisposable
    {
        private Action? _remove = remove;
        public void Dispose() { _remove?.Invoke(); _remove = null; }
    }
}
