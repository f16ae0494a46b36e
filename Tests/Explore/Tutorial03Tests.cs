using Engine.Tutorials;
using Xunit;

namespace Engine.Tests.Explore;

public class Tutorial03Tests
{
    [Fact]
    public void DualVitsSemanticAttention()
    {
        var output = new StringWriter();
        double peak = Tutorial03TokenMixers.DualVitAttention(output);
        Assert.Contains("2 heads x 16 semantic tokens, each over a 8x8 grid of pixel tokens", output.ToString());
        Assert.Contains("row sum 1.000000", output.ToString());
        Assert.InRange(peak, 1, 64);
    }

    [Fact]
    public void HeatOnAnImage()
    {
        var output = new StringWriter();
        var roughness = Tutorial03TokenMixers.HeatOnAnImage(output);
        for (int i = 1; i < roughness.Length; i++) Assert.True(roughness[i] < roughness[i - 1]);
        var means = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split("mean ")[1].Split(',')[0]).Distinct();
        Assert.Single(means);
    }

    [Fact]
    public void AffNetsMask()
    {
        var output = new StringWriter();
        double zeroed = Tutorial03TokenMixers.AffNetMask(output);
        Assert.Contains("layer_3.1.global_rep.0.filter: 48 channels in 8 groups, a 8x5 half spectrum", output.ToString());
        Assert.InRange(zeroed, 0, 1);
    }

    [Fact]
    public void SequencersStates()
    {
        var output = new StringWriter();
        var means = Tutorial03TokenMixers.SequencerStates(output);
        Assert.Equal(4, means.Length);
        Assert.All(means, m => Assert.InRange(m, 0, Math.Sqrt(8)));
        Assert.Contains("Down ", output.ToString());
    }

    [Theory]
    [InlineData("dualvit-nano", 3)]
    [InlineData("affnet-nano", 3)]
    [InlineData("vheat-nano", 4)]
    [InlineData("sequencer-nano", 4)]
    public void EveryBackboneDrawsItsPictures(string model, int pictures)
    {
        using var dir = new TempDirectory();
        var paths = Tutorial03TokenMixers.Pictures(model, checkpoint: null, dir.Path);
        Assert.Equal(pictures, paths.Count);
        Assert.All(paths, p => Assert.True(PngReader.Read(p).Width > 0));
    }
}

public class BackboneErfTests
{
    /// <summary>What <c>engine explore erf --checkpoint RUN</c> does for each backbone, on a two-step training run.</summary>
    [Theory]
    [InlineData("vheat-nano", "layers.2.2")]
    [InlineData("affnet-nano", "layer_5")]
    [InlineData("sequencer-nano", "blocks.3.0")]
    [InlineData("dualvit-nano", "norm3")]
    public void FieldsAtInitialisationAndAfterTraining(string model, string defaultStage)
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var options = new Engine.Models.Training.TrainOptions
        {
            Model = model, Data = "fashion-mnist-small", Epochs = 1, Batch = 32, LimitTrain = 64, LimitTest = 32, WarmupSteps = 1, Device = "cpu", Out = run,
        };
        Assert.True(new Engine.Models.Training.Trainer(options, new LineObserver(TextWriter.Null)).Run().Completed);
        Assert.Equal(model, Engine.Models.Explore.ExploreData.ModelNameOf(run));
        var fields = Engine.Models.Explore.ErfReport.Run(model, run, stage: null, images: 4, Path.Combine(dir.Path, "erf"));
        Assert.Equal(["init", "trained"], fields.Select(f => f.State));
        Assert.All(fields, f => Assert.Equal(defaultStage, f.Map.Stage.Path));
        Assert.All(fields, f => Assert.True(f.Map.Max > 0 && f.Map.Support() > 0));
        Assert.NotEqual(fields[0].Map.Values, fields[1].Map.Values);
        Assert.All(fields, f => Assert.Equal((32, 32), (f.Map.Height, f.Map.Width)));
        Assert.True(File.Exists(Path.Combine(dir.Path, "erf", "erf.json")));
    }
}
