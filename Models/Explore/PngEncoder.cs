using StbImageWriteSharp;

namespace Engine.Models.Explore;

/// <summary>
/// Writes PNG files (8-bit RGB or greyscale) with StbImageWriteSharp, a managed port of stb_image_write: the
/// libraries stay free of native graphics, and the chunks, their CRC-32 and the row filters are its business.
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
        long expected = (long)width * height * channels;
        if (samples.Length != expected)
            throw new ArgumentException($"PngEncoder: {samples.Length} samples for a {width}x{height} image with {channels} channels; expected {expected}.", nameof(samples));
        using var file = new MemoryStream();
        new ImageWriter().WritePng(samples.ToArray(), width, height, channels == 3 ? ColorComponents.RedGreenBlue : ColorComponents.Grey, file);
        return file.ToArray();
    }

    /// <summary>Writes <paramref name="image"/> to <paramref name="path"/> as a PNG (via a temporary file, so readers never see half a file).</summary>
    public static void Write(string path, RgbImage image)
    {
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, Encode(image));
        File.Move(tmp, path, overwrite: true);
    }
}
