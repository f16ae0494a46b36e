using System.Globalization;
using Engine.Models.Serialization;
using Engine.Models.Training;

namespace Engine.Tests.Models;

/// <summary>What a training run leaves in its folder, read back for tests that compare runs.</summary>
internal static class TrainingRunFiles
{
    /// <summary>A new empty folder under the temporary directory, named after <paramref name="prefix"/>.</summary>
    public static string TempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The rows of <c>metrics.csv</c> whose first column is <paramref name="kind"/> (train, test), split into cells.</summary>
    public static string[][] Rows(string dir, string kind) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Skip(1).Select(l => l.Split(',')).Where(c => c[0] == kind).ToArray();

    /// <summary>A number as the metrics files write it (invariant culture).</summary>
    public static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>The model (parameters and buffers) and optimizer tensors of a run's checkpoint, as float64 arrays by name.</summary>
    public static Dictionary<string, double[]> CheckpointTensors(string dir)
    {
        using var ckpt = Checkpoint.Load(Path.Combine(dir, Trainer.CheckpointFile));
        var all = ckpt.Model.ToDictionary(kv => "model." + kv.Key, kv => kv.Value.ToDType(DType.F64).ToArray<double>());
        foreach (var (index, state) in ckpt.Optimizer!.State)
            foreach (var (key, t) in state) all[$"optimizer.{index}.{key}"] = t.ToDType(DType.F64).ToArray<double>();
        return all;
    }
}
