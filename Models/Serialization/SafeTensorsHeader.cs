using System.Buffers.Binary;
using System.Text.Json;

namespace Engine.Models.Serialization;

/// <summary>One tensor described by a safetensors header.</summary>
/// <param name="Name">The tensor's key.</param>
/// <param name="DType">The stored element type.</param>
/// <param name="Shape">The shape (empty for a scalar).</param>
/// <param name="Begin">First byte of its data, counted from the end of the header.</param>
/// <param name="End">One past its last byte, counted from the end of the header.</param>
public sealed record SafeTensorsEntry(string Name, SafeTensorsDType DType, int[] Shape, long Begin, long End)
{
    /// <summary>Number of elements.</summary>
    public long NumEl => Layout.Count(Shape);

    /// <summary>Number of bytes of data.</summary>
    public long ByteLength => End - Begin;
}

/// <summary>
/// The header of a safetensors file: an 8-byte little-endian length N, then N bytes of UTF-8 JSON
/// mapping each tensor name to its dtype, shape and <c>data_offsets</c> (relative to the end of the
/// header), plus an optional <c>__metadata__</c> map of strings. The data follows, tensor after tensor
/// with no gaps and nothing after the last one.
/// </summary>
public sealed class SafeTensorsHeader
{
    /// <summary>The key of the metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>The largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderLength = 100L << 20;

    internal SafeTensorsHeader(IReadOnlyList<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string> metadata, long headerLength)
    {
        Entries = entries;
        Metadata = metadata;
        HeaderLength = headerLength;
        DataLength = entries.Count == 0 ? 0 : entries.Max(e => e.End);
    }

    /// <summary>The tensors, in the order the header lists them.</summary>
    public IReadOnlyList<SafeTensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>N, the length of the JSON header in bytes, padding included.</summary>
    public long HeaderLength { get; }

    /// <summary>Where the data starts in the file: 8 + N.</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>Bytes of tensor data the header describes.</summary>
    public long DataLength { get; }

