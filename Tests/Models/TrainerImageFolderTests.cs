using Engine.Models.Training;
using Xunit;

namespace Engine.Tests.Models;

/// <summary><c>train --data DIR --image-size N</c> in process: a folder of generated JPEGs trains and evaluates end to end.</summary>
public class TrainerImageFolderTests
{
    private sealed class Recorder : ITrainingObserver
    {
        public List<string> Messages { get; } = [];
        public List<EpochReport> Epochs { get; } = [];
        public void Message(string text) => Messages.Add(text);
        public void Step(StepReport report) { }
        public void Epoch(EpochReport report) => Epochs.Add(report);
    }

    [Fact]
    public void A_folder_of_jpegs_trains_and_evaluates()
    {
        var root = Directory.CreateTempSubdirectory("engine-train-folder-").FullName;
        try
        {
            // Three classes told apart by their dominant colour, which survives random crops and flips.
            ImageFolders.WriteSplits(Path.Combine(root, "data"), ["blue", "green", "red"], trainPerClass: 8, valPerClass: 3);
            var options = new TrainOptions
            {
                Model = "cnn", Data = Path.Combine(root, "data"), ImageSize = 32, Epochs = 4, Batch = 8,
                WarmupSteps = 2, Lr = 3e-3, Out = Path.Combine(root, "run"), Seed = 3,
            };
            var recorder = new Recorder();
            var result = new Trainer(options, recorder).Run();

            Assert.True(result.Completed);
            Assert.Equal(4 * 3, result.Steps);
            Assert.Contains(recorder.Messages, m => m.Contains("24 train / 9 test images, 3 classes, 32x32 crops (evaluation: resize to 36, crop_pct 0.875)"));
            Assert.Equal(4, recorder.Epochs.Count);
            Assert.True(recorder.Epochs[^1].TestLoss < recorder.Epochs[0].TestLoss, $"test loss {recorder.Epochs[0].TestLoss} -> {recorder.Epochs[^1].TestLoss}");
            Assert.True(result.LastTestAccuracy > 0.5, $"test top-1 {result.LastTestAccuracy} on three colour classes (chance: 1/3)");
            Assert.True(File.Exists(Path.Combine(options.Out, Trainer.CheckpointFile)));
            Assert.Equal(32, Trainer.OptionsFromCheckpoint(options.Out).ImageSize);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Image_size_with_a_bundled_dataset_and_a_folder_without_val_are_errors()
    {
        var root = Directory.CreateTempSubdirectory("engine-train-folder-").FullName;
        try
        {
            var e = Assert.Throws<ArgumentException>(() => new Trainer(new TrainOptions { Data = "synthetic", ImageSize = 32, Out = root }, new Recorder()).Run());
            Assert.Contains("--image-size", e.Message);
            ImageFolders.WriteJpeg(Path.Combine(root, "data", "train", "a", "x.jpg"), 0, 8, 8, 1);
            // Without val/ the folder is not an image dataset, and the catalog says what it expects.
            var unknown = Assert.Throws<ArgumentException>(() => new Trainer(new TrainOptions { Data = Path.Combine(root, "data"), Out = root }, new Recorder()).Run());
            Assert.Contains("train/ and val/", unknown.Message);
            ImageFolders.WriteJpeg(Path.Combine(root, "data", "val", "b", "x.jpg"), 0, 8, 8, 1);
            var mismatch = Assert.Throws<InvalidDataException>(() => new Trainer(new TrainOptions { Data = Path.Combine(root, "data"), Out = root }, new Recorder()).Run());
            Assert.Contains("must be the same", mismatch.Message);
        }
        finally { Directory.Delete(root, true); }
    }
}
