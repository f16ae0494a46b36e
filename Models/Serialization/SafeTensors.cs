using System.Buffers;
using Engine.Autograd;

namespace Engine.Models.Serialization;

/// <summary>How <see cref="SafeTensors.Write(Stream, IEnumerable{KeyValuePair{string, Tensor}}, IReadOnlyDictionary{string, string}?, SafeTensorsWriteOptions?)"/> stores tensors.</summary>
public sealed record SafeTensorsWriteOptions
{
    /// <summary>The type F32 tensors are stored as: F32 (the default), or F16/BF16 to halve the file (rounded to nearest even).</summary>
    public SafeTensorsDType Float32As { get; init; } = SafeTensorsDType.F32;
}

/// <summary>
/// Reads and writes the safetensors format (huggingface/safetensors): an 8-byte little-endian header
/// length, a JSON header, then the raw little-endian data of each tensor. Reading makes one sequential
/// pass over the file and checks everything the header claims against the file before trusting it.
/// </summary>
public static class SafeTensors
{
    private const int ChunkBytes = 1 << 20;

    /// <summary>
    /// Reads every tensor of the file at <paramref name="path"/>. F16, BF16 and F8 become F32, the integer
    /// types I64, BOOL Bool; F32, F64 and I64 are read as stored. Errors name the file and what is wrong.
    /// </summary>
    public static SafeTensorsFile Read(string path)
    {
        using var stream = OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads every tensor from <paramref name="stream"/>, from its current position; <paramref name="name"/> names it in errors.</summary>
    public static SafeTensorsFile Read(Stream stream, string name = "<stream>")
    {
        var header = ReadHeader(stream, name, out long? dataLength);
        var sorted = header.CheckLayout(dataLength, name);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in sorted) tensors.Add(entry.Name, ReadTensor(stream, entry, name));
            if (dataLength is null && stream.ReadByte() >= 0)
                throw new SafeTensorsException(name, $"more data follows the last tensor (the header describes {header.DataLength} bytes of data).");
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return new SafeTensorsFile(header, header.Entries.Select(e => KeyValuePair.Create(e.Name, tensors[e.Name])));
    }

