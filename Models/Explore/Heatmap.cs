namespace Engine.Models.Explore;

/// <summary>How a heat map maps values to colours.</summary>
public enum HeatmapScale
{
    /// <summary>value / max.</summary>
    Linear,

    /// <summary>log10(value / max) over four decades (1e-4 .. 1), so faint tails stay visible.</summary>
    Log,
}

/// <summary>Draws a grid of non-negative numbers as a heat map: one square of pixels per value, dark (0) to light (max).</summary>
public static class Heatmap
{
    private const double LogDecades = 4;

    // Control points of the colour ramp: black, deep blue-violet, crimson, orange, pale yellow. The lightness
    // rises monotonically, so the map still reads in greyscale.
    private static readonly (double At, double R, double G, double B)[] Ramp =
    [
        (0.00, 0, 0, 4), (0.25, 60, 15, 110), (0.50, 175, 40, 80), (0.75, 245, 130, 25), (1.00, 252, 250, 170),
    ];

    /// <summary>The colour of <paramref name="t"/> in [0, 1] (clamped).</summary>
    public static Rgb Colour(double t)
    {
        t = double.IsNaN(t) ? 0 : Math.Clamp(t, 0, 1);
        int i = 1;
        while (i < Ramp.Length - 1 && t > Ramp[i].At) i++;
        var (a, b) = (Ramp[i - 1], Ramp[i]);
        double f = (t - a.At) / (b.At - a.At);
        return new Rgb(Lerp(a.R, b.R, f), Lerp(a.G, b.G, f), Lerp(a.B, b.B, f));
    }

    /// <summary>
    /// The values of a grid normalised to [0, 1]
    /// by <paramref name="scale"/>; an all-zero grid stays zero.
    /// </summary>
    public static double[] Normalise(ReadOnlySpan<double> values, HeatmapScale scale)
    {
        double max = 0;
        foreach (var v in values)
        {
            if (v < 0 || double.IsNaN(v)) throw new ArgumentException($"Heatmap: values must be non-negative, got {v}.", nameof(values));
            max = Math.Max(max, v);
        }
        var result = new double[values.Length];
        if (max == 0) return result;
        for (int i = 0; i < values.Length; i++)
        {
            double r = values[i] / max;
            result[i] = scale == HeatmapScale.Linear ? r : r <= 0 ? 0 : Math.Max(0, 1 + Math.Log10(r) / LogDecades);
        }
        return result;
    }

    /// <summary>
    /// Draws the grid with <paramref name="cellSize"/> x <paramref name="cellSize"/> pixels per value and, when
    /// <paramref name="colourBar"/>, the colour ramp as a bar on the right (bottom = 0, top = max).
    /// </summary>
    public static RgbImage Render(ReadOnlySpan<double> values, int rows, int columns, int cellSize = 8, HeatmapScale scale = HeatmapScale.Linear, bool colourBar = true)
    {
        if (rows <= 0 || columns <= 0 || values.Length != (long)rows * columns)
            throw new ArgumentException($"Heatmap: {values.Length} values for a {rows}x{columns} grid.", nameof(values));
        ArgumentOutOfRangeException.ThrowIfLessThan(cellSize, 1);
        var t = Normalise(values, scale);
        int mapWidth = columns * cellSize, mapHeight = rows * cellSize;
        int barWidth = colourBar ? Math.Max(6, mapWidth / 16) : 0, gap = colourBar ? Math.Max(4, barWidth / 2) : 0;
        var image = new RgbImage(mapWidth + gap + barWidth, mapHeight, Rgb.White);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                image.Fill(c * cellSize, r * cellSize, cellSize, cellSize, Colour(t[r * columns + c]));
        for (int y = 0; y < mapHeight && colourBar; y++)
            image.Fill(mapWidth + gap, y, barWidth, 1, Colour(1 - (y + 0.5) / mapHeight));
        return image;
    }

    /// <summary>Renders the grid and writes it to <paramref name="path"/> as a PNG.</summary>
    public static void WritePng(string path, ReadOnlySpan<double> values, int rows, int columns, int cellSize = 8, HeatmapScale scale = HeatmapScale.Linear) =>
        Render(values, rows, columns, cellSize, scale).SavePng(path);

    private static byte Lerp(double a, double b, double f) => (byte)Math.Round(a + (b - a) * f);
}
