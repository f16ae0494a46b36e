using StbImageSharp;

namespace Engine.Samples.Cli.Predict;

/// <summary>
/// Decodes image files (PNG, JPEG, BMP, ...) with StbImageSharp into CHW float pixels in [0, 1]
/// (8-bit values / 255, as ToTensor). Kept in the command line for <c>predict</c> alone.
/// </summary>
internal static class ImageFiles
{
    /// <summary>Decodes <paramref name="path"/> as <paramref name="channels"/> channels (1: grey, 3: RGB); errors name the file.</summary>
    public static Engine.Models.Data.ChwImage Decode(string path, int channels)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "predict: images are decoded as 1 or 3 channels.");
        ImageResult image;
        try
        {
            image = ImageResult.FromMemory(File.ReadAllBytes(path), channels == 1 ? ColorComponents.Grey : ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NullReferenceException)
        {
            throw new InvalidDataException($"predict: '{path}' is not an image this decoder reads ({e.Message}).", e);
        }
        int h = image.Height, w = image.Width;
        var pixels = new float[channels * h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < channels; c++)
                    pixels[(c * h + y) * w + x] = image.Data[(y * w + x) * channels + c] / 255f;
        return new Engine.Models.Data.ChwImage(pixels, new Engine.Models.Data.ImageShape(channels, h, w));
    }
}
