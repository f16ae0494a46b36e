using System.Buffers.Binary;
using System.IO.Compression;

namespace Engine.Models.Data;

/// <summary>An unsigned-byte array read from an IDX file: its dimensions and its data in row-major order.</summary>
public sealed record IdxArray(int[] Dims, byte[] Data);

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST (yann.lecun.com/exdb/mnist): a 4-byte magic number
/// (two zero bytes, the element type, the number of dimensions), one big-endian 32-bit size per
/// dimension, then the data. Only unsigned bytes (type 0x08) are supported, which is all those sets use.
/// Files may be gzipped; the gzip header is recognised by its bytes, not by the file name.
/// </summary>
public static class IdxFile
{
    /// <summary>The IDX element type code of unsigned bytes.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>Reads <paramref name="path"/>, gzipped or not, checking that it holds <paramref name="expectedDims"/> dimensions.</summary>
    public static IdxArray Read(string path, int expectedDims)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"{path}: file not found.", path); }
        return Parse(bytes, Path.GetFileName(path), expectedDims);
    }

    /// <summary>Reads an IDX array from <paramref name="stream"/>, gzipped or not; <paramref name="name"/> names it in errors.</summary>
    public static IdxArray Read(Stream stream, string name, int expectedDims)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray(), name, expectedDims);
    }

    /// <summary>Parses the bytes of an IDX file, gzipped or not.</summary>
    public static IdxArray Parse(byte[] bytes, string name, int expectedDims)
    {
        if (bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) bytes = Gunzip(bytes, name);
        if (bytes.Length < 4)
            throw new InvalidDataException($"{name}: {bytes.Length} bytes is too short for an IDX header (4-byte magic number).");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        uint expectedMagic = (uint)(UnsignedByte << 8 | expectedDims);
        if (magic != expectedMagic)
            throw new InvalidDataException($"{name}: bad magic number 0x{magic:X8}; expected 0x{expectedMagic:X8} "
                + $"(unsigned bytes in {expectedDims} dimension{(expectedDims == 1 ? "" : "s")}: {(expectedDims == 1 ? "a labels file" : "an images file")}).");
        int headerBytes = 4 + 4 * expectedDims;
        if (bytes.Length < headerBytes)
            throw new InvalidDataException($"{name}: truncated header: {expectedDims} dimension sizes need {headerBytes} bytes, the file has {bytes.Length}.");
        var dims = new int[expectedDims];
        long count = 1;
        for (int d = 0; d < expectedDims; d++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (size > int.MaxValue)
                throw new InvalidDataException($"{name}: dimension {d} has an impossible size {size}.");
            dims[d] = (int)size;
            count *= size;
        }
        long available = bytes.Length - headerBytes;
        if (count != available)
            throw new InvalidDataException(available < count
                ? $"{name}: truncated: the header promises {string.Join(" x ", dims)} = {count} bytes of data, but only {available} follow."
                : $"{name}: {available - count} unexpected bytes after the {string.Join(" x ", dims)} = {count} bytes of data the header promises.");
        return new IdxArray(dims, bytes.AsSpan(headerBytes).ToArray());
    }

    private static byte[] Gunzip(byte[] bytes, string name)
    {
        try
        {
            using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gz.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{name}: damaged gzip data ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Writes an unsigned-byte IDX file; gzipped when <paramref name="path"/> ends in ".gz". The file appears
    /// complete or not at all: it is written under a temporary name and then renamed.
    /// </summary>
    public static void Write(string path, int[] dims, ReadOnlySpan<byte> data)
    {
        long count = 1;
        foreach (int d in dims) count *= d;
        if (count != data.Length)
            throw new ArgumentException($"{Path.GetFileName(path)}: {data.Length} bytes cannot fill dimensions {string.Join(" x ", dims)} ({count} bytes).");
        var header = new byte[4 + 4 * dims.Length];
        header[2] = UnsignedByte;
        header[3] = checked((byte)dims.Length);
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * d), dims[d]);

        // A unique temporary name, so that two processes filling the same cache cannot interleave their writes.
        string temporary = $"{path}.{Guid.NewGuid():N}.partial";
        using (var file = File.Create(temporary))
        using (Stream output = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionLevel.Optimal) : file)
        {
            output.Write(header);
            output.Write(data);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
