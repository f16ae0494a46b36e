using System.Text.Json;
using Engine.Autograd;
using Engine.Models.Data;
using Engine.Models.Serialization;
using Engine.Models.Zoo;
using Engine.Tests.Models.Pth;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine predict</c>: a Nano trained for a few steps by <c>engine train</c> on the embedded Fashion-MNIST
/// classifies PNGs cut from the test set exactly as the engine's own evaluation does; PyTorch weights load too.
/// </summary>
public class PredictCommandTests
{
    [Fact]
    public void ATrainedCheckpointPredictsAsTheEnginesEvaluation()
    {
        var dir = Directory.CreateTempSubdirectory("predict");
        try
        {
            var run = Path.Combine(dir.FullName, "run");
            var (code, _, stderr) = EngineProcess.Run("train", "--model", "sequencer-nano", "--epochs", "1", "--batch", "32",
                "--limit-train", "160", "--limit-test", "32", "--warmup-steps", "1", "--out", run, "--device", "cpu");
            Assert.True(code == 0, stderr);
            var checkpoint = Path.Combine(run, "checkpoint.safetensors");

            var test = FashionMnist.LoadSmall().Test;
            int[] picks = [0, 1, 2, 3, 5, 8];
            var images = picks.Select(i => WritePng(Path.Combine(dir.FullName, $"test{i}.png"), test.Get(i).Image)).ToArray();
            (code, var stdout, stderr) = EngineProcess.Run(["predict", "--weights", checkpoint, .. images]);
            Assert.True(code == 0, stderr);
            var predictions = EngineProcess.LastJsonLine(stdout).GetProperty("predictions").EnumerateArray().ToList();
            Assert.Equal(picks.Length, predictions.Count);

            // The engine's own evaluation of the same test images: the trainer's eval recipe, batch of one.
            using var scope = Tensor.Scope();
            using var weights = StateDictFile.Read(checkpoint);
            using var model = ModelZoo.Create("sequencer-nano", new ImageShape(3, 32, 32), 10, new Engine.Randomness.Generator(1));
            model.LoadStateDict(weights.Tensors);
            model.Eval();
            var recipe = Recipes.FashionMnist(augment: false);
            for (int k = 0; k < picks.Length; k++)
            {
                var image = recipe.Eval.Apply(test.Get(picks[k]).Image, new SampleRandom(0, 0, 0, 0));
                double[] logits;
                using (Tape.NoGrad()) logits = model.Forward(Tensor.FromArray(image.Pixels, [1, 3, 32, 32])).ToDType(DType.F64).ToArray<double>();
                int best = Array.IndexOf(logits, logits.Max());
                double probability = 1 / logits.Sum(l => Math.Exp(l - logits[best]));
                var top = predictions[k].GetProperty("top").EnumerateArray().ToList();
                Assert.Equal(5, top.Count);
                Assert.Equal(images[k], predictions[k].GetProperty("image").GetString());
                Assert.Equal(best, top[0].GetProperty("index").GetInt32());
                Assert.Equal(IdxDataset.FashionClasses[best], top[0].GetProperty("name").GetString());
                Assert.Equal(probability, top[0].GetProperty("probability").GetDouble(), 1e-6);
                Assert.Contains($"1. {IdxDataset.FashionClasses[best]}", stdout);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void PyTorchWeightsPredictWithTheirClassCountAndBadInputIsNamed()
    {
        var dir = Directory.CreateTempSubdirectory("predict");
        try
        {
            var png = WritePng(Path.Combine(dir.FullName, "x.png"), FashionMnist.LoadSmall().Test.Get(0).Image);
            var (code, stdout, stderr) = EngineProcess.Run("predict", "--model", "vheat-nano", "--weights", PthFiles.Path("nano_vheat.pth"), png);
            Assert.True(code == 0, stderr);
            var top = EngineProcess.LastJsonLine(stdout).GetProperty("predictions")[0].GetProperty("top").EnumerateArray().ToList();
            Assert.Equal(5, top.Count);
            Assert.All(top, t => Assert.InRange(t.GetProperty("index").GetInt32(), 0, 9)); // 10 classes, read from the weights
            Assert.Equal("class " + top[0].GetProperty("index").GetInt32(), top[0].GetProperty("name").GetString());

            var labels = Path.Combine(dir.FullName, "labels.txt");
            File.WriteAllLines(labels, Enumerable.Range(0, 10).Select(i => $"label-{i}"));
            (code, stdout, stderr) = EngineProcess.Run("predict", "--model", "vheat-nano", "--weights", PthFiles.Path("nano_vheat.pth"), "--labels", labels, png);
            Assert.True(code == 0, stderr);
            var first = EngineProcess.LastJsonLine(stdout).GetProperty("predictions")[0].GetProperty("top")[0];
            Assert.Equal($"label-{first.GetProperty("index").GetInt32()}", first.GetProperty("name").GetString());
            File.WriteAllLines(labels, ["only", "three", "names"]);
            (code, _, stderr) = EngineProcess.Run("predict", "--model", "vheat-nano", "--weights", PthFiles.Path("nano_vheat.pth"), "--labels", labels, png);
            Assert.Equal(2, code);
            Assert.Contains("has 3 class names, but the model has 10 classes", stderr);

            var notImage = Path.Combine(dir.FullName, "notes.png");
            File.WriteAllText(notImage, "not an image");
            (code, _, stderr) = EngineProcess.Run("predict", "--model", "vheat-nano", "--weights", PthFiles.Path("nano_vheat.pth"), notImage);
            Assert.Equal(2, code);
            Assert.Contains(notImage, stderr);

            (code, _, stderr) = EngineProcess.Run("predict", "--model", "affnet-nano", "--weights", PthFiles.Path("nano_vheat.pth"), png);
            Assert.Equal(2, code);
            Assert.Contains("Error(s) in loading state_dict for AffNet", stderr);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void ThousandClassWeightsPrintImageNetsClassNames()
    {
        var dir = Directory.CreateTempSubdirectory("predict");
        try
        {
            using var scope = Tensor.Scope();
            using var model = Engine.Models.Zoo.ModelZoo.Create("vheat-nano", new ImageShape(3, 32, 32), 1000, new Engine.Randomness.Generator(7));
            var weights = Path.Combine(dir.FullName, "imagenet-style.safetensors");
            Engine.Models.Serialization.SafeTensors.Write(weights, model.StateDict());
            var png = WritePng(Path.Combine(dir.FullName, "x.png"), FashionMnist.LoadSmall().Test.Get(0).Image);

            var (code, stdout, stderr) = EngineProcess.Run("predict", "--model", "vheat-nano", "--weights", weights, png);
            Assert.True(code == 0, stderr);
            var names = File.ReadAllLines(Path.Combine(RepositoryRoot(), "Samples", "Cli", "Predict", "imagenet-classes.txt"));
            Assert.Equal(1000, names.Length);
            Assert.Equal(("tench", "toilet tissue"), (names[0], names[999]));
            var top = EngineProcess.LastJsonLine(stdout).GetProperty("predictions")[0].GetProperty("top").EnumerateArray().ToList();
            Assert.Equal(5, top.Count);
            Assert.All(top, t => Assert.Equal(names[t.GetProperty("index").GetInt32()], t.GetProperty("name").GetString()));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Engine.sln above {AppContext.BaseDirectory}: the test reads the shipped class list.");
    }

    /// <summary>Writes a grey 8-bit PNG of <paramref name="image"/> (pixels in [0, 1], as bytes / 255) and returns its path.</summary>
    internal static string WritePng(string path, ChwImage image)
    {
        int h = image.Shape.Height, w = image.Shape.Width;
        var samples = new byte[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) samples[y * w + x] = (byte)Math.Round(image[0, y, x] * 255);
        File.WriteAllBytes(path, Engine.Models.Explore.PngEncoder.Encode(w, h, samples, channels: 1));
        return path;
    }
}
