using StbImageSharp;

namespace Engine.Models.Data.Images;

/// <summary>
/// An 8-bit image as decoded from a file: rows top to bottom, <see cref="Channels"/> interleaved bytes per
/// pixel (HWC, the layout of image files and of PIL).
/// </summary>
public sealed record HwcImage(byte[] Pixels, int Height, int Width, int Channels)
{
    /// <summary>The pixels as floats in [0, 1] in CHW order (value / 255, as torchvision's <c>ToTensor</c>).</summary>
    public ChwImage ToChw() => Data.ToTensor.FromHwcBytes(Pixels, Height, Width, Channels);

    /// <summary>The pixels as a float32 tensor of shape [C, H, W] with values in [0, 1].</summary>
    public Tensor ToTensor() { var chw = ToChw(); return Tensor.FromArray(chw.Pixels, [Channels, Height, Width]); }
}

/// <summary>
/// Reads image files with a pure managed decoder (StbImageSharp, a port of stb_image): JPEG (baseline and
/// progressive), PNG (1 to 16 bits; grey, palette, RGB, with or without alpha), BMP, TGA, GIF (first frame) and
/// PSD; and PGM/PPM (P2, P3, P5, P6) with the engine's own small reader. Images come out as RGB, as torchvision's default loader (<c>Image.open(f).convert("RGB")</c>) gives them:
/// grey is repeated over the three channels, alpha is dropped (not composited), 16-bit samples keep their high
/// byte. PIL differs on 16-bit grey PNGs, whose values it clips to 255 instead of scaling.
/// </summary>
public static class ImageFile
{
    /// <summary>
    /// The extensions torchvision's <c>ImageFolder</c> accepts (<c>IMG_EXTENSIONS</c>), compared case-insensitively.
    /// The decoders read the formats of .jpg, .jpeg, .png, .bmp, .ppm and .pgm; .tif, .tiff and .webp files are
    /// found like the others and then reported as formats they cannot decode.
    /// </summary>
    public static IReadOnlyList<string> Extensions { get; } = [".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"];

    /// <summary>Whether <paramref name="path"/> ends with one of <see cref="Extensions"/> (any case), as torchvision's <c>has_file_allowed_extension</c>.</summary>
    public static bool HasImageExtension(string path) =>
        Extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>Decodes the file at <paramref name="path"/> to RGB bytes; an unreadable file gives an <see cref="InvalidDataException"/> naming it.</summary>
    public static HwcImage Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"image: cannot read {path}: {e.Message}", e);
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes the file at <paramref name="path"/> to a float32 tensor [3, H, W] in [0, 1].</summary>
    public static Tensor ReadTensor(string path) => Read(path).ToTensor();

    /// <summary>
    /// Decodes <paramref name="bytes"/> (a whole file) to RGB bytes. <paramref name="name"/> names the source in
    /// errors (a path, usually): a format the decoder does not read, or a damaged file, gives an
    /// <see cref="InvalidDataException"/> that names it and says why.
    /// </summary>
    public static HwcImage Decode(byte[] bytes, string name = "<bytes>")
    {
        if (Probe(bytes, name) is { } why) throw new InvalidDataException(why);
        if (Pnm.Recognises(bytes)) return Pnm.Decode(bytes, name);
        ImageResult result;
        try { result = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"image: cannot decode {name}: {e.Message}", e);
        }
        if (result?.Data is null || result.Width <= 0 || result.Height <= 0 || result.Data.Length != (long)result.Width * result.Height * 3)
            throw new InvalidDataException($"image: cannot decode {name}: the decoder returned no pixels.");
        return new HwcImage(result.Data, result.Height, result.Width, 3);
    }

    /// <summary>
    /// Reads only the header of the file at <paramref name="path"/>: null when the decoder recognises the
    /// format and the size, else why not (a sentence naming the file). Used to vet a folder of images cheaply.
    /// </summary>
    public static string? Check(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var head = new byte[Math.Min(stream.Length, 1 << 16)];
            stream.ReadExactly(head);
            return Probe(head, path, stream.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"image: cannot read {path}: {e.Message}";
        }
    }

    private static string? Probe(byte[] head, string name, long? length = null)
    {
        if ((length ?? head.Length) == 0) return $"image: {name} is empty.";
        if (Pnm.Recognises(head))
            return Pnm.Header(head, out var why) is null ? $"image: cannot decode {name}: {why}." : null;
        long fileLength = length ?? head.Length;
        if (JpegSegments.Check(head, name, fileLength, out bool jpeg, out bool frame, out bool complete) is { } damaged) return damaged;
        if (jpeg)
            return frame || !complete ? null
                : $"image: cannot decode {name}: a JPEG without a frame header (SOFn) giving its size; the file is damaged.";
        ImageInfo? info;
        try { info = ImageInfo.FromStream(new MemoryStream(head, writable: false)); }
        catch (Exception e) when (e is not OutOfMemoryException) { info = null; }
        if (info is { Width: > 0, Height: > 0 }) return null;
        return $"image: cannot decode {name}: {DescribeFormat(head)} is not a format the decoders read (JPEG, PNG, BMP, PGM/PPM, TGA, GIF, PSD), or the file is damaged.";
    }

    /// <summary>A name for the format that <paramref name="head"/>'s magic bytes announce.</summary>
    private static string DescribeFormat(ReadOnlySpan<byte> head) => head switch
    {
        [0xFF, 0xD8, ..] => "a JPEG",
        [0x89, (byte)'P', (byte)'N', (byte)'G', ..] => "a PNG",
        [(byte)'B', (byte)'M', ..] => "a BMP",
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => "WebP",
        [(byte)'I', (byte)'I', 42, 0, ..] or [(byte)'M', (byte)'M', 0, 42, ..] => "TIFF",
        [(byte)'P', >= (byte)'1' and <= (byte)'7', ..] => "PNM (PPM/PGM)",
        _ => "its content",
    };
}
