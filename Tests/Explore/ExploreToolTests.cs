using System.Text.Json;
using Engine.Autograd;
using Engine.Diagnostics;
using Engine.Models.Explore;
using Engine.Models.Nn;
using Engine.Models.Serialization;
using Engine.Models.Zoo;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Explore;

public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"explore-{Guid.NewGuid():N}");

    public TempDirectory() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public class TrainingStepTraceTests
{
    [Fact]
    public void TheSmallCnnsStepShowsEveryLayerInTableGraphSummaryAndProfile()
    {
        using var model = ExploreData.Model("cnn");
        var (images, labels) = ExploreData.EvalImages(4);
        using (images)
        using (labels)
        using (var trace = TrainingStepTrace.Run(model, images, labels, warmupSteps: 1))
        {
            var ops = trace.Nodes.Select(n => n.Op).ToList();
            Assert.Equal(["conv2d", "batch_norm", "relu", "max_pool2d", "conv2d", "batch_norm", "relu", "max_pool2d", "view", "linear", "cross_entropy"], ops);
            Assert.True(double.IsFinite(trace.LossValue));

            var table = trace.Table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(1 + ops.Count, table.Length);
            Assert.Contains("<features.0.weight", table[1]);
            Assert.Contains("[4, 32, 32, 32]", table[1]);
            Assert.All(trace.Nodes.Where(n => n.Op != "view"), n => Assert.True(n.SavedBytesAtRecord > 0, n.Op));
            Assert.All(trace.Nodes, n => Assert.True(n.IsReleased));

            Assert.StartsWith("digraph tape {", trace.Dot);
            Assert.Equal(ops.Count, trace.Dot.Split('\n').Count(l => l.Contains("[shape=box")));
            Assert.Contains("label=\"head.weight", trace.Dot);
            Assert.Contains("conv2d", trace.Summary);

            var events = trace.Profile.Events;
            Assert.Equal(ops.Count, events.Count(e => e.Phase == ProfilePhase.Forward));
            Assert.Equal(ops.Count, events.Count(e => e.Phase == ProfilePhase.Backward));
            Assert.Equal(["forward", "backward", "optimizer"], events.Where(e => e.Phase == ProfilePhase.Mark).Select(e => e.Label));
            Assert.Equal(ops, events.Where(e => e.Phase == ProfilePhase.Forward).Select(e => e.Label));
            Assert.Equal(Enumerable.Reverse(ops), events.Where(e => e.Phase == ProfilePhase.Backward).Select(e => e.Label));
            Assert.Null(TapeListeners.Current);
        }
    }

    /// <summary>Any classifier works, not only the zoo's: here a linear layer on flattened pixels.</summary>
    private sealed class LinearProbe : Module<Tensor, Tensor>
    {
        private readonly Linear _fc = new(3 * 32 * 32, 10, generator: new Generator(4));

        public LinearProbe() => RegisterModule("fc", _fc);

        public override Tensor Forward(Tensor input) => _fc.Call(input.Flatten(1));
    }

    [Fact]
    public void AHandBuiltModelsStepIsTracedToo()
    {
        using var model = new LinearProbe();
        var (images, labels) = ExploreData.EvalImages(4);
        using (images)
        using (labels)
        using (var trace = TrainingStepTrace.Run(model, images, labels, warmupSteps: 0))
        {
            Assert.Equal(["linear", "cross_entropy"], trace.Nodes.Select(n => n.Op)); // the flatten of the images needs no gradient
            Assert.Contains("<fc.weight", trace.Table);
            var linear = trace.Profile.ByOp().Single(p => p.Op == "linear");
            Assert.Equal((1, 1), (linear.Calls, linear.BackwardCalls));
            Assert.Equal(4 * 10 * 4, linear.OutputBytes);
        }
    }

    [Fact]
    public void ParametersAreNamedAfterTheirPathsUnlessAlreadyNamed()
    {
        using var model = ModelZoo.Create("cnn", ExploreData.InputShape, 10, new Generator(0));
        model.Parameters().First().Name = "mine";
        TrainingStepTrace.NameParameters(model);
        Assert.Equal(["mine", "features.1.weight", "features.1.bias"], model.Parameters().Take(3).Select(p => p.Name));
    }
}

