using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Models.Nn;

namespace Engine.Models.Explore;

/// <summary>One receptive field written to disk: which model state, which stage, the map and its PNG.</summary>
/// <param name="State">"init" (the seeded initialisation) or "trained" (the checkpoint's weights).</param>
/// <param name="Map">The map.</param>
/// <param name="PngPath">Where its heat map was written.</param>
public sealed record ErfResult(string State, ReceptiveFieldMap Map, string PngPath);

/// <summary>
/// What <c>engine explore erf</c> does: receptive fields of a zoo model's stages at initialisation and,
/// given a checkpoint, after training, on the embedded Fashion-MNIST test images through the recipe's
/// evaluation transform; each written as <c>erf-STATE-STAGE.png</c>, with the numbers in <c>erf.json</c>.
/// </summary>
public static class ErfReport
{
    /// <summary>The fractions of the total for which <c>erf.json</c> gives the area ratio.</summary>
    public static readonly double[] AreaFractions = [0.2, 0.3, 0.5, 0.99];

    /// <summary>
    /// Computes and writes the fields. <paramref name="stage"/>: a module path, "all" for every discovered
    /// stage, or null for the default (the last feature stage before pooling). The forward and backward passes
    /// run on <paramref name="device"/> (the CPU when null); the stages are found on the CPU first.
    /// </summary>
    public static IReadOnlyList<ErfResult> Run(string model, string? checkpoint, string? stage, int images, string outDirectory,
        HeatmapScale scale = HeatmapScale.Linear, ulong seed = 0, int cellSize = 8, Device? device = null)
    {
        Directory.CreateDirectory(outDirectory);
        var where = device ?? Device.Cpu;
        var (cpuImages, labels) = ExploreData.EvalImages(images);
        labels.Dispose();
        var x = cpuImages.ToDevice(where);
        if (!ReferenceEquals(x, cpuImages)) cpuImages.Dispose();
        var results = new List<ErfResult>();
        using (x)
        {
            var states = new List<(string State, string? Checkpoint)> { ("init", null) };
            if (checkpoint is not null) states.Add(("trained", checkpoint));
            foreach (var (state, ckpt) in states)
            {
                using var net = ExploreData.Model(model, seed, ckpt);
                var stages = Stages(net, stage);
                if (where != Device.Cpu) net.ToDevice(where);
                foreach (var s in stages)
                {
                    var map = ReceptiveField.Compute(net, s, x);
                    string png = Path.Combine(outDirectory, $"erf-{state}-{FileName(s.Path)}.png");
                    map.Render(cellSize, scale).SavePng(png);
                    results.Add(new ErfResult(state, map, png));
                }
            }
        }
        File.WriteAllText(Path.Combine(outDirectory, "erf.json"), ToJson(model, checkpoint, results));
        return results;
    }

    /// <summary>The stages <paramref name="stage"/> names (see <see cref="Run"/>).</summary>
    public static IReadOnlyList<FeatureStage> Stages(Module<Tensor, Tensor> model, string? stage) =>
        stage == "all" ? FeatureStageFinder.Find(model, ExploreData.InputShape) : [FeatureStageFinder.Resolve(model, ExploreData.InputShape, stage)];

    /// <summary>One line per result: state, stage, support, bounding box and area ratios.</summary>
    public static string Format(IReadOnlyList<ErfResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{"state",-8}{"stage",-24}{"feature map",-16}{"support",9}{"box",10}  area for {string.Join(" / ", AreaFractions.Select(f => $"{100 * f:0}%"))}"));
        foreach (var r in results)
        {
            var box = r.Map.SupportBox();
            string boxText = box is { } b ? $"{b.Bottom - b.Top + 1}x{b.Right - b.Left + 1}" : "-";
            string areas = string.Join(" / ", AreaFractions.Select(f => r.Map.AreaRatio(f).ToString("0.000", CultureInfo.InvariantCulture)));
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{r.State,-8}{r.Map.Stage.Path,-24}{Layout.Format(r.Map.Stage.OutputShape),-16}{r.Map.Support(),9}{boxText,10}  {areas}"));
        }
        return sb.ToString();
    }

    private static string ToJson(string model, string? checkpoint, IReadOnlyList<ErfResult> results)
    {
        var doc = new
        {
            model,
            checkpoint = checkpoint is null ? null : Path.GetFileName(Path.TrimEndingDirectorySeparator(checkpoint)),
            images = results.Count > 0 ? results[0].Map.Images : 0,
            fields = results.Select(r => new
            {
                state = r.State,
                stage = r.Map.Stage.Path,
                feature_shape = r.Map.Stage.OutputShape,
                height = r.Map.Height,
                width = r.Map.Width,
                png = Path.GetFileName(r.PngPath),
                support = r.Map.Support(),
                support_1pct = r.Map.Support(0.01),
                max = r.Map.Max,
                area_ratio = AreaFractions.ToDictionary(f => f.ToString(CultureInfo.InvariantCulture), r.Map.AreaRatio),
            }),
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true });
    }

    private static string FileName(string path) => path.Length == 0 ? "model" : path.Replace('.', '_');
}
