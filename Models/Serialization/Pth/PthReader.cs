using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using Razorvine.Pickle;

namespace Engine.Models.Serialization.Pth;

/// <summary>
/// Reads PyTorch checkpoints written by <c>torch.save</c>: the zip format (PyTorch 1.6 and later: an archive
/// with <c>PREFIX/data.pkl</c> and one stored entry <c>PREFIX/data/KEY</c> per storage) and the legacy format
/// (a magic-number pickle, the protocol version, the system information, the object pickle, the list of
/// storage keys, then each storage as an element count and raw bytes). Pickles are read with Razorvine.Pickle
/// after <see cref="PickleScanner"/> has checked that they name only the globals a state dict needs; every size
/// they claim is checked against the file before memory is allocated.
/// </summary>
public static class PthReader
{
    private const int ZipMagic = 0x04034b50;
    private const int MaxPickleBytes = 1 << 30;
    private static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356"); // 0x1950a86a20f9469cfc6c
    private const int LegacyProtocol = 1001;

    /// <summary>
    /// Reads the state dict in the checkpoint at <paramref name="path"/>: the top-level dict when its values are all
    /// tensors, else the dict under <paramref name="entry"/> when given, else under the first of
    /// <see cref="PthFile.NestingKeys"/> found (as official checkpoints nest it); a <c>module.</c> prefix shared by
    /// every key (a model saved through DataParallel) is removed.
    /// </summary>
    public static PthFile Read(string path, string? entry = null)
    {
        using var stream = OpenRead(path);
        return Read(stream, path, entry);
    }

