using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Engine.Models.Optim;

namespace Engine.Models.Serialization;

/// <summary>The whole state of a <see cref="Engine.Randomness.Generator"/>: its seed and counter offset.</summary>
/// <param name="Seed">The Philox key.</param>
/// <param name="Offset">The next unused block.</param>
public readonly record struct GeneratorState(ulong Seed, ulong Offset)
{
    /// <summary>The state of <paramref name="generator"/>.</summary>
    public static GeneratorState Of(Engine.Randomness.Generator generator) => new(generator.Seed, generator.Offset);

    /// <summary>Puts <paramref name="generator"/> back into this state.</summary>
    public void RestoreTo(Engine.Randomness.Generator generator)
    {
        generator.ManualSeed(Seed);
        generator.Offset = Offset;
    }
}

/// <summary>
/// A training checkpoint: model state dict, optimizer state, schedule state, random generator state,
/// epoch, EMA weights and free-form metadata, stored as one safetensors file. Tensors are named
/// <c>model.NAME</c>, <c>ema.NAME</c> and <c>optimizer.state.INDEX.KEY</c>; the rest is in the metadata
/// (<c>epoch</c>, <c>rng</c>, <c>schedule</c>, <c>optimizer.param_groups</c> as PyTorch-shaped JSON,
/// <c>extra.KEY</c>), with a SHA-256 <c>checksum</c> over all of it so that a corrupted file is
/// detected rather than loaded. Saving to a path is atomic.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    /// <summary>The value of the <c>format</c> metadata key.</summary>
    public const string FormatName = "engine-checkpoint";

    /// <summary>The layout version written (and the newest one read).</summary>
    public const int FormatVersion = 1;

    private const string ModelPrefix = "model.", EmaPrefix = "ema.", OptimPrefix = "optimizer.state.", ExtraPrefix = "extra.";

    /// <summary>The model's state dict.</summary>
    public IReadOnlyDictionary<string, Tensor> Model { get; init; } = new Dictionary<string, Tensor>();

    /// <summary>The optimizer's state dict, if saved.</summary>
    public OptimizerState? Optimizer { get; init; }

    /// <summary>The learning-rate schedule's state dict, if saved.</summary>
    public IReadOnlyDictionary<string, double>? Schedule { get; init; }

    /// <summary>The random generator's state, if saved.</summary>
    public GeneratorState? Rng { get; init; }

    /// <summary>The epoch (the number completed, by the trainer's convention).</summary>
    public long Epoch { get; init; }

    /// <summary>EMA weights, if saved.</summary>
    public IReadOnlyDictionary<string, Tensor>? Ema { get; init; }

    /// <summary>Free-form strings (configuration, notes).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Saves the parts of a checkpoint to <paramref name="path"/>, atomically.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> model, OptimizerState? optimizer = null,
        IReadOnlyDictionary<string, double>? schedule = null, GeneratorState? rng = null, long epoch = 0,
        IReadOnlyDictionary<string, string>? metadata = null, IReadOnlyDictionary<string, Tensor>? ema = null) =>
        Save(path, new Checkpoint { Model = model, Optimizer = optimizer, Schedule = schedule, Rng = rng, Epoch = epoch, Metadata = metadata ?? new Dictionary<string, string>(), Ema = ema });

    /// <summary>
    /// Saves <paramref name="checkpoint"/> to <paramref name="path"/> atomically: a temporary file in the same
    /// directory, flushed to disk, renamed over the target. If anything fails the previous file is untouched.
    /// </summary>
    public static void Save(string path, Checkpoint checkpoint) => AtomicFile.Write(path, stream => Save(stream, checkpoint));

    /// <summary>Writes <paramref name="checkpoint"/> to <paramref name="stream"/>.</summary>
    public static void Save(Stream stream, Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (k, t) in checkpoint.Model) tensors.Add(new(ModelPrefix + k, t));
        if (checkpoint.Ema is { } ema) foreach (var (k, t) in ema) tensors.Add(new(EmaPrefix + k, t));
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = FormatName,
            ["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["epoch"] = checkpoint.Epoch.ToString(CultureInfo.InvariantCulture),
        };
        if (checkpoint.Optimizer is { } opt)
        {
            foreach (var (index, state) in opt.State)
                foreach (var (key, t) in state) tensors.Add(new($"{OptimPrefix}{index.ToString(CultureInfo.InvariantCulture)}.{key}", t));
            metadata["optimizer.param_groups"] = opt.ParamGroupsToJson();
            if (opt.Kind is { } kind) metadata["optimizer.kind"] = kind;
        }
        if (checkpoint.Schedule is { } schedule) metadata["schedule"] = JsonSerializer.Serialize(schedule);
        if (checkpoint.Rng is { } rng) metadata["rng"] = JsonSerializer.Serialize(new Dictionary<string, ulong> { ["seed"] = rng.Seed, ["offset"] = rng.Offset });
        foreach (var (k, v) in checkpoint.Metadata) metadata[ExtraPrefix + k] = v;
        metadata["checksum"] = Checksum(metadata, tensors);
        SafeTensors.Write(stream, tensors, metadata);
    }

    /// <summary>Loads the checkpoint at <paramref name="path"/>; a truncated, corrupted or foreign file raises an error naming the file and the problem.</summary>
    public static Checkpoint Load(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        return Load(stream, path);
    }

    /// <summary>Loads a checkpoint from <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static Checkpoint Load(Stream stream, string name = "<stream>")
    {
        var file = SafeTensors.Read(stream, name);
        try
        {
            return Decode(file, name);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static Checkpoint Decode(SafeTensorsFile file, string name)
    {
        var meta = file.Metadata;
        SafeTensorsException Bad(string problem) => new(name, problem);
        if (!meta.TryGetValue("format", out var format) || format != FormatName)
            throw Bad($"this is not an engine checkpoint (metadata 'format' is {(format is null ? "missing" : $"'{format}'")}, expected '{FormatName}').");
        if (!meta.TryGetValue("format_version", out var versionText) || !int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version) || version < 1)
            throw Bad($"metadata 'format_version' is missing or not a version number ('{versionText}').");
        if (version > FormatVersion)
            throw Bad($"checkpoint format version {version} is newer than this build reads ({FormatVersion}).");
        if (!meta.TryGetValue("checksum", out var stored))
            throw Bad("metadata 'checksum' is missing: the header was damaged or the file was not written by Checkpoint.Save.");
        var storedMeta = meta.Where(kv => kv.Key != "checksum").ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (Checksum(storedMeta, file.Tensors.ToList()) != stored)
            throw Bad("the content does not match the SHA-256 checksum stored in its header: the file is corrupted.");
        if (!meta.TryGetValue("epoch", out var epochText) || !long.TryParse(epochText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long epoch))
            throw Bad($"metadata 'epoch' is missing or not an integer ('{epochText}').");

        var model = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var ema = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var optState = new SortedDictionary<int, Dictionary<string, Tensor>>();
        foreach (var (key, t) in file.Tensors)
        {
            if (key.StartsWith(ModelPrefix, StringComparison.Ordinal)) model[key[ModelPrefix.Length..]] = t;
            else if (key.StartsWith(EmaPrefix, StringComparison.Ordinal)) ema[key[EmaPrefix.Length..]] = t;
            else if (key.StartsWith(OptimPrefix, StringComparison.Ordinal))
            {
                var rest = key[OptimPrefix.Length..];
                int dot = rest.IndexOf('.');
                if (dot <= 0 || !int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    throw Bad($"tensor '{key}' should be named optimizer.state.INDEX.KEY.");
                if (!optState.TryGetValue(index, out var s)) optState[index] = s = [];
                s[rest[(dot + 1)..]] = t;
            }
            else throw Bad($"tensor '{key}' belongs to no part of a checkpoint (model., ema., optimizer.state.).");
        }

        OptimizerState? optimizer = null;
        if (meta.TryGetValue("optimizer.param_groups", out var groupsJson))
        {
            List<Dictionary<string, object>> groups;
            try
            {
                groups = OptimizerState.ParamGroupsFromJson(groupsJson);
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                throw new SafeTensorsException(name, $"metadata 'optimizer.param_groups' is not valid: {e.Message}", e);
            }
            optimizer = new OptimizerState(meta.GetValueOrDefault("optimizer.kind"), optState, groups);
        }
        else if (optState.Count > 0) throw Bad("the file has optimizer state tensors but no 'optimizer.param_groups' metadata.");

        return new Checkpoint
        {
            Model = model,
            Ema = ema.Count > 0 ? ema : null,
            Optimizer = optimizer,
            Schedule = meta.TryGetValue("schedule", out var sj) ? ParseJson<Dictionary<string, double>>(sj, "schedule", name) : null,
            Rng = meta.TryGetValue("rng", out var rj) ? ParseRng(rj, name) : null,
            Epoch = epoch,
            Metadata = meta.Where(kv => kv.Key.StartsWith(ExtraPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[ExtraPrefix.Length..], kv => kv.Value, StringComparer.Ordinal),
        };
    }

    private static T ParseJson<T>(string json, string key, string name)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new SafeTensorsException(name, $"metadata '{key}' is not valid: {e.Message}", e);
        }
    }

    private static GeneratorState ParseRng(string json, string name)
    {
        var d = ParseJson<Dictionary<string, ulong>>(json, "rng", name);
        if (!d.TryGetValue("seed", out var seed) || !d.TryGetValue("offset", out var offset))
            throw new SafeTensorsException(name, "metadata 'rng' must hold 'seed' and 'offset'.");
        return new GeneratorState(seed, offset);
    }

    /// <summary>
    /// SHA-256 over the metadata (sorted by key) and the tensors (sorted by name: name, dtype, shape,
    /// bytes), so it does not depend on the order the file lays them out in.
    /// </summary>
    private static unsafe string Checksum(IReadOnlyDictionary<string, string> metadata, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(s));
            hash.AppendData([0]);
        }
        foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Text(k);
            Text(v);
        }
        using var noGrad = Engine.Autograd.Tape.NoGrad();
        foreach (var (k, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Text(k);
            Text($"{t.DType.ShortName()}{Layout.Format(t.Shape)}");
            var cpu = t.ToDevice(Device.Cpu);
            var c = cpu.Contiguous();
            try
            {
                byte* p = (byte*)((CpuStorage)c.Storage).Pointer + c.Offset * c.DType.SizeOf();
                long bytes = c.NumEl * c.DType.SizeOf();
                for (long done = 0; done < bytes;)
                {
                    int n = (int)Math.Min(bytes - done, 1 << 30);
                    hash.AppendData(new ReadOnlySpan<byte>(p + done, n));
                    done += n;
                }
            }
            finally
            {
                if (!ReferenceEquals(c, cpu)) c.Dispose();
                if (!ReferenceEquals(cpu, t)) cpu.Dispose();
            }
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Disposes every tensor the checkpoint holds (call it on loaded checkpoints; a checkpoint built from live tensors would dispose those).</summary>
    public void Dispose()
    {
        foreach (var t in Model.Values) t.Dispose();
        if (Ema is not null) foreach (var t in Ema.Values) t.Dispose();
        Optimizer?.Dispose();
    }
}
