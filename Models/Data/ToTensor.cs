namespace Engine.Models.Data;

/// <summary>
/// The conversion of byte pixels to floats in [0, 1] (value / 255), as torchvision's <c>ToTensor</c> does for
/// 8-bit images. The datasets apply it in <see cref="IDataset.Get"/>, so pipelines start from [0, 1] floats.
/// </summary>
public static class ToTensor
{
    /// <summary>Converts CHW bytes to a float image of <paramref name="shape"/>.</summary>
    public static ChwImage FromBytes(ReadOnlySpan<byte> pixels, ImageShape shape)
    {
        if (pixels.Length != shape.Size)
            throw new ArgumentException($"to_tensor: {pixels.Length} bytes cannot fill a {shape} image ({shape.Size} pixels).");
        var data = new float[pixels.Length];
        for (int i = 0; i < data.Length; i++) data[i] = pixels[i] / 255f;
        return new ChwImage(data, shape);
    }

    /// <summary>Converts interleaved HWC bytes (the layout of most image files) to a CHW float image.</summary>
    public static ChwImage FromHwcBytes(ReadOnlySpan<byte> pixels, int height, int width, int channels)
    {
        var shape = new ImageShape(channels, height, width);
        if (pixels.Length != shape.Size)
            throw new ArgumentException($"to_tensor: {pixels.Length} bytes cannot fill a {height}x{width}x{channels} (HWC) image ({shape.Size} pixels).");
        var data = new float[pixels.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    data[(c * height + y) * width + x] = pixels[(y * width + x) * channels + c] / 255f;
        return new ChwImage(data, shape);
    }
}
