using System.Globalization;
using System.Text.Json;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// <c>devicerun device</c>: which CUDA device this process sees, through the engine's own probe
/// (<see cref="Engine.Cuda.Cuda"/>): a real GPU, the CUDA emulator, or none and why. The run's table is headed
/// by this, so that a figure is never read as a GPU's when it came from the emulator or from nowhere.
/// </summary>
internal static class DeviceProbe
{
    /// <summary>What was found; <see cref="Kind"/> is <c>gpu</c>, <c>emulator</c> or <c>none</c>.</summary>
    public sealed record Found(string Kind, string Summary, Dictionary<string, object?> Figures);

    public static int Run(Arguments args)
    {
        args.Rest();
        var found = Probe();
        Console.WriteLine(found.Summary);
        Console.WriteLine(JsonSerializer.Serialize(found.Figures, Json.Readable));
        return 0;
    }

    /// <summary>Probes CUDA; never throws.</summary>
    public static Found Probe()
    {
        try
        {
            if (!Engine.Cuda.Cuda.IsAvailable)
            {
                var reason = Engine.Cuda.Cuda.UnavailableReason ?? "no CUDA device";
                return new("none", $"no CUDA device: {reason}", new() { ["kind"] = "none", ["reason"] = reason, ["summary"] = $"no CUDA device: {reason}" });
            }
            var d = Engine.Cuda.Cuda.Device(0);
            bool emulated = Engine.Cuda.Cuda.IsEmulated;
            double gib = d.TotalMemory / (double)(1L << 30);
            string summary = emulated
                ? $"{d.Name}: not a GPU, times are meaningless"
                : $"{d.Name} (real GPU), compute capability {d.Major}.{d.Minor}, {gib.ToString("F1", CultureInfo.InvariantCulture)} GiB, {d.Multiprocessors} SMs";
            return new(emulated ? "emulator" : "gpu", summary, new()
            {
                ["kind"] = emulated ? "emulator" : "gpu",
                ["name"] = d.Name,
                ["devices"] = Engine.Cuda.Cuda.DeviceCount,
                ["compute_capability"] = $"{d.Major}.{d.Minor}",
                ["memory_gib"] = Math.Round(gib, 2),
                ["multiprocessors"] = d.Multiprocessors,
                ["summary"] = summary,
            });
        }
        catch (Exception e)
        {
            return new("none", $"no CUDA device: the probe failed: {e.Message}", new() { ["kind"] = "none", ["reason"] = e.Message, ["summary"] = $"probe failed: {e.Message}" });
        }
    }
}

/// <summary>JSON settings shared by the verbs.</summary>
internal static class Json
{
    /// <summary>Keeps quotes and apostrophes in messages readable (no \u0027).</summary>
    public static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Same, indented, for files people open.</summary>
    public static readonly JsonSerializerOptions Indented = new(Readable) { WriteIndented = true };

    /// <summary>The last line of <paramref name="text"/> that is a JSON object, or null.</summary>
    public static JsonElement? LastObject(string text)
    {
        foreach (var line in text.Split('\n').Reverse())
        {
            var t = line.Trim();
            if (!t.StartsWith('{') || !t.EndsWith('}')) continue;
            try
            {
                using var doc = JsonDocument.Parse(t);
                if (doc.RootElement.ValueKind == JsonValueKind.Object) return doc.RootElement.Clone();
            }
            catch (JsonException) { }
        }
        return null;
    }
}
