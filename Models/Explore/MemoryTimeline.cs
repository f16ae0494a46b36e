using System.Globalization;
using System.Text;
using Engine.Diagnostics;

namespace Engine.Models.Explore;

/// <summary>
/// Draws a profile's memory over time as an SVG: bytes in use (allocated), held in the allocator's cache
/// (cached) and the peak so far, one point per event. The span up to each mark is shaded and labelled with
/// the mark's name: a mark names the phase that just ended (the trace's "forward", "backward", "optimizer").
/// Also writes the events as CSV.
/// </summary>
public static class MemoryTimeline
{
    private const int Width = 1000, Height = 420, Left = 80, Right = 240, Top = 50, Bottom = 60;

    private static readonly (string Name, string Colour, Func<ProfileEvent, long> Value)[] Series =
    [
        ("allocated", "#08519c", e => e.AllocatedBytes),
        ("cached", "#31a354", e => e.CachedBytes),
        ("peak", "#d94801", e => e.PeakBytes),
    ];

    /// <summary>The SVG document of <paramref name="events"/>.</summary>
    public static string ToSvg(IReadOnlyList<ProfileEvent> events, string title)
    {
        if (events.Count == 0) throw new ArgumentException("memory timeline: no events to draw.", nameof(events));
        var inv = CultureInfo.InvariantCulture;
        double maxMiB = Math.Max(1e-3, events.Max(e => Math.Max(e.PeakBytes, Math.Max(e.AllocatedBytes, e.CachedBytes))) / 1048576.0);
        double yTop = NiceCeiling(maxMiB);
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(int i) => Left + (events.Count == 1 ? 0 : plotW * (double)i / (events.Count - 1));
        double Y(long bytes) => Top + plotH * (1 - bytes / 1048576.0 / yTop);

        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(inv, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        sb.Append(inv, $"<text x=\"{Width / 2}\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">{Escape(title)}</text>\n");

        string[] phaseColours = ["#deebf7", "#fee6ce", "#e5e5e5"];
        int phaseStart = 0, phase = 0;
        for (int i = 0; i < events.Count; i++)
        {
            if (events[i].Phase != ProfilePhase.Mark && i != events.Count - 1) continue;
            double x0 = X(phaseStart), x1 = X(i);
            sb.Append(inv, $"<rect x=\"{x0:0.0}\" y=\"{Top}\" width=\"{Math.Max(1, x1 - x0):0.0}\" height=\"{plotH}\" fill=\"{phaseColours[phase % 3]}\"/>\n");
            sb.Append(inv, $"<text x=\"{(x0 + x1) / 2:0.0}\" y=\"{Top + 14}\" text-anchor=\"middle\" fill=\"#555\">{Escape(events[i].Phase == ProfilePhase.Mark ? events[i].Label : "")}</text>\n");
            phaseStart = i;
            phase++;
        }

        for (int k = 0; k <= 4; k++)
        {
            double v = yTop * k / 4, y = Top + plotH * (1 - k / 4.0);
            sb.Append(inv, $"<line x1=\"{Left}\" y1=\"{y:0.0}\" x2=\"{Left + plotW}\" y2=\"{y:0.0}\" stroke=\"#ccc\"/>\n");
            sb.Append(inv, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.0}\" text-anchor=\"end\">{v:0.###}</text>\n");
        }
        sb.Append(inv, $"<text x=\"18\" y=\"{Top + plotH / 2}\" transform=\"rotate(-90 18 {Top + plotH / 2})\" text-anchor=\"middle\">MiB</text>\n");
        sb.Append(inv, $"<text x=\"{Left + plotW / 2}\" y=\"{Height - 20}\" text-anchor=\"middle\">event (tape node forward / backward, mark); {events[^1].AtMs:0.0} ms in all</text>\n");
        sb.Append(inv, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#333\"/>\n");

        for (int s = 0; s < Series.Length; s++)
        {
            var (name, colour, value) = Series[s];
            var points = string.Join(" ", events.Select((e, i) => string.Create(inv, $"{X(i):0.0},{Y(value(e)):0.0}")));
            sb.Append(inv, $"<polyline points=\"{points}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n");
            int ly = Top + 20 + 22 * s;
            sb.Append(inv, $"<line x1=\"{Width - Right + 15}\" y1=\"{ly}\" x2=\"{Width - Right + 40}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"3\"/>\n");
            sb.Append(inv, $"<text x=\"{Width - Right + 46}\" y=\"{ly + 4}\">{name} (max {Profiler.Bytes(events.Max(value))})</text>\n");
        }
        return sb.Append("</svg>\n").ToString();
    }

    /// <summary>Writes <see cref="ToSvg"/> to <paramref name="path"/>.</summary>
    public static void WriteSvg(string path, IReadOnlyList<ProfileEvent> events, string title) => File.WriteAllText(path, ToSvg(events, title));

    /// <summary>The events as CSV: one row each, times in milliseconds and memory in bytes.</summary>
    public static string ToCsv(IReadOnlyList<ProfileEvent> events)
    {
        var sb = new StringBuilder("index,phase,label,node,at_ms,gap_ms,kernel_ms,allocated,cached,peak,allocated_delta,saved,outputs\n");
        for (int i = 0; i < events.Count; i++)
        {
            var e = events[i];
            sb.Append(CultureInfo.InvariantCulture,
                $"{i},{e.Phase.ToString().ToLowerInvariant()},{e.Label},{e.NodeSequence},{e.AtMs:0.####},{e.GapMs:0.####},{e.KernelMs:0.####},{e.AllocatedBytes},{e.CachedBytes},{e.PeakBytes},{e.AllocatedDelta},{e.SavedBytes},{e.OutputBytes}\n");
        }
        return sb.ToString();
    }

    private static double NiceCeiling(double v)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in new[] { 1.0, 2, 2.5, 5, 10 })
            if (m * p >= v) return m * p;
        return 10 * p;
    }

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
