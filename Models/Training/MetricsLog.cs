using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Models.Serialization;

namespace Engine.Models.Training;

/// <summary>
/// One logged row: the training steps since the previous row (their mean loss; the speed from the device's
/// clock) or an end-of-epoch evaluation. Memory is the training device's: bytes held by tensors, bytes the
/// engine holds in all (tensors and its allocator's cache), and the peak of the first (on a GPU since the run
/// started; on the CPU since the process started).
/// </summary>
public sealed record MetricsRow(
    string Kind, int Epoch, long Step, double Loss, double LearningRate, double ImagesPerSecond,
    double? TestAccuracy, double? TestLoss, long MemoryBytes, double ElapsedSeconds, long ReservedMemoryBytes = 0, long PeakMemoryBytes = 0);

/// <summary>
/// Writes metrics to <c>metrics.csv</c> and <c>metrics.jsonl</c> in a run directory, one row per line,
/// flushed as they come, so an interrupted run keeps everything logged so far. On resume the files are
/// cut back to the rows up to the checkpoint, so they read as one uninterrupted run.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private static readonly string[] Columns = ["kind", "epoch", "step", "loss", "lr", "img_per_s", "test_acc", "test_loss", "memory_bytes", "elapsed_s", "memory_reserved_bytes", "memory_peak_bytes"];
    private readonly StreamWriter _csv;
    private readonly StreamWriter _jsonl;
    private readonly List<MetricsRow> _rows = [];

    /// <summary>Rows logged in this process and read back on resume.</summary>
    public IReadOnlyList<MetricsRow> Rows => _rows;

    /// <summary>Opens (or, when <paramref name="resumeAfterStep"/> is given, reopens and trims) the log in <paramref name="directory"/>.</summary>
    public MetricsLog(string directory, long? resumeAfterStep = null)
    {
        Directory.CreateDirectory(directory);
        string csvPath = Path.Combine(directory, "metrics.csv"), jsonPath = Path.Combine(directory, "metrics.jsonl");
        if (resumeAfterStep is { } keep && File.Exists(jsonPath))
            _rows.AddRange(ReadRows(jsonPath).Where(r => r.Step <= keep));
        // The files are replaced whole (temporary file, then rename) and only then opened to append: a run
        // killed while they are rewritten keeps the previous files, never half of them.
        var encoding = new UTF8Encoding(false);
        AtomicFile.Write(csvPath, stream =>
        {
            using var csv = new StreamWriter(stream, encoding, leaveOpen: true);
            csv.WriteLine(string.Join(",", Columns));
            foreach (var r in _rows) csv.WriteLine(CsvLine(r));
        });
        AtomicFile.Write(jsonPath, stream =>
        {
            using var jsonl = new StreamWriter(stream, encoding, leaveOpen: true);
            foreach (var r in _rows) jsonl.WriteLine(JsonLine(r));
        });
        _csv = new StreamWriter(csvPath, append: true, encoding);
        _jsonl = new StreamWriter(jsonPath, append: true, encoding);
    }

    /// <summary>
    /// The rows of a <c>metrics.jsonl</c>. A last line cut short (the process was killed while writing it) is
    /// dropped: it was written after the last checkpoint, which is written after the rows it covers.
    /// </summary>
    private static List<MetricsRow> ReadRows(string jsonPath)
    {
        var lines = File.ReadAllLines(jsonPath).Where(l => l.Length > 0).ToList();
        var rows = new List<MetricsRow>(lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            try { rows.Add(Parse(lines[i])); }
            catch (Exception e) when (i == lines.Count - 1 && e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException) { }
        }
        return rows;
    }

    /// <summary>Appends a row to both files.</summary>
    public void Add(MetricsRow row)
    {
        _rows.Add(row);
        WriteLines(row);
        Flush();
    }

    private void WriteLines(MetricsRow r)
    {
        _csv.WriteLine(CsvLine(r));
        _jsonl.WriteLine(JsonLine(r));
    }

    private static string CsvLine(MetricsRow r)
    {
        var inv = CultureInfo.InvariantCulture;
        return string.Join(",", r.Kind, r.Epoch.ToString(inv), r.Step.ToString(inv), r.Loss.ToString("R", inv), r.LearningRate.ToString("R", inv),
            r.ImagesPerSecond.ToString("0.0", inv), r.TestAccuracy?.ToString("R", inv) ?? "", r.TestLoss?.ToString("R", inv) ?? "",
            r.MemoryBytes.ToString(inv), r.ElapsedSeconds.ToString("0.000", inv), r.ReservedMemoryBytes.ToString(inv), r.PeakMemoryBytes.ToString(inv));
    }

    private static string JsonLine(MetricsRow r) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["kind"] = r.Kind, ["epoch"] = r.Epoch, ["step"] = r.Step, ["loss"] = r.Loss, ["lr"] = r.LearningRate,
            ["img_per_s"] = Math.Round(r.ImagesPerSecond, 1), ["test_acc"] = r.TestAccuracy, ["test_loss"] = r.TestLoss,
            ["memory_bytes"] = r.MemoryBytes, ["elapsed_s"] = Math.Round(r.ElapsedSeconds, 3),
            ["memory_reserved_bytes"] = r.ReservedMemoryBytes, ["memory_peak_bytes"] = r.PeakMemoryBytes,
        });

    /// <summary>The rows of the <c>metrics.jsonl</c> in <paramref name="directory"/> (for charts and reports).</summary>
    public static IReadOnlyList<MetricsRow> Read(string directory)
    {
        string path = Path.Combine(directory, "metrics.jsonl");
        if (!File.Exists(path)) throw new FileNotFoundException($"metrics: no {path}; a training run writes it.", path);
        var rows = new List<MetricsRow>();
        // Shared read: the trainer may be appending to it.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
            if (line.Length > 0) rows.Add(Parse(line));
        return rows;
    }

    private static MetricsRow Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var e = doc.RootElement;
        double? Opt(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        long Bytes(string name) => e.TryGetProperty(name, out var v) ? v.GetInt64() : 0;   // absent in logs written before these columns
        return new MetricsRow(e.GetProperty("kind").GetString()!, e.GetProperty("epoch").GetInt32(), e.GetProperty("step").GetInt64(),
            e.GetProperty("loss").GetDouble(), e.GetProperty("lr").GetDouble(), e.GetProperty("img_per_s").GetDouble(),
            Opt("test_acc"), Opt("test_loss"), e.GetProperty("memory_bytes").GetInt64(), e.GetProperty("elapsed_s").GetDouble(),
            Bytes("memory_reserved_bytes"), Bytes("memory_peak_bytes"));
    }

    private void Flush()
    {
        _csv.Flush();
        _jsonl.Flush();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _csv.Dispose();
        _jsonl.Dispose();
    }
}
