namespace Engine.Models.Serialization.Pth;

/// <summary>
/// The state dict read from a PyTorch checkpoint. The tensors belong to the caller (and to the
/// <see cref="TensorScope"/> open when they were read); <see cref="Dispose"/> disposes those still held.
/// </summary>
public sealed class PthFile : IDisposable
{
    /// <summary>The entries that hold the state dict in official checkpoints, tried in this order when the top level is not one.</summary>
    public static readonly IReadOnlyList<string> NestingKeys = ["state_dict", "model", "model_ema", "state_dict_ema", "module"];

    private readonly OrderedDictionary<string, Tensor> _tensors;

    internal PthFile(string format, string entry, bool strippedModulePrefix, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        Format = format;
        Entry = entry;
        StrippedModulePrefix = strippedModulePrefix;
        _tensors = new OrderedDictionary<string, Tensor>(tensors, StringComparer.Ordinal);
    }

    /// <summary>"zip" (torch.save since PyTorch 1.6) or "legacy".</summary>
    public string Format { get; }

    /// <summary>The nesting followed to the state dict, as "model" or "state_dict/model" ("" when it is the top level).</summary>
    public string Entry { get; }

    /// <summary>True when every key had the <c>module.</c> prefix, which was removed.</summary>
    public bool StrippedModulePrefix { get; }

    /// <summary>The tensors by name, in the file's order.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>Disposes every tensor read from the file.</summary>
    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
    }
}
