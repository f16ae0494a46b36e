namespace Engine.Models.Data;

/// <summary>
/// Bilinear resizing as PIL's <c>Image.resize(size, Image.BILINEAR)</c> computes it, which is what torchvision's
/// transforms use on PIL images: a separable triangle filter whose support grows with the scale factor when
/// shrinking (so a downscale averages every source pixel it covers, an antialiased resize) and is one pixel
/// when enlarging; each output pixel's weights are normalised to sum to one, and the source is clamped at the
/// edges. The horizontal pass runs first, then the vertical. PIL rounds the 8-bit result of each pass; this
/// works in float, so results differ from PIL's by up to about one level (1/255) per pass.
/// </summary>
public static class PilResample
{
    /// <summary>Resizes every channel of <paramref name="image"/> to <paramref name="height"/> x <paramref name="width"/>.</summary>
    public static ChwImage Bilinear(ChwImage image, int height, int width)
    {
        var (channels, srcH, srcW) = (image.Shape.Channels, image.Shape.Height, image.Shape.Width);
        if (height <= 0 || width <= 0) throw new ArgumentOutOfRangeException(nameof(height), $"resize: the output size must be positive, got {height}x{width}.");
        if (srcH <= 0 || srcW <= 0) throw new ArgumentException($"resize: cannot resize an empty {image.Shape} image.");
        if (height == srcH && width == srcW) return image;

        var horizontal = Coefficients(srcW, width);
        var vertical = Coefficients(srcH, height);
        var mid = new float[channels * srcH * width];
        var src = image.Pixels;
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < srcH; y++)
            {
                int row = (c * srcH + y) * srcW, outRow = (c * srcH + y) * width;
                for (int x = 0; x < width; x++)
                {
                    var (first, weights) = horizontal[x];
                    double sum = 0;
                    for (int k = 0; k < weights.Length; k++) sum += weights[k] * src[row + first + k];
                    mid[outRow + x] = (float)sum;
                }
            }
        var dst = new float[channels * height * width];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
            {
                var (first, weights) = vertical[y];
                int outRow = (c * height + y) * width;
                for (int x = 0; x < width; x++)
                {
                    double sum = 0;
                    for (int k = 0; k < weights.Length; k++) sum += weights[k] * mid[(c * srcH + first + k) * width + x];
                    dst[outRow + x] = (float)sum;
                }
            }
        return new ChwImage(dst, channels, height, width);
    }

    /// <summary>
    /// For each output position, the first source index and the weights of the source pixels from there, as PIL's
    /// <c>precompute_coeffs</c> with the bilinear filter (support 1): the filter is stretched by the scale when
    /// shrinking, centred on the output pixel's centre mapped into the source.
    /// </summary>
    internal static (int First, double[] Weights)[] Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterScale * 1.0;
        var result = new (int, double[])[outSize];
        for (int i = 0; i < outSize; i++)
        {
            double center = (i + 0.5) * scale;
            // C's (int) truncates towards zero, as PIL's code does.
            int first = Math.Max(0, (int)(center - support + 0.5));
            int last = Math.Min(inSize, (int)(center + support + 0.5));
            var w = new double[last - first];
            double total = 0;
            for (int k = 0; k < w.Length; k++)
            {
                double t = Math.Abs((k + first - center + 0.5) / filterScale);
                w[k] = t < 1 ? 1 - t : 0;
                total += w[k];
            }
            if (total != 0)
                for (int k = 0; k < w.Length; k++) w[k] /= total;
            result[i] = (first, w);
        }
        return result;
    }
}
