namespace Engine.Models.Explore;

/// <summary>Building blocks of the backbones' pictures: an input image as grey pixels, heat maps laid out in a grid.</summary>
public static class PicturePanels
{
    /// <summary>White space between panels, in pixels.</summary>
    public const int Gap = 2;

    /// <summary>
    /// Image <paramref name="index"/> of a batch (N, C, H, W), channels averaged and stretched from its minimum
    /// (black) to its maximum (white), <paramref name="scale"/> pixels per input pixel.
    /// </summary>
    public static RgbImage Grey(Tensor images, int index, int scale = 1)
    {
        using var scope = Tensor.Scope();
        var one = images.Select(0, index).ToDType(DType.F64).Mean(0);
        int h = one.Shape[0], w = one.Shape[1];
        var v = one.ToArray<double>();
        double lo = v.Min(), hi = v.Max(), span = hi > lo ? hi - lo : 1;
        var image = new RgbImage(w * scale, h * scale);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                byte g = (byte)Math.Round(255 * (v[y * w + x] - lo) / span);
                image.Fill(x * scale, y * scale, scale, scale, new Rgb(g, g, g));
            }
        return image;
    }

    /// <summary>
    /// A heat map without colour bar, normalised to its own maximum; with <paramref name="stretch"/>, from its own
    /// minimum (dark) to its maximum (light), for maps whose values differ little from each other (attention
    /// near uniform, magnitudes on a common floor).
    /// </summary>
    public static RgbImage Map(ReadOnlySpan<double> values, int rows, int columns, int cellSize, bool stretch = false)
    {
        if (!stretch) return Heatmap.Render(values, rows, columns, cellSize, HeatmapScale.Linear, colourBar: false);
        double min = double.PositiveInfinity;
        foreach (var v in values) min = Math.Min(min, v);
        var shifted = new double[values.Length];
        for (int i = 0; i < shifted.Length; i++) shifted[i] = values[i] - min;
        return Heatmap.Render(shifted, rows, columns, cellSize, HeatmapScale.Linear, colourBar: false);
    }

    /// <summary>
    /// A heat map without colour bar on a fixed scale: <paramref name="low"/> is dark, <paramref name="high"/> light,
    /// values outside are clamped; for a series of maps that must be compared (frames of one process).
    /// </summary>
    public static RgbImage MapInRange(ReadOnlySpan<double> values, int rows, int columns, int cellSize, double low, double high)
    {
        if (rows <= 0 || columns <= 0 || values.Length != (long)rows * columns)
            throw new ArgumentException($"PicturePanels: {values.Length} values for a {rows}x{columns} grid.", nameof(values));
        double span = high > low ? high - low : 1;
        var image = new RgbImage(columns * cellSize, rows * cellSize);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                image.Fill(c * cellSize, r * cellSize, cellSize, cellSize, Heatmap.Colour((values[r * columns + c] - low) / span));
        return image;
    }

    /// <summary>Lays out rows of panels, left to right and top to bottom, <see cref="Gap"/> pixels apart, on white.</summary>
    public static RgbImage Grid(IReadOnlyList<IReadOnlyList<RgbImage>> rows)
    {
        if (rows.Count == 0 || rows.Any(r => r.Count == 0)) throw new ArgumentException("PicturePanels: every row needs at least one panel.", nameof(rows));
        int width = rows.Max(r => r.Sum(p => p.Width) + Gap * (r.Count - 1));
        int height = rows.Sum(r => r.Max(p => p.Height)) + Gap * (rows.Count - 1);
        var canvas = new RgbImage(width, height, Rgb.White);
        int y = 0;
        foreach (var row in rows)
        {
            int x = 0;
            foreach (var panel in row)
            {
                canvas.Paste(panel, x, y);
                x += panel.Width + Gap;
            }
            y += row.Max(p => p.Height) + Gap;
        }
        return canvas;
    }
}
