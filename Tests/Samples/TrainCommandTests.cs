using Engine.Models.Data.Images;
using Engine.Tests.Models;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary><c>engine train --data DIR --image-size N</c> as a user runs it: a generated JPEG folder trains, evaluates and gets its charts.</summary>
public class TrainCommandTests
{
    [CliBuiltFact]
    public void A_folder_of_jpegs_trains_from_the_command_line_and_draws_its_curves()
    {
        var root = Directory.CreateTempSubdirectory("engine-train-cli-").FullName;
        try
        {
            ImageFolders.WriteSplits(Path.Combine(root, "photos"), ["cat", "dog"], trainPerClass: 4, valPerClass: 2);
            File.WriteAllText(Path.Combine(root, "photos", "train", "cat", "broken.jpg"), "not a jpeg");
            string run = Path.Combine(root, "run");
            string[] args = ["train", "--data", Path.Combine(root, "photos"), "--image-size", "32", "--model", "cnn", "--epochs", "2", "--batch", "4",
                "--warmup-steps", "1", "--out", run];

            var (refused, _, refusedErr) = EngineProcess.Run(args);
            Assert.Equal(2, refused);
            Assert.Contains(Path.Combine(root, "photos", "train", "cat", "broken.jpg"), refusedErr);

            var (code, stdout, stderr) = EngineProcess.Run([.. args, "--skip-unreadable"]);
            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            Assert.Contains("warning: skipped image: cannot decode", stdout);
            Assert.Contains("8 train / 4 test images, 2 classes, 32x32 crops", stdout);
            Assert.Contains("epoch 2/2: train loss", stdout);
            Assert.Contains("test top-1", stdout);
            foreach (var file in new[] { "curves.png", "curves.svg", "metrics.csv", "checkpoint.safetensors" })
                Assert.True(File.Exists(Path.Combine(run, file)), file);
            var png = ImageFile.Read(Path.Combine(run, "curves.png"));
            Assert.Equal((1000, 900), (png.Height, png.Width));
        }
        finally { Directory.Delete(root, true); }
    }
}