    /// <summary>Checks the 8-byte length prefix; <paramref name="fileLength"/> is null when unknown (a stream that cannot seek).</summary>
    internal static long ParseLength(ReadOnlySpan<byte> prefix, long? fileLength, string source)
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderLength)
            throw new SafeTensorsException(source, $"the header length {n} is larger than the {MaxHeaderLength} bytes allowed; this is not a safetensors file or its first 8 bytes are corrupted.");
        if (n < 2)
            throw new SafeTensorsException(source, $"the header length is {n}; a header holds at least the JSON object '{{}}'.");
        if (fileLength is { } length && 8 + (long)n > length)
            throw new SafeTensorsException(source, $"the header length {n} runs past the end of the file ({length} bytes): the file is truncated or is not a safetensors file.");
        return (long)n;
    }

    /// <summary>Parses and checks the JSON header (everything except the offsets against the file's length).</summary>
    internal static SafeTensorsHeader Parse(ReadOnlySpan<byte> json, string source)
    {
        if (json.Length == 0 || json[0] != (byte)'{')
            throw new SafeTensorsException(source, "the header does not start with '{': this is not a safetensors file.");
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new SafeTensorsException(source, "the header is not valid UTF-8.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new SafeTensorsException(source, $"the header is not valid JSON ({e.Message}).", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsException(source, $"the header is a JSON {doc.RootElement.ValueKind}, not an object.");
            var entries = new List<SafeTensorsEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata) throw new SafeTensorsException(source, $"the header has two '{MetadataKey}' entries.");
                    sawMetadata = true;
                    ParseMetadata(property.Value, metadata, source);
                    continue;
                }
                if (!seen.Add(property.Name))
                    throw new SafeTensorsException(source, $"the header lists tensor '{property.Name}' twice.");
                entries.Add(ParseEntry(property.Name, property.Value, source));
            }
            return new SafeTensorsHeader(entries, metadata, json.Length);
        }
    }

    private static void ParseMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsException(source, $"'{MetadataKey}' must be an object of strings, not a JSON {value.ValueKind}.");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new SafeTensorsException(source, $"'{MetadataKey}' entry '{item.Name}' is a JSON {item.Value.ValueKind}; metadata values must be strings.");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw new SafeTensorsException(source, $"'{MetadataKey}' has the key '{item.Name}' twice.");
        }
    }

    private static SafeTensorsEntry ParseEntry(string name, JsonElement value, string source)
    {
        SafeTensorsException Bad(string what) => new(source, $"tensor '{name}': {what}");
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad($"expected an object with dtype, shape and data_offsets, got a JSON {value.ValueKind}.");
        if (!value.TryGetProperty("dtype", out var dtypeValue) || dtypeValue.ValueKind != JsonValueKind.String)
            throw Bad("'dtype' is missing or is not a string.");
        var dtypeName = dtypeValue.GetString()!;
        if (!SafeTensorsDTypeInfo.TryParse(dtypeName, out var dtype))
            throw Bad($"unknown dtype '{dtypeName}' (the format defines {SafeTensorsDTypeInfo.KnownNames}).");

        if (!value.TryGetProperty("shape", out var shapeValue) || shapeValue.ValueKind != JsonValueKind.Array)
            throw Bad("'shape' is missing or is not an array.");
        var shape = new int[shapeValue.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeValue.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long size) || size < 0)
                throw Bad($"'shape' must hold non-negative integers, got {shapeValue.GetRawText()}.");
            if (size > int.MaxValue)
                throw Bad($"dimension {size} in shape {shapeValue.GetRawText()} is larger than this engine supports ({int.MaxValue}).");
            shape[i++] = (int)size;
        }

        if (!value.TryGetProperty("data_offsets", out var offsetsValue) || offsetsValue.ValueKind != JsonValueKind.Array || offsetsValue.GetArrayLength() != 2)
            throw Bad("'data_offsets' is missing or is not an array [begin, end].");
        var begin = offsetsValue[0];
        var end = offsetsValue[1];
        if (!begin.TryGetInt64(out long b) || !end.TryGetInt64(out long e) || b < 0 || e < 0)
            throw Bad($"'data_offsets' must be two non-negative integers, got {offsetsValue.GetRawText()}.");
        if (e < b)
            throw Bad($"data_offsets [{b}, {e}] end before they begin.");

        long expected = dtype.SizeOf();
        try
        {
            foreach (var d in shape) expected = checked(expected * d);
        }
        catch (OverflowException)
        {
            throw Bad($"shape {Layout.Format(shape)} is too large to address.");
        }
        if (e - b != expected)
            throw Bad($"shape {Layout.Format(shape)} of {dtype} needs {expected} bytes but data_offsets [{b}, {e}] span {e - b}.");
        return new SafeTensorsEntry(name, dtype, shape, b, e);
    }

    /// <summary>
    /// The entries sorted by position, after checking that they tile the data exactly: no overlap, no
    /// gap, nothing past <paramref name="dataLength"/> (when known) and nothing after the last tensor.
    /// </summary>
    internal IReadOnlyList<SafeTensorsEntry> CheckLayout(long? dataLength, string source)
    {
        var sorted = Entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long expected = 0;
        SafeTensorsEntry? previous = null;
        foreach (var e in sorted)
        {
            if (e.Begin < expected)
                throw new SafeTensorsException(source, $"tensor '{e.Name}' (data_offsets [{e.Begin}, {e.End}]) overlaps tensor '{previous!.Name}' (data_offsets [{previous.Begin}, {previous.End}]).");
            if (e.Begin > expected)
                throw new SafeTensorsException(source, $"no tensor covers bytes [{expected}, {e.Begin}) of the data, before tensor '{e.Name}'; the format allows no gaps.");
            if (dataLength is { } available && e.End > available)
                throw new SafeTensorsException(source, $"tensor '{e.Name}' (data_offsets [{e.Begin}, {e.End}]) runs past the end of the data: only {available} bytes follow the header, the file is truncated.");
            expected = e.End;
            previous = e;
        }
        if (dataLength is { } length && length > expected)
            throw new SafeTensorsException(source, $"{length} bytes of data follow the header but its tensors cover only {expected}: the file has {length - expected} trailing bytes.");
        return sorted;
    }

    /// <summary>
    /// The header bytes for <paramref name="entries"/> and <paramref name="metadata"/>: compact JSON with
    /// <c>__metadata__</c> first and the tensors in the given order, padded with spaces to a multiple of
    /// 8 bytes as the reference writer does, so the data that follows starts 8-byte aligned.
    /// </summary>
    internal static byte[] Build(IReadOnlyList<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.ToString());
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(e.Begin);
                w.WriteNumberValue(e.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int length = (int)buffer.Length;
        int padded = (length + 7) / 8 * 8;
        var bytes = new byte[padded];
        buffer.GetBuffer().AsSpan(0, length).CopyTo(bytes);
        bytes.AsSpan(length).Fill((byte)' ');
        return bytes;
    }
}
