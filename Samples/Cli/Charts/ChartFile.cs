using ScottPlot;
using SkiaSharp;

namespace Engine.Samples.Cli.Charts;

/// <summary>Writes charts (one plot or several stacked) as PNG and SVG, each through a temporary file so a reader never sees half a file.</summary>
internal static class ChartFile
{
    /// <summary>Writes <paramref name="multiplot"/> to <paramref name="pathWithoutExtension"/>.png and .svg at <paramref name="width"/> x <paramref name="height"/> pixels.</summary>
    public static void Save(Multiplot multiplot, string pathWithoutExtension, int width, int height)
    {
        Atomic(pathWithoutExtension + ".png", tmp => multiplot.SavePng(tmp, width, height));
        Atomic(pathWithoutExtension + ".svg", tmp =>
        {
            using var stream = System.IO.File.Create(tmp);
            using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), stream))
                multiplot.Render(canvas, new PixelRect(0, width, height, 0));
        });
    }

    /// <summary>Writes <paramref name="plot"/> to <paramref name="pathWithoutExtension"/>.png and .svg.</summary>
    public static void Save(Plot plot, string pathWithoutExtension, int width, int height)
    {
        Atomic(pathWithoutExtension + ".png", tmp => plot.SavePng(tmp, width, height));
        Atomic(pathWithoutExtension + ".svg", tmp => plot.SaveSvg(tmp, width, height));
    }

    private static void Atomic(string path, Action<string> write)
    {
        string tmp = path + ".tmp";
        try
        {
            write(tmp);
            System.IO.File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (System.IO.File.Exists(tmp)) System.IO.File.Delete(tmp);
        }
    }
}
