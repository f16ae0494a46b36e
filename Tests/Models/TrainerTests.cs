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
            Assert.Equal(File.ReadAllLines(Path.Combine(straight, "metrics.csv")).Length, MetricsLog.Read(split).Count + 1);
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

/// <summary>
/// The trainer's dropout masks: drawn from the default generator, which is process-wide (as PyTorch's is), so these
/// run alone: another test drawing from it in parallel would change a run's masks.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class TrainerDropoutTests
{
    private sealed class Recorder : ITrainingObserver
    {
        public void Message(string text) { }
        public void Step(StepReport report) { }
        public void Epoch(EpochReport report) { }
    }

    private static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "engine-trainer-drop-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string[] Losses(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Skip(1).Select(l => l.Split(',')).Where(c => c[0] == "train").Select(c => c[3]).ToArray();

    /// <summary>vHeat's Nano with stochastic depth 0.5 (the zoo's is 0.05): enough dropped paths in a few steps that masks surely matter.</summary>
    private static IDisposable RegisterDroppingVHeat(string name) =>
        global::Engine.Models.Zoo.ModelZoo.Register(name, (shape, classes, g) => new global::Engine.Models.Backbones.VHeat.VHeat(
            global::Engine.Models.Backbones.VHeat.VHeatConfig.Nano(classes, shape.Height, shape.Width, dropPathRate: 0.5) with { InChans = shape.Channels }, generator: g));

    private static TrainOptions Dropping(string model, string dir) => new()
    {
        Model = model, Data = "fashion-mnist-small", Epochs = 1, Batch = 4, LimitTrain = 16, LimitTest = 4, WarmupSteps = 1,
        Out = dir, Seed = 3,
    };

    /// <summary>
    /// A backbone's drop-path masks come from the default generator, which the checkpoint keeps: a run stopped and
    /// resumed draws the same masks as one that never stopped (masks from the model's initialising generator would
    /// start over in the resumed process).
    /// </summary>
    [Fact]
    public void A_backbone_with_stochastic_depth_resumes_exactly()
    {
        string straight = TempDir(), split = TempDir();
        using var registration = RegisterDroppingVHeat("vheat-nano-drop-resume");
        try
        {
            new Trainer(Dropping("vheat-nano-drop-resume", straight), new Recorder()).Run();
            new Trainer(Dropping("vheat-nano-drop-resume", split) with { StopAfterSteps = 2 }, new Recorder()).Run();
            new Trainer(Trainer.OptionsFromCheckpoint(split) with { StopAfterSteps = null }, new Recorder()).Run(resume: true);
            Assert.Equal(4, Losses(straight).Length);
            Assert.Equal(Losses(straight), Losses(split));
        }
        finally
        {
            Directory.Delete(straight, true);
            Directory.Delete(split, true);
        }
    }

    /// <summary>
    /// A run's dropout depends on its seed alone: the trainer seeds the default generator (as torch.manual_seed does
    /// before a model is built), so what the process drew before the run changes nothing.
    /// </summary>
    [Fact]
    public void A_run_depends_on_its_seed_alone_not_on_what_the_process_drew_before()
    {
        string first = TempDir(), second = TempDir();
        using var registration = RegisterDroppingVHeat("vheat-nano-drop-seed");
        try
        {
            new Trainer(Dropping("vheat-nano-drop-seed", first), new Recorder()).Run();
            using (Tensor.Rand([1000], DType.F32)) { }                                  // a draw between the runs
            new Trainer(Dropping("vheat-nano-drop-seed", second), new Recorder()).Run();
            Assert.Equal(Losses(first), Losses(second));
            // The seed does reach the masks: another seed gives other losses (other weights and masks too).
            string other = TempDir();
            try
            {
                new Trainer(Dropping("vheat-nano-drop-seed", other) with { Seed = 4 }, new Recorder()).Run();
                Assert.NotEqual(Losses(first), Losses(other));
            }
            finally
            {
                Directory.Delete(other, true);
            }
        }
        finally
        {
            Directory.Delete(first, true);
            Directory.Delete(second, true);
        }
    }
}
