namespace Engine.Models.Nn;

/// <summary>Runs its children in order, each on the previous one's output; children are named "0", "1", ...</summary>
public sealed class Sequential : Module<Tensor, Tensor>
{
    private readonly List<Module<Tensor, Tensor>> _layers = [];

    /// <summary>Creates the sequence from <paramref name="layers"/>.</summary>
    public Sequential(params Module<Tensor, Tensor>[] layers)
    {
        foreach (var l in layers) Append(l);
    }

    /// <summary>Adds a layer at the end.</summary>
    public Sequential Append(Module<Tensor, Tensor> layer)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        return this;
    }

    /// <summary>Number of layers.</summary>
    public int Count => _layers.Count;

    /// <summary>The layer at <paramref name="index"/>.</summary>
    public Module<Tensor, Tensor> this[int index] => _layers[index];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var layer in _layers) x = layer.Call(x);
        return x;
    }
}

/// <summary>Holds modules under the names "0", "1", ... without running them; the owner decides how.</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = [];

    /// <summary>Creates the list from <paramref name="items"/>.</summary>
    public ModuleList(params T[] items)
    {
        foreach (var i in items) Add(i);
    }

    /// <summary>Adds a module at the end.</summary>
    public void Add(T item)
    {
        RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), item);
        _items.Add(item);
    }

    /// <inheritdoc/>
    public T this[int index] => _items[index];

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Holds parameters under the names "0", "1", ...</summary>
public sealed class ParameterList : Module, IReadOnlyList<Tensor>
{
    private readonly List<Tensor> _items = [];

    /// <summary>Creates the list from <paramref name="parameters"/>.</summary>
    public ParameterList(params Tensor[] parameters)
    {
        foreach (var p in parameters) Add(p);
    }

    /// <summary>Registers a parameter at the end.</summary>
    public void Add(Tensor parameter)
    {
        RegisterParameter(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), parameter);
        _items.Add(parameter);
    }

    /// <inheritdoc/>
    public Tensor this[int index] => GetParameter(index.ToString(System.Globalization.CultureInfo.InvariantCulture))!;

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public IEnumerator<Tensor> GetEnumerator() => Enumerable.Range(0, Count).Select(i => this[i]).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Returns its input unchanged (a placeholder where a layer is optional).</summary>
public sealed class Identity : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input;
}
