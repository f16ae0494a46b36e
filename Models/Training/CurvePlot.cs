using System.Globalization;
using System.Text;

namespace Engine.Models.Training;

/// <summary>
/// Draws training curves as an SVG (no imaging package restores here, and SVG needs none): the training
/// loss per step (thin) with its moving average (thick), and test accuracy per epoch on a second panel.
/// </summary>
public static class CurvePlot
{
    private const int Width = 900, PanelHeight = 300, Margin = 60;

    /// <summary>Writes the plot of <paramref name="rows"/> to <paramref name="path"/> (atomically).</summary>
    public static void WriteSvg(string path, IReadOnlyList<MetricsRow> rows, string title)
    {
        var steps = rows.Where(r => r.Kind == "train").ToList();
        var evals = rows.Where(r => r.Kind == "eval" && r.TestAccuracy is not null).ToList();
        var sb = new StringBuilder();
        int height = 2 * PanelHeight + 3 * Margin;
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">{Escape(title)}</text>\n");

        if (steps.Count > 0)
        {
            var xs = steps.Select(r => (double)r.Step).ToArray();
            var loss = steps.Select(r => r.Loss).ToArray();
            Panel(sb, Margin, "training loss", "step", xs, [(loss, "#9ecae1", 1.0), (MovingAverage(loss, Math.Max(1, loss.Length / 50)), "#08519c", 2.5)]);
        }
        if (evals.Count > 0)
        {
            var xs = evals.Select(r => (double)r.Epoch + 1).ToArray();
            var acc = evals.Select(r => 100 * r.TestAccuracy!.Value).ToArray();
            Panel(sb, 2 * Margin + PanelHeight, "test top-1 (%)", "epoch", xs, [(acc, "#d94801", 2.5)], markers: true);
        }
        sb.Append("</svg>\n");
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, sb.ToString());
        File.Move(tmp, path, overwrite: true);
    }

    private static double[] MovingAverage(double[] v, int window)
    {
        var result = new double[v.Length];
        double sum = 0;
        for (int i = 0; i < v.Length; i++)
        {
            sum += v[i];
            if (i >= window) sum -= v[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }

    private static void Panel(StringBuilder sb, int top, string yLabel, string xLabel, double[] xs, (double[] Ys, string Color, double Stroke)[] series, bool markers = false)
    {
        var inv = CultureInfo.InvariantCulture;
        double xMin = xs.Min(), xMax = Math.Max(xs.Max(), xMin + 1);
        var all = series.SelectMany(s => s.Ys).Where(double.IsFinite).ToArray();
        double yMin = all.Length > 0 ? all.Min() : 0, yMax = all.Length > 0 ? all.Max() : 1;
        if (yMax - yMin < 1e-12) { yMin -= 0.5; yMax += 0.5; }
        double pad = 0.05 * (yMax - yMin);
        yMin -= pad; yMax += pad;
        int left = Margin, right = Width - 20, bottom = top + PanelHeight;
        double X(double x) => left + (x - xMin) / (xMax - xMin) * (right - left);
        double Y(double y) => bottom - (y - yMin) / (yMax - yMin) * PanelHeight;

        sb.Append(inv, $"<rect x=\"{left}\" y=\"{top}\" width=\"{right - left}\" height=\"{PanelHeight}\" fill=\"none\" stroke=\"#999\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double yv = yMin + i * (yMax - yMin) / 4, xv = xMin + i * (xMax - xMin) / 4;
            sb.Append(inv, $"<line x1=\"{left}\" x2=\"{right}\" y1=\"{Y(yv):0.0}\" y2=\"{Y(yv):0.0}\" stroke=\"#eee\"/>\n");
            sb.Append(inv, $"<text x=\"{left - 6}\" y=\"{Y(yv) + 4:0.0}\" text-anchor=\"end\">{yv:0.###}</text>\n");
            sb.Append(inv, $"<text x=\"{X(xv):0.0}\" y=\"{bottom + 16}\" text-anchor=\"middle\">{xv:0.#}</text>\n");
        }
        sb.Append(inv, $"<text x=\"{(left + right) / 2}\" y=\"{bottom + 34}\" text-anchor=\"middle\">{xLabel}</text>\n");
        sb.Append(inv, $"<text x=\"16\" y=\"{top + PanelHeight / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {top + PanelHeight / 2})\">{Escape(yLabel)}</text>\n");
        foreach (var (ys, color, stroke) in series)
        {
            var points = string.Join(" ", xs.Select((x, i) => double.IsFinite(ys[i]) ? $"{X(x).ToString("0.0", inv)},{Y(ys[i]).ToString("0.0", inv)}" : null).Where(p => p is not null));
            sb.Append(inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{stroke}\" points=\"{points}\"/>\n");
            if (markers)
                for (int i = 0; i < xs.Length; i++)
                    sb.Append(inv, $"<circle cx=\"{X(xs[i]):0.0}\" cy=\"{Y(ys[i]):0.0}\" r=\"3.5\" fill=\"{color}\"/>\n");
        }
    }

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
