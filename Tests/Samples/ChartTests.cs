using System.Xml.Linq;
using Engine.Diagnostics;
using Engine.Models.Data.Images;
using Engine.Models.Training;
using Engine.Samples.Cli.Charts;
using ScottPlot;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// The command line's charts (ScottPlot), rendered in process. ScottPlot draws no text, and still succeeds, when
/// Skia finds no font, so the text is checked in the pixels: a title must change the title's rows of the PNG.
/// </summary>
public class ChartTests
{
    private static List<MetricsRow> Rows()
    {
        var rows = new List<MetricsRow>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            for (int s = 1; s <= 10; s++)
            {
                long step = epoch * 10 + s;
                rows.Add(new MetricsRow("train", epoch, step, 2.3 / Math.Sqrt(step), 1e-3 * Math.Min(1, step / 5.0), 100, null, null, 0, step));
            }
            rows.Add(new MetricsRow("eval", epoch, (epoch + 1) * 10, 1.0, 1e-3, 0, 0.4 + 0.2 * epoch, 1.2 - 0.2 * epoch, 0, 10 * (epoch + 1)));
        }
        return rows;
    }

    private static HwcImage RenderPng(Multiplot chart, string dir, string name)
    {
        ChartFile.Save(chart, Path.Combine(dir, name), TrainingCharts.Width, TrainingCharts.Height);
        return ImageFile.Read(Path.Combine(dir, name + ".png"));
    }

    /// <summary>Pixels of the top <paramref name="rows"/> rows that are clearly dark (text is black on white there).</summary>
    private static int DarkPixels(HwcImage image, int rows)
    {
        int dark = 0;
        for (int i = 0; i < rows * image.Width; i++)
            if (image.Pixels[3 * i] + image.Pixels[3 * i + 1] + image.Pixels[3 * i + 2] < 3 * 100) dark++;
        return dark;
    }

    [Fact]
    public void The_curves_title_really_renders_as_text_in_the_png()
    {
        var dir = Directory.CreateTempSubdirectory("engine-charts-").FullName;
        try
        {
            // The same title drawn white on white keeps the layout exactly; only the glyphs' pixels differ.
            var titled = RenderPng(TrainingCharts.Build(Rows(), "Training curves of a test"), dir, "titled");
            var invisibleChart = TrainingCharts.Build(Rows(), "Training curves of a test");
            invisibleChart.GetPlot(0).Axes.Title.Label.ForeColor = Colors.White;
            var blank = RenderPng(invisibleChart, dir, "blank");
            Assert.Equal((TrainingCharts.Height, TrainingCharts.Width), (titled.Height, titled.Width));
            const int titleRows = 30;
            Assert.False(titled.Pixels.AsSpan(0, titleRows * titled.Width * 3).SequenceEqual(blank.Pixels.AsSpan(0, titleRows * blank.Width * 3)),
                $"the title did not change the top {titleRows} rows: no font was found to draw text with ({ChartFonts.File ?? "no DejaVu Sans file"})");
            Assert.True(DarkPixels(titled, titleRows) > 100, $"only {DarkPixels(titled, titleRows)} dark pixels in the title rows");
            Assert.Equal(0, DarkPixels(blank, titleRows));
            // Below the title, the panels (ticks, labels, legends) are the same.
            int below = titleRows * titled.Width * 3;
            Assert.True(titled.Pixels.AsSpan(below).SequenceEqual(blank.Pixels.AsSpan(below)));

            // The SVG carries the text as text, with the legends.
            var texts = XDocument.Load(Path.Combine(dir, "titled.svg")).Descendants(XName.Get("text", "http://www.w3.org/2000/svg")).Select(t => t.Value.Trim()).ToList();
            foreach (var expected in new[] { "Training curves of a test", "training loss", "test loss", "test top-1", "learning rate", "step" })
                Assert.Contains(expected, texts);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void The_memory_chart_has_a_series_per_kind_and_the_marks()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.Randn([32, 32]).RequiresGradInPlace();
        using var profiler = Profiler.Start();
        var loss = a.MatMul(a).Relu().Sum();
        profiler.Mark("forward");
        loss.Backward();
        profiler.Mark("backward");
        profiler.Stop();

        var dir = Directory.CreateTempSubdirectory("engine-charts-").FullName;
        try
        {
            MemoryChart.Write(dir, profiler.Events, "a <test> & more");
            var png = ImageFile.Read(Path.Combine(dir, "memory.png"));
            Assert.Equal((MemoryChart.Height, MemoryChart.Width), (png.Height, png.Width));
            var texts = XDocument.Load(Path.Combine(dir, "memory.svg")).Descendants(XName.Get("text", "http://www.w3.org/2000/svg")).Select(t => t.Value.Trim()).ToList();
            Assert.Contains("a <test> & more", texts);
            Assert.Contains(texts, t => t.StartsWith("allocated (max", StringComparison.Ordinal));
            Assert.Contains(texts, t => t.StartsWith("cached (max", StringComparison.Ordinal));
            Assert.Contains(texts, t => t.StartsWith("peak (max", StringComparison.Ordinal));
            Assert.Contains("forward", texts);
            Assert.Contains("backward", texts);
            Assert.Contains("MiB", texts);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        }
        finally { Directory.Delete(dir, true); }
        Assert.Throws<ArgumentException>(() => MemoryChart.Build([], "empty"));
    }
}
