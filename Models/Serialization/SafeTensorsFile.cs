namespace Engine.Models.Serialization;

/// <summary>
/// The tensors and metadata read from a safetensors file. The tensors belong to the caller (and to the
/// <see cref="TensorScope"/> open when they were read); <see cref="Dispose"/> disposes those still held.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private readonly OrderedDictionary<string, Tensor> _tensors;

    internal SafeTensorsFile(SafeTensorsHeader header, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        Header = header;
        _tensors = new OrderedDictionary<string, Tensor>(tensors, StringComparer.Ordinal);
    }

    /// <summary>What the header said: entries with stored dtypes and offsets, and the metadata.</summary>
    public SafeTensorsHeader Header { get; }

    /// <summary>The tensors by name, in the order the header lists them.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>The <c>__metadata__</c> strings (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>The tensor called <paramref name="name"/>; the error lists what the file holds when it is missing.</summary>
    public Tensor this[string name] => _tensors.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"safetensors: no tensor '{name}' in the file (it holds {_tensors.Count}: {Preview()}).");

    private string Preview()
    {
        var names = _tensors.Keys.Take(8).Select(n => $"'{n}'");
        return string.Join(", ", names) + (_tensors.Count > 8 ? ", ..." : "");
    }

    /// <summary>Disposes every tensor read from the file.</summary>
    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
    }
}
