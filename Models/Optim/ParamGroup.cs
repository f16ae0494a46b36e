namespace Engine.Models.Optim;

/// <summary>
/// Parameters that share hyper-parameters, as in PyTorch's <c>param_groups</c>. Options use PyTorch's
/// key names (<c>lr</c>, <c>weight_decay</c>, <c>momentum</c>, <c>betas</c>, <c>eps</c>, <c>amsgrad</c>,
/// <c>nesterov</c>, <c>maximize</c>, ...); those a group does not set are filled from the optimizer's
/// defaults when the group is added. Values are <see cref="double"/>, <see cref="bool"/> or
/// <see cref="T:double[]"/> (betas).
/// </summary>
public sealed class ParamGroup
{
    private readonly Dictionary<string, object> _options = new(StringComparer.Ordinal);

    /// <summary>A group over <paramref name="parameters"/>, optionally with its own learning rate and weight decay.</summary>
    public ParamGroup(IEnumerable<Tensor> parameters, double? lr = null, double? weightDecay = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Params = parameters.ToList();
        if (lr is { } l) Lr = l;
        if (weightDecay is { } wd) WeightDecay = wd;
    }

    /// <summary>The parameters: leaf tensors whose <see cref="Tensor.Grad"/> the optimizer reads.</summary>
    public IReadOnlyList<Tensor> Params { get; }

    /// <summary>Learning rate (<c>lr</c>); schedules set it before each step.</summary>
    public double Lr
    {
        get => GetDouble("lr");
        set => this["lr"] = value;
    }

    /// <summary>Weight decay (<c>weight_decay</c>).</summary>
    public double WeightDecay
    {
        get => GetDouble("weight_decay");
        set => this["weight_decay"] = value;
    }

    /// <summary>Every option the group holds, by PyTorch key name.</summary>
    public IReadOnlyDictionary<string, object> Options => _options;

    /// <summary>An option by key; setting checks the value is a double (integers are widened), a bool or a double array.</summary>
    public object this[string key]
    {
        get => _options.TryGetValue(key, out var v) ? v
            : throw new KeyNotFoundException($"param group: no option '{key}' (it has {string.Join(", ", _options.Keys)}).");
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            _options[key] = value switch
            {
                double or bool => value,
                int or long or float => Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture),
                double[] a => a.Clone(),
                (double a, double b) => new[] { a, b },
                _ => throw new ArgumentException($"param group: option '{key}' must be a double, a bool or a double[], not {value?.GetType().Name ?? "null"}."),
            };
        }
    }

    /// <summary>True when the group sets <paramref name="key"/>.</summary>
    public bool Contains(string key) => _options.ContainsKey(key);

    /// <summary>A numeric option.</summary>
    public double GetDouble(string key) => this[key] is double d ? d
        : throw new InvalidCastException($"param group: option '{key}' is {this[key].GetType().Name}, not a number.");

    /// <summary>A boolean option.</summary>
    public bool GetBool(string key) => this[key] is bool b ? b
        : throw new InvalidCastException($"param group: option '{key}' is {this[key].GetType().Name}, not a bool.");

    /// <summary>An array option (such as <c>betas</c>).</summary>
    public double[] GetDoubles(string key) => this[key] is double[] a ? (double[])a.Clone()
        : throw new InvalidCastException($"param group: option '{key}' is {this[key].GetType().Name}, not an array.");

    /// <summary>Sets <paramref name="key"/> unless the group already has it (Python's <c>setdefault</c>).</summary>
    public void SetDefault(string key, object value)
    {
        if (!_options.ContainsKey(key)) this[key] = value;
    }
}
