using System.Globalization;
using Engine.Models.Data;
using Engine.Models.Zoo;

namespace Engine.Models.Training;

/// <summary>
/// The values a <see cref="TrainOptions"/> accepts, checked before a run loads anything: each problem is one
/// line naming the option (as the <c>train</c> command spells it), the value and what is accepted.
/// </summary>
public static class TrainOptionsCheck
{
    /// <summary>What is wrong with <paramref name="o"/>; empty when it can run.</summary>
    public static IReadOnlyList<string> Problems(TrainOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var problems = new List<string>();
        var inv = CultureInfo.InvariantCulture;
        void Require(bool ok, string option, object? value, string accepted)
        {
            if (!ok) problems.Add($"train {option} {Convert.ToString(value, inv)}: must be {accepted}.");
        }

        void OneOf(bool ok, string option, string what, string value, string accepted)
        {
            if (!ok) problems.Add($"train {option}: unknown {what} '{value}'; accepted: {accepted}.");
        }

        OneOf(ModelZoo.Names.Contains(o.Model), "--model", "model", o.Model, string.Join(", ", ModelZoo.Names));
        bool folder = DatasetCatalog.IsImageFolder(o.Data);
        OneOf(DatasetCatalog.Names.Contains(o.Data) || folder, "--data", "dataset", o.Data,
            string.Join(", ", DatasetCatalog.Names) + ", or a directory holding train/ and val/ image folders");
        Require(o.ImageSize is null or >= 1, "--image-size", o.ImageSize, "a positive integer");
        Require(o.ImageSize is null || folder, "--image-size", o.ImageSize, "left out unless --data is a folder of images (DIR with train/ and val/)");
        OneOf(o.DType is "f32" or "f64" or "float32" or "float64", "--dtype", "dtype", o.DType, "f32 or f64");
        OneOf(TrainingLoss.Names.Contains(o.Loss), "--loss", "loss", o.Loss, string.Join(", ", TrainingLoss.Names));
        OneOf(IsDevice(o.Device), "--device", "device", o.Device, "auto, cpu, cuda or cuda:N");
        Require(o.DataDir is null || Directory.Exists(o.DataDir), "--data-dir", o.DataDir, "an existing directory");
        Require(o.Epochs >= 1, "--epochs", o.Epochs, "a positive integer");
        Require(o.Batch >= 1, "--batch", o.Batch, "a positive integer");
        Require(double.IsFinite(o.Lr) && o.Lr > 0, "--lr", o.Lr, "a finite number above 0");
        Require(double.IsFinite(o.WeightDecay) && o.WeightDecay >= 0, "--weight-decay", o.WeightDecay, "a finite number of at least 0");
        Require(o.WarmupSteps >= 0, "--warmup-steps", o.WarmupSteps, "an integer of at least 0");
        Require(double.IsFinite(o.WarmupFactor) && o.WarmupFactor > 0 && o.WarmupFactor <= 1, "warmup factor", o.WarmupFactor, "in (0, 1]");
        Require(double.IsFinite(o.MinLr) && o.MinLr >= 0, "min lr", o.MinLr, "a finite number of at least 0");
        Require(o.LabelSmoothing is >= 0 and < 1, "--label-smoothing", o.LabelSmoothing, "a number from 0 up to (not including) 1");
        Require(o.LogEvery is null or >= 1, "--log-every", o.LogEvery, "a positive integer");
        Require(o.ClipGradNorm is null || (double.IsFinite(o.ClipGradNorm.Value) && o.ClipGradNorm > 0), "--clip-grad-norm", o.ClipGradNorm, "a finite number above 0");
        Require(o.LimitTrain is null or >= 1, "--limit-train", o.LimitTrain, "a positive integer");
        Require(o.LimitTest is null or >= 1, "--limit-test", o.LimitTest, "a positive integer");
        Require(o.CheckpointEvery is null or >= 1, "--checkpoint-every", o.CheckpointEvery, "a positive integer");
        Require(o.OnSaveError is "stop" or "continue", "--on-save-error", o.OnSaveError, "stop or continue");
        Require(o.StopAfterSteps is null or >= 1, "stop after steps", o.StopAfterSteps, "a positive integer");
        Require(!string.IsNullOrWhiteSpace(o.Out) && !File.Exists(o.Out), "--out", o.Out, "a directory (not an existing file)");
        return problems;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> listing every problem of <paramref name="o"/>, if it has any.</summary>
    public static void ThrowIfInvalid(TrainOptions o)
    {
        var problems = Problems(o);
        if (problems.Count > 0) throw new ArgumentException(string.Join(" ", problems));
    }

    private static bool IsDevice(string text) =>
        text is "auto" or "cpu" or "cuda" || (text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out _));
}
