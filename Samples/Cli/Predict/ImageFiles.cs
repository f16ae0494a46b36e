using Engine.Models.Data;
using Engine.Models.Data.Images;

namespace Engine.Samples.Cli.Predict;

/// <summary>
/// The images <c>predict</c> reads, decoded by the data library's <see cref="ImageFile"/> (the decoder the image
/// folders use), as CHW float pixels in [0, 1] (8-bit values / 255, as ToTensor).
/// </summary>
internal static class ImageFiles
{
    /// <summary>
    /// Decodes <paramref name="path"/> as <paramref name="channels"/> channels (1: grey, 3: RGB); errors name the file.
    /// Grey is PIL's "L" conversion (ITU-R 601-2 luma, rounded), which leaves a grey source's values unchanged.
    /// </summary>
    public static ChwImage Decode(string path, int channels)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "predict: images are decoded as 1 or 3 channels.");
        var rgb = ImageFile.Read(path);
        if (channels == 3) return rgb.ToChw();
        int h = rgb.Height, w = rgb.Width;
        var pixels = new float[h * w];
        for (int i = 0; i < h * w; i++)
        {
            int r = rgb.Pixels[3 * i], g = rgb.Pixels[3 * i + 1], b = rgb.Pixels[3 * i + 2];
            pixels[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000 >> 16) / 255f;
        }
        return new ChwImage(pixels, new ImageShape(1, h, w));
    }
}
