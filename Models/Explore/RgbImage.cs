namespace Engine.Models.Explore;

/// <summary>An 8-bit RGB raster, row-major from the top-left corner: what the explore tools draw into.</summary>
public sealed class RgbImage
{
    /// <summary>Creates a <paramref name="width"/> x <paramref name="height"/> image filled with <paramref name="background"/>.</summary>
    public RgbImage(int width, int height, Rgb background = default)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"RgbImage: the size must be positive, got {width}x{height}.");
        Width = width;
        Height = height;
        Pixels = new byte[checked(width * height * 3)];
        if (background != default) Fill(0, 0, width, height, background);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The samples, three bytes (R, G, B) per pixel, rows top to bottom.</summary>
    public byte[] Pixels { get; }

    /// <summary>The colour at (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public Rgb this[int x, int y]
    {
        get
        {
            int i = Index(x, y);
            return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
        set
        {
            int i = Index(x, y);
            (Pixels[i], Pixels[i + 1], Pixels[i + 2]) = (value.R, value.G, value.B);
        }
    }

    /// <summary>Paints the rectangle at (<paramref name="x"/>, <paramref name="y"/>), clipped to the image.</summary>
    public void Fill(int x, int y, int width, int height, Rgb colour)
    {
        int x0 = Math.Max(0, x), y0 = Math.Max(0, y);
        int x1 = Math.Min(Width, x + width), y1 = Math.Min(Height, y + height);
        for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++)
                this[xx, yy] = colour;
    }

    /// <summary>Copies <paramref name="source"/> into this image with its top-left corner at (<paramref name="x"/>, <paramref name="y"/>), clipped.</summary>
    public void Paste(RgbImage source, int x, int y)
    {
        for (int sy = 0; sy < source.Height; sy++)
            for (int sx = 0; sx < source.Width; sx++)
                if (x + sx >= 0 && x + sx < Width && y + sy >= 0 && y + sy < Height)
                    this[x + sx, y + sy] = source[sx, sy];
    }

    /// <summary>Writes the image as a PNG file.</summary>
    public void SavePng(string path) => PngEncoder.Write(path, this);

    private int Index(int x, int y)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"RgbImage: pixel ({x}, {y}) is outside the {Width}x{Height} image.");
        return (y * Width + x) * 3;
    }
}

/// <summary>An 8-bit RGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>White.</summary>
    public static Rgb White => new(255, 255, 255);

    /// <summary>Black.</summary>
    public static Rgb Black => new(0, 0, 0);
}