    /// <summary>Reads a checkpoint from a seekable <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static PthFile Read(Stream stream, string name, string? entry = null)
    {
        if (!stream.CanSeek) throw new ArgumentException($"PthReader: the stream for '{name}' must be seekable.", nameof(stream));
        try
        {
            Span<byte> head = stackalloc byte[4];
            long start = stream.Position;
            int got = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            stream.Position = start;
            if (got < 2) throw new PthException(name, $"the file is {got} bytes long: it is empty or truncated.");
            if (got == 4 && BinaryPrimitives.ReadInt32LittleEndian(head) == ZipMagic) return ReadZip(stream, name, entry);
            if (head[0] == 0x80) return ReadLegacy(stream, name, entry);
            throw new PthException(name, "it is neither a zip archive (torch.save since PyTorch 1.6) nor a legacy pickle checkpoint.");
        }
        catch (PickleException e)
        {
            throw new PthException(name, $"the pickle does not describe a state dict: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new PthException(name, $"the zip archive is corrupted ({e.Message}).", e);
        }
        // Razorvine's unpickler assumes well-formed opcodes; on corrupted ones it fails with these (the scanner has
        // already bounded every length, so nothing is allocated beyond the file's size).
        catch (Exception e) when (e is InvalidCastException or InvalidOperationException or KeyNotFoundException or FormatException
                                      or IndexOutOfRangeException or ArgumentException or NullReferenceException or OverflowException)
        {
            throw new PthException(name, $"the pickle is malformed ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);

    private static PthFile ReadZip(Stream stream, string name, string? entry)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new PthException(name, $"the zip archive cannot be opened ({e.Message}): the file is truncated or corrupted.", e);
        }
        using (zip)
        {
            var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToList();
            if (pickles.Count != 1)
                throw new PthException(name, pickles.Count == 0 ? "the zip archive has no PREFIX/data.pkl: it is not a torch.save checkpoint."
                    : $"the zip archive has {pickles.Count} data.pkl records ({string.Join(", ", pickles.Select(p => p.FullName))}).");
            var prefix = pickles[0].FullName[..^"data.pkl".Length];
            if (zip.GetEntry(prefix + "byteorder") is { } order)
            {
                var text = System.Text.Encoding.ASCII.GetString(ReadEntry(order, 16, name, "byteorder"));
                if (text != "little") throw new PthException(name, $"its byte order is '{text}'; only little-endian checkpoints are read.");
            }
            var bytes = ReadEntry(pickles[0], Math.Min(MaxPickleBytes, stream.Length), name, "data.pkl");
            var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
            int length = PickleScanner.Scan(bytes, name, pickles[0].FullName);
            if (length != bytes.Length) throw new PthException(name, $"{pickles[0].FullName}: {bytes.Length - length} bytes follow the pickle's STOP opcode: the file is corrupted.");
            var root = new TorchUnpickler(storages).loads(bytes);
            return Materialize(root, entry, name, "zip", storage =>
            {
                var key = prefix + "data/" + storage.Key;
                var record = zip.GetEntry(key) ?? throw new PthException(name, $"the pickle names storage '{storage.Key}' but the archive has no entry '{key}'.");
                long expected = checked(StorageBytes(storage, name));
                if (record.Length != expected)
                    throw new PthException(name, $"entry '{key}' holds {record.Length} bytes, but the pickle describes {storage.Numel} elements of torch.{storage.Type.Name} ({expected} bytes).");
                return ReadEntry(record, stream.Length, name, key);
            });
        }
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, long limit, string name, string what)
    {
        if (entry.Length > limit || entry.Length > Array.MaxLength)
            throw new PthException(name, $"entry '{entry.FullName}' claims {entry.Length} bytes, more than the file or this reader allows ({Math.Min(limit, Array.MaxLength)}).");
        var bytes = new byte[entry.Length];
        try
        {
            using var s = entry.Open();
            int got = s.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (got < bytes.Length) throw new PthException(name, $"{what}: the entry ends after {got} of its {bytes.Length} bytes: the file is truncated.");
        }
        catch (InvalidDataException e)
        {
            throw new PthException(name, $"{what}: the zip entry cannot be read ({e.Message}): the file is corrupted.", e);
        }
        return bytes;
    }

    private static long StorageBytes(StorageRef storage, string name)
    {
        try
        {
            return checked(storage.Numel * storage.Type.DType.SizeOf());
        }
        catch (OverflowException)
        {
            throw new PthException(name, $"storage '{storage.Key}' claims {storage.Numel} elements: too many.");
        }
    }

    private static PthFile ReadLegacy(Stream stream, string name, string? entry)
    {
        long fileEnd = stream.Length;
        var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        object Next(string what) => new TorchUnpickler(storages).loads(NextPickle(stream, fileEnd, name, what));
        if (Next("the magic number") is not BigInteger magic || magic != LegacyMagic)
            throw new PthException(name, "the first pickle is not PyTorch's magic number: this is not a PyTorch checkpoint.");
        if (Next("the protocol version") is not int protocol || protocol != LegacyProtocol)
            throw new PthException(name, $"the legacy protocol version is not {LegacyProtocol}.");
        if (Next("the system information") is System.Collections.IDictionary info && info["little_endian"] is false)
            throw new PthException(name, "it was written on a big-endian machine; only little-endian checkpoints are read.");
        var root = Next("the object pickle");
        if (Next("the list of storage keys") is not System.Collections.IList keys || keys.Cast<object>().Any(k => k is not string))
            throw new PthException(name, "the list of storage keys is not a list of strings.");

        // The storages follow in the order of the list: an 8-byte element count, then the elements.
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        Span<byte> count = stackalloc byte[8];
        foreach (string key in keys)
        {
            var storage = storages.Values.FirstOrDefault(s => s.Key == key && s.Root is null)
                ?? throw new PthException(name, $"the storage list names '{key}', which no tensor uses.");
            if (stream.ReadAtLeast(count, 8, throwOnEndOfStream: false) < 8)
                throw new PthException(name, $"the file ends before storage '{key}': it is truncated.");
            long numel = BinaryPrimitives.ReadInt64LittleEndian(count);
            if (numel != storage.Numel)
                throw new PthException(name, $"storage '{key}' is recorded with {numel} elements, but the pickle says {storage.Numel}: the file is corrupted.");
            long bytes = StorageBytes(storage, name);
            if (bytes > fileEnd - stream.Position)
                throw new PthException(name, $"storage '{key}' needs {bytes} bytes but only {fileEnd - stream.Position} remain: the file is truncated.");
            offsets[key] = stream.Position;
            stream.Position += bytes;
        }
        return Materialize(root, entry, name, "legacy", storage =>
        {
            if (!offsets.TryGetValue(storage.Key, out var at))
                throw new PthException(name, $"storage '{storage.Key}' is used by a tensor but missing from the storage list.");
            long bytes = StorageBytes(storage, name);
            if (bytes > Array.MaxLength) throw new PthException(name, $"storage '{storage.Key}' has {bytes} bytes, more than this reader reads at once.");
            var data = new byte[bytes];
            stream.Position = at;
            stream.ReadExactly(data);
            return data;
        });
    }

    /// <summary>Reads the next whole pickle from <paramref name="stream"/> (growing a window until the scanner finds STOP).</summary>
    private static byte[] NextPickle(Stream stream, long fileEnd, string name, string what)
    {
        long start = stream.Position;
        for (long window = 1 << 16; ; window *= 4)
        {
            long available = fileEnd - start;
            if (available > MaxPickleBytes) available = MaxPickleBytes;
            int size = (int)Math.Min(window, available);
            var buffer = new byte[size];
            stream.Position = start;
            stream.ReadExactly(buffer);
            bool final = size == available;
            int length = PickleScanner.Scan(buffer, name, what, final);
            if (length >= 0)
            {
                stream.Position = start + length;
                return length == size ? buffer : buffer[..length];
            }
        }
    }

    private static PthFile Materialize(object root, string? entry, string name, string format, Func<StorageRef, byte[]> readStorage)
    {
        var (state, path) = StateDictFinder.Find(root, entry, name);
        var stripped = StateDictFinder.StripModulePrefix(state);
        var cache = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var tensors = new List<KeyValuePair<string, Tensor>>(stripped.Count);
        try
        {
            foreach (var (key, t) in stripped)
            {
                if (TensorMaterializer.Check(t) is { } problem)
                    throw new PthException(name, $"tensor '{key}' ({t.Storage.Type.Name} storage '{t.Storage.Key}'): {problem}.");
                // A legacy view's elements are read from its root storage's bytes, shared by every tensor on that root.
                if (!cache.TryGetValue(t.Storage.Key, out var bytes)) cache[t.Storage.Key] = bytes = readStorage(t.Storage.Stored);
                tensors.Add(KeyValuePair.Create(key, TensorMaterializer.Build(t, bytes, p => new PthException(name, $"tensor '{key}': {p}"))));
            }
        }
        catch
        {
            foreach (var (_, t) in tensors) t.Dispose();
            throw;
        }
        return new PthFile(format, path, stripped.Count != state.Count || (stripped.Count > 0 && stripped[0].Key != state[0].Key), tensors);
    }
}
