using Engine.Models.Serialization.Pth;

namespace Engine.Models.Serialization;

/// <summary>
/// A model's weights read from any file the engine understands, chosen by extension: a PyTorch checkpoint
/// (<c>.pth</c>, <c>.pt</c>, <c>.bin</c>, <c>.ckpt</c>: <see cref="PthReader"/>), the engine's training checkpoint
/// (a <c>.safetensors</c> with <c>format=engine-checkpoint</c>: its model state dict) or a plain safetensors file.
/// The tensors belong to this object until it is disposed.
/// </summary>
public sealed class StateDictFile : IDisposable
{
    /// <summary>The extensions read as PyTorch checkpoints.</summary>
    public static readonly IReadOnlyList<string> PyTorchExtensions = [".pth", ".pt", ".bin", ".ckpt"];

    private readonly IDisposable _owner;

    private StateDictFile(string kind, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata, IDisposable owner)
    {
        Kind = kind;
        Tensors = tensors;
        Metadata = metadata;
        _owner = owner;
    }

    /// <summary>What was read: "pth (zip)", "pth (legacy)", "engine checkpoint" or "safetensors".</summary>
    public string Kind { get; }

    /// <summary>The state dict, in the file's order.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <summary>String metadata: a safetensors file's, an engine checkpoint's extras (<c>train_options</c>, ...); empty for .pth.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Reads the weights at <paramref name="path"/>. <paramref name="entry"/> picks the nested dict of a .pth
    /// checkpoint (as <c>model_ema</c>); it is an error for the other kinds.
    /// </summary>
    public static StateDictFile Read(string path, string? entry = null)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (PyTorchExtensions.Contains(extension))
        {
            var pth = PthReader.Read(path, entry);
            return new StateDictFile($"pth ({pth.Format})", pth.Tensors, new Dictionary<string, string>(), pth);
        }
        if (extension != ".safetensors")
            throw new ArgumentException($"weights '{path}': unknown extension '{extension}'; expected .safetensors or one of {string.Join(", ", PyTorchExtensions)}.");
        if (entry is not null) throw new ArgumentException($"weights '{path}': an entry ('{entry}') only selects a nested dict in a PyTorch checkpoint.");
        var header = SafeTensors.ReadHeader(path);
        if (header.Metadata.TryGetValue("format", out var format) && format == Checkpoint.FormatName)
        {
            var checkpoint = Checkpoint.Load(path);
            return new StateDictFile("engine checkpoint", checkpoint.Model, checkpoint.Metadata, checkpoint);
        }
        var file = SafeTensors.Read(path);
        return new StateDictFile("safetensors", file.Tensors, file.Metadata, file);
    }

    /// <summary>Disposes every tensor read.</summary>
    public void Dispose() => _owner.Dispose();
}
