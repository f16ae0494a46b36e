using System.Buffers.Binary;
using System.IO.Compression;

namespace Engine.Tests.Models;

/// <summary>A temporary folder, deleted with its content on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("engine-data-tests-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Builds data files byte by byte, independently of the code under test.</summary>
internal static class DataFiles
{
    /// <summary>An IDX file: 0, 0, 0x08, ndims, big-endian sizes, data.</summary>
    public static byte[] Idx(int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = 0x08;
        bytes[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest)) gz.Write(data);
        return output.ToArray();
    }

    /// <summary>Pixel j of image i: (7 i + j) mod 256, so every image differs.</summary>
    public static byte[] Pattern(int images, int pixelsPerImage)
    {
        var data = new byte[images * pixelsPerImage];
        for (int i = 0; i < images; i++)
            for (int j = 0; j < pixelsPerImage; j++) data[i * pixelsPerImage + j] = (byte)((7 * i + j) % 256);
        return data;
    }
}
