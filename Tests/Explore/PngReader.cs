using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Engine.Tests.Explore;

/// <summary>
/// A strict reader for the PNG files the explore tools write (8-bit grey or RGB, not interlaced), written
/// independently of the encoder: it checks the signature, every chunk's CRC (bit by bit, not by table), the
/// chunk order, and that the pixel data inflates to exactly the rows the header promises; then undoes all
/// five filter types.
/// </summary>
internal static class PngReader
{
    public sealed record Image(int Width, int Height, int Channels, byte[] Samples, IReadOnlyList<string> Chunks)
    {
        public (byte R, byte G, byte B) Pixel(int x, int y)
        {
            int i = (y * Width + x) * Channels;
            return Channels == 1 ? (Samples[i], Samples[i], Samples[i]) : (Samples[i], Samples[i + 1], Samples[i + 2]);
        }
    }

    public static Image Read(string path) => Decode(File.ReadAllBytes(path));

    public static Image Decode(byte[] file)
    {
        byte[] signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        if (file.Length < 8 || !file.AsSpan(0, 8).SequenceEqual(signature)) throw new InvalidDataException("not a PNG signature");
        int pos = 8, width = 0, height = 0, channels = 0;
        var chunks = new List<string>();
        using var idat = new MemoryStream();
        while (pos < file.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
            string type = Encoding.ASCII.GetString(file, pos + 4, 4);
            var data = file.AsSpan(pos + 8, length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(pos + 8 + length));
            uint actual = BitwiseCrc(file.AsSpan(pos + 4, 4 + length));
            if (stored != actual) throw new InvalidDataException($"chunk {type}: CRC {stored:X8}, computed {actual:X8}");
            chunks.Add(type);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                if (data[8] != 8 || data[10] != 0 || data[11] != 0 || data[12] != 0) throw new InvalidDataException("unsupported IHDR");
                channels = data[9] switch { 0 => 1, 2 => 3, _ => throw new InvalidDataException($"colour type {data[9]}") };
            }
            else if (type == "IDAT") idat.Write(data);
            pos += 12 + length;
        }
        if (chunks.Count < 3 || chunks[0] != "IHDR" || chunks[^1] != "IEND") throw new InvalidDataException("chunk order: " + string.Join(",", chunks));

        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        int stride = width * channels;
        var bytes = raw.ToArray();
        if (bytes.Length != (stride + 1) * height) throw new InvalidDataException($"inflated {bytes.Length} bytes, expected {(stride + 1) * height}");
        var samples = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            int filter = bytes[y * (stride + 1)];
            for (int i = 0; i < stride; i++)
            {
                int x = bytes[y * (stride + 1) + 1 + i];
                int a = i >= channels ? samples[y * stride + i - channels] : 0;
                int b = y > 0 ? samples[(y - 1) * stride + i] : 0;
                int c = i >= channels && y > 0 ? samples[(y - 1) * stride + i - channels] : 0;
                samples[y * stride + i] = (byte)(filter switch
                {
                    0 => x,
                    1 => x + a,
                    2 => x + b,
                    3 => x + (a + b) / 2,
                    4 => x + Paeth(a, b, c),
                    _ => throw new InvalidDataException($"filter {filter}"),
                });
            }
        }
        return new Image(width, height, channels, samples, chunks);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static uint BitwiseCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte d in data)
        {
            crc ^= d;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }
}
