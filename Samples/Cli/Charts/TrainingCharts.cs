using Engine.Models.Training;
using ScottPlot;

namespace Engine.Samples.Cli.Charts;

/// <summary>
/// The training curves of a run, from its metrics rows (<see cref="MetricsLog"/>): three panels sharing the step
/// axis: training loss (each logged window) and test loss (each epoch's evaluation); test top-1 in percent; the
/// learning rate. Written as <c>curves.png</c> and <c>curves.svg</c> in the run directory.
/// </summary>
internal static class TrainingCharts
{
    public const int Width = 900, Height = 1000;

    /// <summary>The three panels, the title on the first.</summary>
    public static Multiplot Build(IReadOnlyList<MetricsRow> rows, string title)
    {
        var train = rows.Where(r => r.Kind == "train").ToList();
        var evals = rows.Where(r => r.Kind == "eval").ToList();
        var chart = new Multiplot();
        chart.AddPlots(3);
        var (loss, top1, lr) = (chart.GetPlot(0), chart.GetPlot(1), chart.GetPlot(2));
        foreach (var p in new[] { loss, top1, lr }) ChartFonts.Apply(p);

        loss.Title(title);
        if (train.Count > 0)
        {
            var s = loss.Add.Scatter(train.Select(r => (double)r.Step).ToArray(), train.Select(r => r.Loss).ToArray());
            (s.LegendText, s.MarkerSize, s.LineWidth) = ("training loss", 0, 1.5f);
        }
        var withTest = evals.Where(r => r.TestLoss is not null).ToList();
        if (withTest.Count > 0)
        {
            var s = loss.Add.Scatter(withTest.Select(r => (double)r.Step).ToArray(), withTest.Select(r => r.TestLoss!.Value).ToArray());
            (s.LegendText, s.MarkerSize, s.LineWidth) = ("test loss", 7, 2);
        }
        loss.YLabel("loss");
        loss.ShowLegend(Alignment.UpperRight);

        var withAcc = evals.Where(r => r.TestAccuracy is not null).ToList();
        if (withAcc.Count > 0)
        {
            var s = top1.Add.Scatter(withAcc.Select(r => (double)r.Step).ToArray(), withAcc.Select(r => 100 * r.TestAccuracy!.Value).ToArray());
            (s.LegendText, s.MarkerSize, s.LineWidth) = ("test top-1", 7, 2);
            top1.ShowLegend(Alignment.LowerRight);
        }
        top1.YLabel("test top-1 (%)");

        if (train.Count > 0)
        {
            var s = lr.Add.Scatter(train.Select(r => (double)r.Step).ToArray(), train.Select(r => r.LearningRate).ToArray());
            (s.LegendText, s.MarkerSize, s.LineWidth) = ("learning rate", 0, 2);
            lr.ShowLegend(Alignment.UpperRight);
        }
        lr.YLabel("learning rate");
        lr.XLabel("step");

        // One step axis for the three panels, from 0 to the last step; top-1 on 0..100 %.
        double lastStep = Math.Max(1, rows.Count == 0 ? 1 : rows.Max(r => r.Step));
        foreach (var p in new[] { loss, top1, lr }) p.Axes.SetLimitsX(0, lastStep);
        top1.Axes.SetLimitsY(0, 100);
        return chart;
    }

    /// <summary>Writes <c>curves.png</c> and <c>curves.svg</c> into <paramref name="runDirectory"/> from its <c>metrics.jsonl</c>.</summary>
    public static void Write(string runDirectory, string title) =>
        ChartFile.Save(Build(MetricsLog.Read(runDirectory), title), Path.Combine(runDirectory, "curves"), Width, Height);
}