public class ErfReportTests
{
    [Fact]
    public void InitAndTrainedFieldsAreWrittenAsPngsWithTheirNumbers()
    {
        using var dir = new TempDirectory();
        // A "trained" checkpoint: another initialisation, saved as the trainer saves it.
        string ckptDir = Path.Combine(dir.Path, "run");
        Directory.CreateDirectory(ckptDir);
        using (var other = ModelZoo.Create("cnn", ExploreData.InputShape, 10, new Generator(99)))
            Checkpoint.Save(Path.Combine(ckptDir, Engine.Models.Training.Trainer.CheckpointFile), other.StateDict());

        string outDir = Path.Combine(dir.Path, "erf");
        var results = ErfReport.Run("cnn", ckptDir, "all", images: 8, outDir, cellSize: 4);
        Assert.Equal(6, results.Count);
        Assert.Equal(["init", "init", "init", "trained", "trained", "trained"], results.Select(r => r.State));
        foreach (var r in results)
        {
            var png = PngReader.Read(r.PngPath);
            Assert.Equal(32 * 4, png.Height);
            Assert.True(png.Width > 32 * 4);
            Assert.Equal(3, png.Channels);
            // The brightest cell is drawn in the ramp's top colour.
            int y = 0, x = 0;
            double best = -1;
            for (int i = 0; i < 32; i++) for (int j = 0; j < 32; j++) if (r.Map[i, j] > best) (best, y, x) = (r.Map[i, j], i, j);
            var top = Heatmap.Colour(1);
            Assert.Equal((top.R, top.G, top.B), png.Pixel(x * 4, y * 4));
        }
        // Same architecture, so the same support; different weights, so different values.
        Assert.Equal(results[2].Map.SupportBox(), results[5].Map.SupportBox());
        Assert.NotEqual(results[2].Map.Values, results[5].Map.Values);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "erf.json")));
        var fields = json.RootElement.GetProperty("fields");
        Assert.Equal(6, fields.GetArrayLength());
        Assert.Equal(8, json.RootElement.GetProperty("images").GetInt32());
        Assert.Equal(9, fields[0].GetProperty("support").GetInt32());
        Assert.Equal("erf-trained-features.png", fields[5].GetProperty("png").GetString());
        Assert.Contains("features.6", ErfReport.Format(results));
    }

    [Fact]
    public void TheModelNameComesFromATrainersCheckpoint()
    {
        using var dir = new TempDirectory();
        using var model = ModelZoo.Create("cnn", ExploreData.InputShape, 10, new Generator(1));
        string path = Path.Combine(dir.Path, Engine.Models.Training.Trainer.CheckpointFile);
        Checkpoint.Save(path, model.StateDict(), metadata: new Dictionary<string, string>
        {
            ["train_options"] = JsonSerializer.Serialize(new Engine.Models.Training.TrainOptions { Model = "cnn" }),
        });
        Assert.Equal("cnn", ExploreData.ModelNameOf(dir.Path));
        Assert.Contains("no checkpoint at", Assert.Throws<FileNotFoundException>(() => ExploreData.ModelNameOf(Path.Combine(dir.Path, "nothing"))).Message);
    }
}

public class BackbonePictureTests
{
    /// <summary>A stand-in backbone that draws its first conv's filters' energy and the mean input image.</summary>
    private sealed class Drawn : Module<Tensor, Tensor>, IBackbonePicture
    {
        private readonly Conv2d _conv = new(3, 2, 3, padding: 1, generator: new Generator(5));

        public Drawn() => RegisterModule("conv", _conv);

        public bool SawEval { get; private set; }

        public override Tensor Forward(Tensor input) => _conv.Call(input);

        public IReadOnlyList<BackbonePicture> DrawPictures(PictureRequest request)
        {
            SawEval = !Training && !Tape.IsRecording;
            var mean = request.Images.Mean(0).Mean(0).ToDType(DType.F64).ToArray<double>().Select(v => v - (-1)).ToArray();
            return [new BackbonePicture("mean-input", "The mean image.", Heatmap.Render(mean, 32, 32, 2))];
        }
    }

    private sealed class Plain : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => input;
    }

    [Fact]
    public void ABackboneThatDrawsGetsItsPicturesWrittenAsPngs()
    {
        using var dir = new TempDirectory();
        using var model = new Drawn();
        var (images, labels) = ExploreData.EvalImages(4);
        using (images)
        using (labels)
        {
            var paths = BackbonePictures.Write(model, new PictureRequest(images, labels, []), dir.Path);
            Assert.Equal("mean-input.png", Path.GetFileName(Assert.Single(paths)));
            Assert.Equal(64, PngReader.Read(paths[0]).Height);
            Assert.True(model.SawEval);
            Assert.True(model.Training);
        }
    }

    [Fact]
    public void AModelWithoutPicturesIsToldHowToAddThem()
    {
        using var model = new Plain();
        Assert.False(BackbonePictures.Has(model));
        using var scope = Tensor.Scope();
        var e = Assert.Throws<NotSupportedException>(() => BackbonePictures.Write(model, new PictureRequest(Tensor.Zeros([1, 3, 32, 32]), Tensor.Zeros([1]), []), "unused"));
        Assert.Contains("Plain draws no pictures of its own yet; implement Engine.Models.Explore.IBackbonePicture", e.Message);
    }
}
