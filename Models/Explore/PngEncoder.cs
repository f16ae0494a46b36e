using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Engine.Models.Explore;

/// <summary>
/// Writes PNG files (8-bit RGB or greyscale, no interlacing): the signature, IHDR, one zlib-compressed IDAT
/// and IEND, each chunk with its CRC-32. Rows are filtered with the "Up" filter, which suits smooth heat maps;
/// the compression is .NET's zlib.
/// </summary>
public static class PngEncoder
{
    /// <summary>The eight bytes every PNG file starts with.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Encodes <paramref name="image"/> as an RGB PNG.</summary>
    public static byte[] Encode(RgbImage image) => Encode(image.Width, image.Height, image.Pixels, channels: 3);

    /// <summary>
    /// Encodes <paramref name="samples"/> (rows top to bottom, <paramref name="channels"/> bytes per pixel:
    /// 1 for grey, 3 for RGB) as a PNG.
    /// </summary>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> samples, int channels)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"PngEncoder: the size must be positive, got {width}x{height}.");
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), $"PngEncoder: channels must be 1 (grey) or 3 (RGB), got {channels}.");
        int stride = width * channels;
        if (samples.Length != (long)stride * height)
            throw new ArgumentException($"PngEncoder: {samples.Length} samples for a {width}x{height} image with {channels} channels; expected {(long)stride * height}.", nameof(samples));

        using var file = new MemoryStream();
        file.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;                             // bit depth
        header[9] = (byte)(channels == 3 ? 2 : 0); // colour type: truecolour or greyscale
        // header[10..13]: deflate compression, adaptive filtering, no interlace (all 0)
        WriteChunk(file, "IHDR", header);
        WriteChunk(file, "IDAT", Compress(samples, stride, height));
        WriteChunk(file, "IEND", []);
        return file.ToArray();
    }

    /// <summary>Writes <paramref name="image"/> to <paramref name="path"/> as a PNG (via a temporary file, so readers never see half a file).</summary>
    public static void Write(string path, RgbImage image)
    {
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, Encode(image));
        File.Move(tmp, path, overwrite: true);
    }

    private static byte[] Compress(ReadOnlySpan<byte> samples, int stride, int height)
    {
        using var data = new MemoryStream();
        using (var z = new ZLibStream(data, CompressionLevel.Optimal, leaveOpen: true))
        {
            var row = new byte[stride + 1];
            for (int y = 0; y < height; y++)
            {
                var current = samples.Slice(y * stride, stride);
                // Filter type 2 (Up): each byte minus the byte above it (0 above the first row).
                row[0] = (byte)(y == 0 ? 0 : 2);
                if (y == 0) current.CopyTo(row.AsSpan(1));
                else
                {
                    var above = samples.Slice((y - 1) * stride, stride);
                    for (int i = 0; i < stride; i++) row[i + 1] = (byte)(current[i] - above[i]);
                }
                z.Write(row);
            }
        }
        return data.ToArray();
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        s.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        uint crc = Crc32.Update(Crc32.Update(Crc32.Initial, typeBytes), data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Finish(crc));
        s.Write(word);
    }
}

/// <summary>The CRC-32 of PNG and zlib's crc32 (reflected polynomial 0xEDB88320), table-driven.</summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>The register's value before any byte.</summary>
    public const uint Initial = 0xFFFFFFFFu;

    /// <summary>The CRC of <paramref name="data"/> in one call.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(Initial, data));

    /// <summary>Feeds <paramref name="data"/> into the register <paramref name="crc"/>.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>The CRC value of a register (its complement).</summary>
    public static uint Finish(uint crc) => crc ^ 0xFFFFFFFFu;

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
