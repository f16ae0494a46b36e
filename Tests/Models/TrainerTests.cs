using Engine.Models.Training;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>End-to-end runs of the trainer on a few hundred embedded images.</summary>
public class TrainerTests
{
    private sealed class Recorder(Action<StepReport>? onStep = null) : ITrainingObserver
    {
        public List<string> Messages { get; } = [];
        public List<EpochReport> Epochs { get; } = [];
        public void Message(string text) => Messages.Add(text);
        public void Step(StepReport report) => onStep?.Invoke(report);
        public void Epoch(EpochReport report) => Epochs.Add(report);
    }

    private static TrainOptions Small(string dir) => new()
    {
        Model = "cnn", Data = "fashion-mnist-small", Epochs = 2, Batch = 32, LimitTrain = 160, LimitTest = 64,
        WarmupSteps = 3, Out = dir, Seed = 7,
    };

    private static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "engine-trainer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string[] Losses(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Skip(1).Select(l => l.Split(',')).Where(c => c[0] == "train").Select(c => c[3]).ToArray();

    /// <summary>Stopping midway and resuming gives the same loss sequence, bit for bit, as one uninterrupted run.</summary>
    [Fact]
    public void ResumeIsExact()
    {
        string straight = TempDir(), split = TempDir();
        try
        {
            var full = new Trainer(Small(straight), new Recorder()).Run();
            Assert.True(full.Completed);
            Assert.Equal(10, full.Steps);

            // Stop in the middle of the second epoch, then continue from the checkpoint's own options.
            var first = new Trainer(Small(split) with { StopAfterSteps = 7 }, new Recorder()).Run();
            Assert.False(first.Completed);
            var resumedOptions = Trainer.OptionsFromCheckpoint(split) with { StopAfterSteps = null };
            var second = new Trainer(resumedOptions, new Recorder()).Run(resume: true);
            Assert.True(second.Completed);

            Assert.Equal(Losses(straight), Losses(split));
            Assert.Equal(full.LastTestAccuracy, second.LastTestAccuracy);
            Assert.True(File.Exists(Path.Combine(split, "curves.svg")));
        }
        finally
        {
            Directory.Delete(straight, true);
            Directory.Delete(split, true);
        }
    }

    /// <summary>A stop right after an epoch's last batch still evaluates that epoch when resumed.</summary>
    [Fact]
    public void ResumeAtAnEpochBoundaryKeepsItsEvaluation()
    {
        string straight = TempDir(), split = TempDir();
        try
        {
            var full = new Trainer(Small(straight), new Recorder()).Run();
            new Trainer(Small(split) with { StopAfterSteps = 5 }, new Recorder()).Run();
            var observer = new Recorder();
            var second = new Trainer(Trainer.OptionsFromCheckpoint(split) with { StopAfterSteps = null }, observer).Run(resume: true);
            Assert.Equal(2, observer.Epochs.Count);
            Assert.Equal(Losses(straight), Losses(split));
            Assert.Equal(full.LastTestAccuracy, second.LastTestAccuracy);
        }
        finally
        {
            Directory.Delete(straight, true);
            Directory.Delete(split, true);
        }
    }

    /// <summary>Cancelling (what Ctrl+C does) saves a checkpoint and stops after the current step.</summary>
    [Fact]
    public void CancellationSavesACheckpointAndStops()
    {
        string dir = TempDir();
        try
        {
            using var cancel = new CancellationTokenSource();
            var observer = new Recorder(r => { if (r.Step == 3) cancel.Cancel(); });
            var result = new Trainer(Small(dir), observer).Run(cancel: cancel.Token);
            Assert.False(result.Completed);
            Assert.Equal(3, result.Steps);
            Assert.True(File.Exists(Path.Combine(dir, Trainer.CheckpointFile)));
            Assert.Equal(3, Losses(dir).Length);
            Assert.Contains(observer.Messages, m => m.Contains("--resume"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void LearnsSomethingAndReportsEachEpoch()
    {
        string dir = TempDir();
        try
        {
            var observer = new Recorder();
            var result = new Trainer(Small(dir) with { LimitTrain = 320, Epochs = 3, Lr = 3e-3 }, observer).Run();
            Assert.Equal(3, observer.Epochs.Count);
            Assert.True(observer.Epochs[^1].TrainLoss < observer.Epochs[0].TrainLoss, "the training loss should go down");
            Assert.True(result.LastTestAccuracy > 0.3, $"accuracy {result.LastTestAccuracy} is no better than chance");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BadArgumentsAreReportedClearly()
    {
        string dir = TempDir();
        try
        {
            Assert.Contains("unknown model", Assert.Throws<ArgumentException>(() => new Trainer(Small(dir) with { Model = "nope" }, new Recorder()).Run()).Message);
            Assert.Contains("unknown device 'gpu'", Assert.Throws<ArgumentException>(() => new Trainer(Small(dir) with { Device = "gpu" }, new Recorder()).Run()).Message);
            Assert.Contains("unknown dtype", Assert.Throws<ArgumentException>(() => new Trainer(Small(dir) with { DType = "f16" }, new Recorder()).Run()).Message);
            Assert.Contains("unknown loss", Assert.Throws<ArgumentException>(() => new Trainer(Small(dir) with { Loss = "hinge" }, new Recorder()).Run()).Message);
            Assert.Throws<FileNotFoundException>(() => Trainer.OptionsFromCheckpoint(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
