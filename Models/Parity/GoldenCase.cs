using System.Text.Json;
using Engine.Models.Serialization;

namespace Engine.Models.Parity;

/// <summary>
/// One golden file written by a reference implementation in float64: the input, the parameters and buffers
/// the reference used, its output, the output gradient it back-propagated, the gradients it got, and for
/// training cases the buffers after the step (BatchNorm running statistics). The metadata names the model
/// and holds its config as JSON, so the engine can rebuild the same model.
/// </summary>
/// <remarks>
/// Tensor names in the file carry a prefix saying what they are: <c>param.</c>, <c>buffer.</c>,
/// <c>grad.</c> (with <c>grad.input</c> for the input gradient) and <c>buffer_after.</c>. The dictionaries
/// here are keyed without it, so that they line up with a module's state-dict keys.
/// </remarks>
public sealed class GoldenCase : IDisposable
{
    private readonly SafeTensorsFile _file;

    private GoldenCase(string path, SafeTensorsFile file)
    {
        Path = path;
        _file = file;
        Metadata = file.Metadata;
        Model = Required("model");
        ConfigJson = Metadata.TryGetValue("config", out var config) ? config : "{}";
        try { Config = JsonDocument.Parse(ConfigJson).RootElement.Clone(); }
        catch (JsonException e) { throw new InvalidDataException($"golden '{path}': the metadata 'config' is not valid JSON ({e.Message})."); }
        Mode = Metadata.TryGetValue("mode", out var mode) ? mode : "train";
        if (Mode is not ("train" or "eval"))
            throw new InvalidDataException($"golden '{path}': metadata 'mode' is '{Mode}'; expected 'train' or 'eval'.");
        Input = Tensor("input");
        Output = Tensor("output");
        GradOutput = Tensor("grad_output");
        Parameters = WithPrefix("param.");
        Buffers = WithPrefix("buffer.");
        Gradients = WithPrefix("grad.");
        BuffersAfter = WithPrefix("buffer_after.");
        if (!Gradients.ContainsKey("input"))
            throw new InvalidDataException($"golden '{path}': no tensor 'grad.input' (the input gradient).");
    }

    /// <summary>Reads the golden file at <paramref name="path"/>; the error names the file and what is missing.</summary>
    public static GoldenCase Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"golden: no file '{path}'.", path);
        var file = SafeTensors.Read(path);
        try { return new GoldenCase(path, file); }
        catch { file.Dispose(); throw; }
    }

    /// <summary>The file this case was read from.</summary>
    public string Path { get; }

    /// <summary>The model name the reference wrote (metadata <c>model</c>), e.g. <c>vHeat</c> or <c>dualvit.DualBlock</c>.</summary>
    public string Model { get; }

    /// <summary>The model's config as the JSON text of the metadata (<c>{}</c> when there is none).</summary>
    public string ConfigJson { get; }

    /// <summary>The parsed <see cref="ConfigJson"/>.</summary>
    public JsonElement Config { get; }

    /// <summary><c>train</c> or <c>eval</c>: the mode the reference ran the model in.</summary>
    public string Mode { get; }

    /// <summary>True when the reference ran in training mode.</summary>
    public bool Training => Mode == "train";

    /// <summary>All metadata strings of the file.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The model's input.</summary>
    public Tensor Input { get; }

    /// <summary>The reference's output.</summary>
    public Tensor Output { get; }

    /// <summary>The gradient back-propagated from the output.</summary>
    public Tensor GradOutput { get; }

    /// <summary>Parameters by state-dict key.</summary>
    public IReadOnlyDictionary<string, Tensor> Parameters { get; }

    /// <summary>Buffers before the step, by state-dict key.</summary>
    public IReadOnlyDictionary<string, Tensor> Buffers { get; }

    /// <summary>Gradients by parameter key, plus <c>input</c> for the input gradient.</summary>
    public IReadOnlyDictionary<string, Tensor> Gradients { get; }

    /// <summary>Buffers after the forward pass (training cases with BatchNorm), by state-dict key.</summary>
    public IReadOnlyDictionary<string, Tensor> BuffersAfter { get; }

    /// <summary>A config integer, or <paramref name="fallback"/> when the key is absent.</summary>
    public int ConfigInt(string key, int fallback) =>
        Config.ValueKind == JsonValueKind.Object && Config.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    private string Required(string key) => Metadata.TryGetValue(key, out var v) ? v
        : throw new InvalidDataException($"golden '{Path}': no metadata '{key}' (the file's metadata holds: {string.Join(", ", Metadata.Keys)}).");

    private Tensor Tensor(string name) => _file.Tensors.TryGetValue(name, out var t) ? t
        : throw new InvalidDataException($"golden '{Path}': no tensor '{name}'.");

    private Dictionary<string, Tensor> WithPrefix(string prefix) =>
        _file.Tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);

    /// <summary>Frees the tensors read from the file.</summary>
    public void Dispose() => _file.Dispose();
}
