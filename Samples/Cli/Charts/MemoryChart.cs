using Engine.Diagnostics;
using ScottPlot;

namespace Engine.Samples.Cli.Charts;

/// <summary>
/// A profile's memory over time: bytes in use (allocated), held in the allocator's cache (cached) and the peak so
/// far, in MiB, one point per event; a dashed line at each mark, labelled (left of the line) with its name: a mark
/// names the phase that just ended (the trace's "forward", "backward", "optimizer"). Written as <c>memory.png</c> and <c>memory.svg</c>.
/// </summary>
internal static class MemoryChart
{
    public const int Width = 1000, Height = 480;

    /// <summary>The plot of <paramref name="events"/>.</summary>
    public static Plot Build(IReadOnlyList<ProfileEvent> events, string title)
    {
        if (events.Count == 0) throw new ArgumentException("memory chart: no events to draw.", nameof(events));
        var plot = new Plot();
        ChartFonts.Apply(plot);
        plot.Title(title);
        var xs = Enumerable.Range(0, events.Count).Select(i => (double)i).ToArray();
        foreach (var (name, value) in new (string, Func<ProfileEvent, long>)[] { ("allocated", e => e.AllocatedBytes), ("cached", e => e.CachedBytes), ("peak", e => e.PeakBytes) })
        {
            var s = plot.Add.Scatter(xs, events.Select(e => value(e) / 1048576.0).ToArray());
            (s.LegendText, s.MarkerSize, s.LineWidth) = ($"{name} (max {Profiler.Bytes(events.Max(value))})", 0, 2);
        }
        // The marks' names inside the plot near its top, alternating between two heights: marks can be one event
        // apart (the optimizer's step records no tape node), and labels on the axes would collide with the title.
        double top = events.Max(e => Math.Max(e.PeakBytes, Math.Max(e.AllocatedBytes, e.CachedBytes))) / 1048576.0;
        int marks = 0;
        for (int i = 0; i < events.Count; i++)
            if (events[i].Phase == ProfilePhase.Mark)
            {
                var line = plot.Add.VerticalLine(i);
                line.LinePattern = LinePattern.Dashed;
                line.Color = Colors.Gray;
                var label = plot.Add.Text(events[i].Label, i, top * (marks++ % 2 == 0 ? 1.06 : 0.98));
                label.LabelFontSize = 12;
                label.LabelFontColor = Colors.DimGray;
                label.LabelAlignment = Alignment.LowerRight;
                if (ChartFonts.File is not null) label.LabelFontName = ChartFonts.Family;
            }
        plot.Axes.SetLimitsY(0, top * 1.15);
        plot.YLabel("MiB");
        plot.XLabel($"event (tape node forward / backward, mark), {events[^1].AtMs:0.0} ms in all");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>Writes <c>memory.png</c> and <c>memory.svg</c> into <paramref name="directory"/>.</summary>
    public static void Write(string directory, IReadOnlyList<ProfileEvent> events, string title) =>
        ChartFile.Save(Build(events, title), Path.Combine(directory, "memory"), Width, Height);
}
