namespace Engine.Models.Data;

/// <summary>
/// Resizes as torchvision's <c>Resize(size)</c> with one number: the shorter side becomes <c>Size</c> and the
/// longer keeps the aspect ratio, truncated (<c>int(size * long / short)</c>); bilinear as PIL (see <see cref="PilResample"/>).
/// </summary>
public sealed class Resize(int size) : ITransform
{
    /// <summary>The length of the shorter side after resizing.</summary>
    public int Size { get; } = size > 0 ? size : throw new ArgumentOutOfRangeException(nameof(size), $"resize: size must be positive, got {size}.");

    /// <summary>The (height, width) torchvision gives an image of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public (int Height, int Width) OutputSize(int height, int width)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"resize: cannot resize an empty {height}x{width} image.");
        return width <= height ? (checked((int)((long)Size * height / width)), Size) : (Size, checked((int)((long)Size * width / height)));
    }

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        var (h, w) = OutputSize(image.Shape.Height, image.Shape.Width);
        return PilResample.Bilinear(image, h, w);
    }

    /// <summary>The output shape; for images of any size (height and width 0) the size is unknown, 0 x 0.</summary>
    public ImageShape OutputShape(ImageShape input)
    {
        if (input.Height == 0 && input.Width == 0) return input;
        var (h, w) = OutputSize(input.Height, input.Width);
        return input with { Height = h, Width = w };
    }
}

/// <summary>
/// The centre <c>Height x Width</c> window, as torchvision's <c>CenterCrop</c>: the top row is
/// <c>round((H - h) / 2)</c> (rounding halves to even, as Python), and an image smaller than the crop is first
/// padded with zeros as torchvision pads it.
/// </summary>
public sealed class CenterCrop : ITransform
{
    /// <summary>A square crop.</summary>
    public CenterCrop(int size) : this(size, size) { }

    /// <summary>A <paramref name="height"/> x <paramref name="width"/> crop.</summary>
    public CenterCrop(int height, int width)
    {
        if (height <= 0 || width <= 0) throw new ArgumentOutOfRangeException(nameof(height), $"center_crop: size must be positive, got {height}x{width}.");
        (Height, Width) = (height, width);
    }

    /// <summary>Rows of the crop.</summary>
    public int Height { get; }
    /// <summary>Columns of the crop.</summary>
    public int Width { get; }

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        int top = Offset(image.Shape.Height, Height), left = Offset(image.Shape.Width, Width);
        return Window.Copy(image, top, left, Height, Width, 0);
    }

    /// <summary>The source offset of the crop along an axis of <paramref name="size"/> pixels, padding included (negative when padded).</summary>
    private static int Offset(int size, int crop)
    {
        // torchvision pads (crop - size) // 2 before and (crop - size + 1) // 2 after, then crops the centre of that.
        int before = size < crop ? (crop - size) / 2 : 0, after = size < crop ? (crop - size + 1) / 2 : 0;
        int padded = size + before + after;
        return (int)Math.Round((padded - crop) / 2.0, MidpointRounding.ToEven) - before;
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input) => input with { Height = Height, Width = Width };
}

/// <summary>
/// torchvision's <c>RandomResizedCrop(size, scale, ratio)</c> with bilinear interpolation: up to ten tries draw an
/// area fraction uniformly from <c>Scale</c> and an aspect ratio log-uniformly from <c>Ratio</c>, and keep the first
/// box (<c>w = round(sqrt(area * ratio))</c>, <c>h = round(sqrt(area / ratio))</c>) that fits, at a uniformly random
/// position; when none fits, the centre crop of the whole image clamped to the ratio range. The box is then resized
/// to <c>Size x Size</c> as PIL does (<see cref="PilResample"/>). The draws come from the sample's
/// <see cref="SampleRandom"/>, so the numbers differ from torch's generator, the distribution does not.
/// </summary>
public sealed class RandomResizedCrop : ITransform
{
    /// <summary>Creates the transform; the defaults are torchvision's (scale 0.08 to 1, ratio 3/4 to 4/3).</summary>
    public RandomResizedCrop(int size, (double Min, double Max)? scale = null, (double Min, double Max)? ratio = null)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), $"random_resized_crop: size must be positive, got {size}.");
        Scale = scale ?? (0.08, 1.0);
        Ratio = ratio ?? (3.0 / 4.0, 4.0 / 3.0);
        if (!(Scale.Min > 0 && Scale.Min <= Scale.Max))
            throw new ArgumentOutOfRangeException(nameof(scale), $"random_resized_crop: scale must satisfy 0 < min <= max, got ({Scale.Min}, {Scale.Max}).");
        if (!(Ratio.Min > 0 && Ratio.Min <= Ratio.Max))
            throw new ArgumentOutOfRangeException(nameof(ratio), $"random_resized_crop: ratio must satisfy 0 < min <= max, got ({Ratio.Min}, {Ratio.Max}).");
        Size = size;
    }

    /// <summary>The side of the square output.</summary>
    public int Size { get; }
    /// <summary>The range of the crop's area as a fraction of the image's.</summary>
    public (double Min, double Max) Scale { get; }
    /// <summary>The range of the crop's aspect ratio (width / height).</summary>
    public (double Min, double Max) Ratio { get; }

    /// <summary>The crop box (top, left, height, width) for an image of <paramref name="height"/> x <paramref name="width"/>, as torchvision's <c>get_params</c>.</summary>
    public (int Top, int Left, int Height, int Width) GetParams(int height, int width, SampleRandom random)
    {
        double area = (double)height * width;
        double logMin = Math.Log(Ratio.Min), logMax = Math.Log(Ratio.Max);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double targetArea = area * (Scale.Min + (Scale.Max - Scale.Min) * random.NextDouble());
            double aspect = Math.Exp(logMin + (logMax - logMin) * random.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
            if (0 < w && w <= width && 0 < h && h <= height)
                return (random.NextInt(height - h + 1), random.NextInt(width - w + 1), h, w);
        }
        // Fallback: the centre crop, clamped to the ratio range.
        double inRatio = (double)width / height;
        var (fh, fw) = inRatio < Ratio.Min ? ((int)Math.Round(width / Ratio.Min, MidpointRounding.ToEven), width)
            : inRatio > Ratio.Max ? (height, (int)Math.Round(height * Ratio.Max, MidpointRounding.ToEven))
            : (height, width);
        return ((height - fh) / 2, (width - fw) / 2, fh, fw);
    }

    /// <summary>Crops the box (<paramref name="top"/>, <paramref name="left"/>, <paramref name="height"/>, <paramref name="width"/>) and resizes it to <paramref name="size"/> x <paramref name="size"/>, as torchvision's <c>resized_crop</c> on a PIL image.</summary>
    public static ChwImage ResizedCrop(ChwImage image, int top, int left, int height, int width, int size) =>
        PilResample.Bilinear(Window.Copy(image, top, left, height, width, 0), size, size);

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        var (top, left, h, w) = GetParams(image.Shape.Height, image.Shape.Width, random);
        return ResizedCrop(image, top, left, h, w, Size);
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input) => input with { Height = Size, Width = Size };
}