    /// <summary>Reads and checks only the header of the file at <paramref name="path"/> (names, dtypes, shapes, offsets, metadata).</summary>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        var header = ReadHeader(stream, path, out long? dataLength);
        header.CheckLayout(dataLength, path);
        return header;
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);

    private static SafeTensorsHeader ReadHeader(Stream stream, string name, out long? dataLength)
    {
        long? fileLength = stream.CanSeek ? stream.Length - stream.Position : null;
        Span<byte> prefix = stackalloc byte[8];
        int got = stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false);
        if (got < 8)
            throw new SafeTensorsException(name, $"the file is {got} bytes long, too short for the 8-byte header length: it is empty or truncated.");
        long n = SafeTensorsHeader.ParseLength(prefix, fileLength, name);
        var json = new byte[n];
        got = stream.ReadAtLeast(json, json.Length, throwOnEndOfStream: false);
        if (got < n)
            throw new SafeTensorsException(name, $"the file ends {got} bytes into a header of {n} bytes: it is truncated.");
        var header = SafeTensorsHeader.Parse(json, name);
        dataLength = fileLength - 8 - n;
        return header;
    }

    private static unsafe Tensor ReadTensor(Stream stream, SafeTensorsEntry entry, string name)
    {
        var dtype = entry.DType.EngineDType();
        var tensor = Tensor.Empty(entry.Shape, dtype);
        try
        {
            byte* dst = (byte*)((CpuStorage)tensor.Storage).Pointer;
            if (ElementConversion.IsNative(entry.DType))
            {
                ReadExactly(stream, dst, entry.ByteLength, entry, name);
                return tensor;
            }
            int storedSize = entry.DType.SizeOf(), engineSize = dtype.SizeOf();
            long perChunk = ChunkBytes / storedSize;
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            try
            {
                for (long done = 0; done < entry.NumEl; done += perChunk)
                {
                    int count = (int)Math.Min(perChunk, entry.NumEl - done);
                    var chunk = buffer.AsSpan(0, count * storedSize);
                    fixed (byte* b = chunk) ReadExactly(stream, b, chunk.Length, entry, name, done * storedSize);
                    var problem = ElementConversion.Decode(entry.DType, chunk, new Span<byte>(dst + done * engineSize, count * engineSize));
                    if (problem is not null) throw new SafeTensorsException(name, $"tensor '{entry.Name}': {problem}");
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private static unsafe void ReadExactly(Stream stream, byte* dst, long bytes, SafeTensorsEntry entry, string name, long already = 0)
    {
        for (long done = 0; done < bytes;)
        {
            int want = (int)Math.Min(bytes - done, int.MaxValue / 2);
            int got = stream.ReadAtLeast(new Span<byte>(dst + done, want), want, throwOnEndOfStream: false);
            done += got;
            if (got < want)
                throw new SafeTensorsException(name, $"the data ends {already + done} bytes into tensor '{entry.Name}' (data_offsets [{entry.Begin}, {entry.End}]): the file is truncated.");
        }
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> and <paramref name="metadata"/> to <paramref name="path"/>
    /// atomically (a temporary file in the same directory, flushed to disk, then renamed over the target).
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsWriteOptions? options = null)
    {
        var list = tensors.ToList();
        AtomicFile.Write(path, stream => Write(stream, list, metadata, options));
    }

    /// <summary>
    /// Writes the safetensors bytes to <paramref name="stream"/>. Tensors are laid out in the given order,
    /// except that wider element types go first (a stable sort, as the reference writer does) so every
    /// tensor's data is aligned to its element size; the header lists them in the same order.
    /// </summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsWriteOptions? options = null)
    {
        options ??= new SafeTensorsWriteOptions();
        if (options.Float32As is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
            throw new ArgumentException($"safetensors: F32 tensors can be stored as F32, F16 or BF16, not {options.Float32As}.", nameof(options));
        var items = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, t) in items)
        {
            ArgumentNullException.ThrowIfNull(t, key);
            if (key == SafeTensorsHeader.MetadataKey)
                throw new ArgumentException($"safetensors: '{SafeTensorsHeader.MetadataKey}' is reserved for the metadata and cannot name a tensor.");
            if (!names.Add(key)) throw new ArgumentException($"safetensors: tensor '{key}' is given twice.");
            if (t.IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"safetensors: tensor '{key}' {Layout.Format(t.Shape)} was already disposed.");
        }
        if (metadata is not null)
            foreach (var (k, v) in metadata)
                if (v is null) throw new ArgumentException($"safetensors: metadata '{k}' is null; metadata values must be strings.");

        SafeTensorsDType Stored(Tensor t) => t.DType == DType.F32 ? options.Float32As : SafeTensorsDTypeInfo.FromEngine(t.DType);
        var ordered = items.Select((kv, i) => (kv, i, stored: Stored(kv.Value)))
            .OrderByDescending(x => x.stored.SizeOf()).ThenBy(x => x.i).ToList();
        var entries = new List<SafeTensorsEntry>(ordered.Count);
        long offset = 0;
        foreach (var (kv, _, stored) in ordered)
        {
            long bytes = kv.Value.NumEl * stored.SizeOf();
            entries.Add(new SafeTensorsEntry(kv.Key, stored, kv.Value.Shape, offset, offset + bytes));
            offset += bytes;
        }

        var header = SafeTensorsHeader.Build(entries, metadata);
        Span<byte> prefix = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        for (int i = 0; i < ordered.Count; i++) WriteTensor(stream, ordered[i].kv.Value, entries[i].DType);
        stream.Flush();
    }

    private static unsafe void WriteTensor(Stream stream, Tensor tensor, SafeTensorsDType stored)
    {
        using var noGrad = Tape.NoGrad();
        var cpu = tensor.ToDevice(Device.Cpu);
        var contiguous = cpu.Contiguous();
        try
        {
            int engineSize = tensor.DType.SizeOf(), storedSize = stored.SizeOf();
            byte* src = (byte*)((CpuStorage)contiguous.Storage).Pointer + contiguous.Offset * engineSize;
            long count = tensor.NumEl;
            if (stored == SafeTensorsDTypeInfo.FromEngine(tensor.DType))
            {
                for (long done = 0; done < count * engineSize;)
                {
                    int n = (int)Math.Min(count * engineSize - done, ChunkBytes);
                    stream.Write(new ReadOnlySpan<byte>(src + done, n));
                    done += n;
                }
                return;
            }
            long perChunk = ChunkBytes / engineSize;
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            try
            {
                for (long done = 0; done < count; done += perChunk)
                {
                    int n = (int)Math.Min(perChunk, count - done);
                    var chunk = buffer.AsSpan(0, n * storedSize);
                    ElementConversion.Encode(tensor.DType, stored, new ReadOnlySpan<byte>(src + done * engineSize, n * engineSize), chunk);
                    stream.Write(chunk);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            if (!ReferenceEquals(contiguous, cpu)) contiguous.Dispose();
            if (!ReferenceEquals(cpu, tensor)) cpu.Dispose();
        }
    }
}
