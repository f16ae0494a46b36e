using Engine.Autograd;

namespace Engine.Models.Optim;

/// <summary>
/// Decay warmup for <see cref="Ema"/>, as timm's ModelEmaV3: with s = step - updateAfterStep - 1,
/// decay(s) = 0 for s &lt;= 0, else clamp(1 - (1 + s / gamma)^-power, minDecay, decay).
/// </summary>
/// <param name="Gamma">timm's <c>warmup_gamma</c> (inverse gamma).</param>
/// <param name="Power">timm's <c>warmup_power</c>.</param>
/// <param name="MinDecay">The smallest decay used once s &gt; 0.</param>
/// <param name="UpdateAfterStep">Steps before averaging starts (the EMA copies the weights until then).</param>
public sealed record EmaWarmup(double Gamma = 1.0, double Power = 2.0 / 3.0, double MinDecay = 0.0, long UpdateAfterStep = 0);

/// <summary>
/// An exponential moving average of weights (timm's ModelEmaV2): after each update
/// ema = decay * ema + (1 - decay) * weight for floating-point tensors; other tensors (integer
/// buffers) are copied. It keeps its own copies, taken from the source tensors at construction.
/// </summary>
public sealed class Ema : IDisposable
{
    private readonly List<(string Name, Tensor Source, Tensor Average)> _entries = [];

    /// <summary>Averages the named tensors of <paramref name="source"/> (a model's state dict: parameters and buffers).</summary>
    public Ema(IEnumerable<KeyValuePair<string, Tensor>> source, double decay = 0.9999, EmaWarmup? warmup = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentException($"Ema: decay must be in [0, 1], got {decay}.");
        Decay = decay;
        Warmup = warmup;
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var noGrad = Tape.NoGrad();
        foreach (var (name, t) in source)
        {
            if (!names.Add(name)) throw new ArgumentException($"Ema: '{name}' is given twice.");
            _entries.Add((name, t, OptimTensors.OwnedCopy(t)));
        }
    }

    /// <summary>Averages <paramref name="source"/>, naming the tensors "0", "1", ... in order.</summary>
    public Ema(IEnumerable<Tensor> source, double decay = 0.9999, EmaWarmup? warmup = null)
        : this(source.Select((t, i) => KeyValuePair.Create(i.ToString(System.Globalization.CultureInfo.InvariantCulture), t)), decay, warmup) { }

    /// <summary>The decay used without a step (and the upper bound under warmup).</summary>
    public double Decay { get; }

    /// <summary>The decay warmup, or null for a constant decay.</summary>
    public EmaWarmup? Warmup { get; }

    /// <summary>The averaged tensors by name (owned by this object).</summary>
    public IReadOnlyDictionary<string, Tensor> Values => _entries.ToDictionary(e => e.Name, e => e.Average);

    /// <summary>The decay an update at <paramref name="step"/> uses (timm's <c>get_decay</c>; null means <see cref="Decay"/>).</summary>
    public double DecayAt(long? step)
    {
        if (step is not { } st) return Decay;
        long s = Math.Max(0, st - (Warmup?.UpdateAfterStep ?? 0) - 1);
        if (s <= 0) return 0;
        if (Warmup is not { } w) return Decay;
        double d = 1 - Math.Pow(1 + s / w.Gamma, -w.Power);
        return Math.Max(Math.Min(d, Decay), w.MinDecay);
    }

