namespace Engine.Models.Data;

/// <summary>Pads each side with a constant, as torchvision's <c>Pad(padding, fill)</c> in constant mode.</summary>
public sealed class Pad : ITransform
{
    /// <summary>The same padding on every side.</summary>
    public Pad(int padding, float fill = 0) : this(padding, padding, padding, padding, fill) { }

    /// <summary>Separate padding per side.</summary>
    public Pad(int left, int top, int right, int bottom, float fill = 0)
    {
        if (left < 0 || top < 0 || right < 0 || bottom < 0)
            throw new ArgumentOutOfRangeException(nameof(left), $"pad: padding must not be negative, got left {left}, top {top}, right {right}, bottom {bottom}.");
        (Left, Top, Right, Bottom, Fill) = (left, top, right, bottom, fill);
    }

    /// <summary>Columns added on the left.</summary>
    public int Left { get; }
    /// <summary>Rows added on top.</summary>
    public int Top { get; }
    /// <summary>Columns added on the right.</summary>
    public int Right { get; }
    /// <summary>Rows added at the bottom.</summary>
    public int Bottom { get; }
    /// <summary>The value of the added pixels.</summary>
    public float Fill { get; }

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        var shape = OutputShape(image.Shape);
        return Window.Copy(image, -Top, -Left, shape.Height, shape.Width, Fill);
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input) => input with { Height = input.Height + Top + Bottom, Width = input.Width + Left + Right };
}

/// <summary>
/// A crop of <c>Height x Width</c> at a uniformly random position, after padding every side by
/// <c>Padding</c> pixels of value <c>Fill</c>, as torchvision's <c>RandomCrop(size, padding, fill=fill)</c>.
/// Draws the top row first, then the left column.
/// </summary>
public sealed class RandomCrop : ITransform
{
    /// <summary>A square crop.</summary>
    public RandomCrop(int size, int padding = 0, float fill = 0) : this(size, size, padding, fill) { }

    /// <summary>A <paramref name="height"/> x <paramref name="width"/> crop.</summary>
    public RandomCrop(int height, int width, int padding, float fill = 0)
    {
        if (height <= 0 || width <= 0) throw new ArgumentOutOfRangeException(nameof(height), $"random_crop: size must be positive, got {height}x{width}.");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), $"random_crop: padding must not be negative, got {padding}.");
        (Height, Width, Padding, Fill) = (height, width, padding, fill);
    }

    /// <summary>Rows of the crop.</summary>
    public int Height { get; }
    /// <summary>Columns of the crop.</summary>
    public int Width { get; }
    /// <summary>Pixels added on each side before cropping.</summary>
    public int Padding { get; }
    /// <summary>The value of the added pixels.</summary>
    public float Fill { get; }

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        OutputShape(image.Shape);
        int top = random.NextInt(image.Shape.Height + 2 * Padding - Height + 1);
        int left = random.NextInt(image.Shape.Width + 2 * Padding - Width + 1);
        return Window.Copy(image, top - Padding, left - Padding, Height, Width, Fill);
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input)
    {
        if (input.Height + 2 * Padding < Height || input.Width + 2 * Padding < Width)
            throw new ArgumentException($"random_crop: the crop {Height}x{Width} is larger than the {input} image padded by {Padding}.");
        return input with { Height = Height, Width = Width };
    }
}

/// <summary>Mirrors the image left to right with probability <c>P</c> (one uniform draw per image, flip when below P).</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : ITransform
{
    /// <summary>The probability of a flip.</summary>
    public double P { get; } = p is >= 0 and <= 1 ? p
        : throw new ArgumentOutOfRangeException(nameof(p), $"random_horizontal_flip: p must be in [0, 1], got {p}.");

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        if (random.NextDouble() >= P) return image;
        int width = image.Shape.Width;
        for (int row = 0; row < image.Shape.Channels * image.Shape.Height; row++)
            image.Pixels.AsSpan(row * width, width).Reverse();
        return image;
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input) => input;
}

internal static class Window
{
    /// <summary>The <paramref name="height"/> x <paramref name="width"/> window whose top-left pixel is (<paramref name="top"/>, <paramref name="left"/>) of the source; pixels outside the source are <paramref name="fill"/>.</summary>
    public static ChwImage Copy(ChwImage src, int top, int left, int height, int width, float fill)
    {
        var (channels, srcH, srcW) = (src.Shape.Channels, src.Shape.Height, src.Shape.Width);
        var dst = new float[channels * height * width];
        if (fill != 0) Array.Fill(dst, fill);
        int x0 = Math.Max(0, -left), x1 = Math.Min(width, srcW - left);
        for (int c = 0; c < channels; c++)
            for (int y = Math.Max(0, -top); y < Math.Min(height, srcH - top) && x1 > x0; y++)
                src.Pixels.AsSpan((c * srcH + y + top) * srcW + left + x0, x1 - x0)
                    .CopyTo(dst.AsSpan((c * height + y) * width + x0));
        return new ChwImage(dst, channels, height, width);
    }
}
