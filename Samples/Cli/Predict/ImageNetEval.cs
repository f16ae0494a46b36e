using Engine.Models.Data;

namespace Engine.Samples.Cli.Predict;

/// <summary>
/// The ImageNet evaluation preprocessing, minimal: resize the shorter side to size / crop_pct (bilinear, half-pixel
/// centres, no antialiasing), centre-crop size x size, normalise with ImageNet's mean and std. The image-folder
/// work (issue 19, section 1) brings torchvision-exact transforms; this one only serves <c>predict</c> until then.
/// </summary>
internal static class ImageNetEval
{
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f];

    /// <summary>The backbone's evaluation crop fraction (its spec's recipe; 0.875, timm's default, when the spec gives none).</summary>
    public static double CropPct(string model) => model switch
    {
        "affnet" => 256.0 / 288,
        _ when model.StartsWith("dualvit", StringComparison.Ordinal) => 0.96,
        _ => 0.875,
    };

    /// <summary>Resizes, crops and normalises a 3-channel <paramref name="image"/> in [0, 1] to 3 x size x size.</summary>
    public static ChwImage Apply(ChwImage image, int size, double cropPct)
    {
        int h = image.Shape.Height, w = image.Shape.Width;
        int shorter = (int)Math.Floor(size / cropPct);
        var (rh, rw) = h <= w ? (shorter, Math.Max(1, (int)((long)shorter * w / h))) : (Math.Max(1, (int)((long)shorter * h / w)), shorter);
        int top = (rh - size) / 2, left = (rw - size) / 2;
        if (top < 0 || left < 0) throw new ArgumentException($"predict: a {rh}x{rw} resize cannot be cropped to {size}x{size}.");
        var output = new float[3 * size * size];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
            {
                double sy = Math.Clamp((y + top + 0.5) * h / rh - 0.5, 0, h - 1);
                int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
                double fy = sy - y0;
                for (int x = 0; x < size; x++)
                {
                    double sx = Math.Clamp((x + left + 0.5) * w / rw - 0.5, 0, w - 1);
                    int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                    double fx = sx - x0;
                    double v = (1 - fy) * ((1 - fx) * image[c, y0, x0] + fx * image[c, y0, x1]) + fy * ((1 - fx) * image[c, y1, x0] + fx * image[c, y1, x1]);
                    output[(c * size + y) * size + x] = (float)((v - Mean[c]) / Std[c]);
                }
            }
        return new ChwImage(output, new ImageShape(3, size, size));
    }
}