    /// <summary>
    /// Moves the averages towards the current source tensors; <paramref name="step"/> (the number of updates so
    /// far, counting this one) selects the decay. Averages on a CUDA device are updated by one launch per table
    /// of tensors of one dtype.
    /// </summary>
    public unsafe void Update(long? step = null)
    {
        double decay = DecayAt(step);
        using var noGrad = Tape.NoGrad();
        var onDevice = new Dictionary<(Device, DType), List<Tensor?[]>>();
        foreach (var (name, source, average) in _entries)
        {
            CheckSame(name, source, average);
            if (!average.DType.IsFloatingPoint()) average.CopyFrom(source);
            else if (OptimTensors.IsFusable(average) && OptimTensors.IsFusable(source) && source.DType == average.DType)
            {
                if (average.DType == DType.F32) FusedKernels.Ema(OptimTensors.Ptr<float>(average), OptimTensors.Ptr<float>(source), average.NumEl, decay);
                else FusedKernels.Ema(OptimTensors.Ptr<double>(average), OptimTensors.Ptr<double>(source), average.NumEl, decay);
                OptimTensors.MarkWritten(average);
            }
            else if (OptimCuda.CanUpdate(average) && OptimCuda.CanUpdate(source) && source.DType == average.DType && source.Device == average.Device)
            {
                var key = (average.Device, average.DType);
                if (!onDevice.TryGetValue(key, out var rows)) onDevice[key] = rows = [];
                rows.Add([average, source]);
                OptimTensors.MarkWritten(average);
            }
            else
            {
                using var scope = Tensor.Scope();
                average.CopyFrom(average.Mul(decay).Add(source.ToDType(average.DType).Mul(1 - decay)));
            }
        }
        foreach (var rows in onDevice.Values) OptimCuda.Ema(rows, decay);
    }

    /// <summary>Moves the averages to <paramref name="device"/> in place (the handles in <see cref="Values"/> stay the same), as after moving the model.</summary>
    public Ema ToDevice(Device device)
    {
        Backends.Devices.Check(device, "Ema.ToDevice");
        using var noGrad = Tape.NoGrad();
        foreach (var (_, _, average) in _entries)
        {
            if (average.Device == device) continue;
            using var moved = average.ToDevice(device);
            average.SetData(moved);
        }
        return this;
    }

    /// <summary>Copies the current source tensors into the averages (timm's <c>set</c>).</summary>
    public void Set()
    {
        using var noGrad = Tape.NoGrad();
        foreach (var (name, source, average) in _entries)
        {
            CheckSame(name, source, average);
            average.CopyFrom(source);
        }
    }

    /// <summary>Copies the averages into <paramref name="target"/> (for example a model's state dict, to evaluate with the averaged weights).</summary>
    public void CopyTo(IReadOnlyDictionary<string, Tensor> target)
    {
        ArgumentNullException.ThrowIfNull(target);
        using var noGrad = Tape.NoGrad();
        foreach (var (name, _, average) in _entries)
        {
            if (!target.TryGetValue(name, out var t)) throw new ArgumentException($"Ema: the target has no tensor '{name}'.");
            CheckSame(name, t, average);
            t.CopyFrom(average);
        }
    }

    /// <summary>The averages as a state dict (copies the caller owns).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        using var noGrad = Tape.NoGrad();
        return _entries.ToDictionary(e => e.Name, e => e.Average.Clone());
    }

    /// <summary>Loads averages saved by <see cref="StateDict"/>: every name must be present with the same shape.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        foreach (var (name, _, average) in _entries)
        {
            if (!state.TryGetValue(name, out var t)) throw new ArgumentException($"Ema: the state dict has no '{name}'.");
            CheckSame(name, t, average);
        }
        using var noGrad = Tape.NoGrad();
        foreach (var (name, _, average) in _entries) average.CopyFrom(state[name]);
    }

    private static void CheckSame(string name, Tensor other, Tensor average)
    {
        if (other.IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"Ema: tensor '{name}' was disposed.");
        if (!other.Shape.AsSpan().SequenceEqual(average.Shape))
            throw new ArgumentException($"Ema: tensor '{name}' has shape {Layout.Format(other.Shape)} but its average has {Layout.Format(average.Shape)}.");
    }

    /// <summary>Frees the averages.</summary>
    public void Dispose()
    {
        foreach (var e in _entries) e.Average.Dispose();
    }
}
