using Engine.Tutorials;
using Xunit;

namespace Engine.Tests.Explore;

public class TutorialSnippetTests
{
    private static string Tutorials => Path.Combine(Snippets.RepositoryRoot(), "docs", "tutorials");

    /// <summary>Set ENGINE_UPDATE_SNIPPETS=1 to rewrite the pages' code blocks from the sample files instead of checking them.</summary>
    [Fact]
    public void EveryCodeBlockEqualsItsCompiledRegion()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_UPDATE_SNIPPETS") == "1") Snippets.Sync(Tutorials);
        var embeddings = Snippets.Embeddings(Tutorials);
        Assert.NotEmpty(embeddings);
        foreach (var e in embeddings)
        {
            Assert.True(e.Expected is not null, $"{e.Page}:{e.Line}: {e.File} has no region '{e.Region}'.");
            Assert.True(e.Shown == e.Expected,
                $"{e.Page}:{e.Line}: the block differs from {e.File}#{e.Region} (run this test with ENGINE_UPDATE_SNIPPETS=1 to rewrite it).\n--- shown\n{e.Shown}\n--- compiled\n{e.Expected}");
        }
    }

    [Fact]
    public void EveryRegionIsShownOnAPage()
    {
        var shown = Snippets.Embeddings(Tutorials).Select(e => (e.File, e.Region)).ToHashSet();
        foreach (var file in Directory.GetFiles(Path.Combine(Tutorials, "code"), "*.cs"))
            foreach (var region in Snippets.Regions(file).Keys)
                Assert.Contains(("code/" + Path.GetFileName(file), region), shown);
    }
}

public class TutorialRunTests
{
    [Fact]
    public void TensorsAndTheTape()
    {
        var output = new StringWriter();
        using var scope = Tensor.Scope();
        Tutorial01TensorsAndTheTape.Tensors(output);
        Assert.Contains("x [2, 3], t [3, 2], t contiguous: False", output.ToString());
        Assert.Contains("same storage: True", output.ToString());
        var (loss, w) = Tutorial01TensorsAndTheTape.Tape(output);
        Assert.Contains("<w", output.ToString());
        Tutorial01TensorsAndTheTape.Backward(loss, w, output);
        Assert.Contains("w.Grad: [3, 2]", output.ToString());
        Assert.True(Tutorial01TensorsAndTheTape.Check().Passed);
        var profiler = Tutorial01TensorsAndTheTape.Profile(output);
        Assert.Equal(["matmul", "relu", "sum"], profiler.ByOp().Select(p => p.Op).Order());
        Assert.Equal(11, Tutorial01TensorsAndTheTape.Step(output));
    }

    [Fact]
    public void WriteYourOwnOperator()
    {
        using var scope = Tensor.Scope();
        Assert.True(Tutorial02CustomOperator.CheckOnce().Passed);
        Assert.Contains("squareplus", Tutorial02CustomOperator.OnTheTape());
        // The values themselves: squareplus(0) = sqrt(b) / 2, and it tends to x for large x and to 0 for very negative x.
        var y = SquarePlus.Apply(Tensor.FromArray(new double[] { 0, 1000, -1000 }), b: 4).ToArray<double>();
        Assert.Equal(1, y[0], 12);
        Assert.Equal(1000.001, y[1], 6);
        Assert.Equal(0.001, y[2], 6);
    }

    [Fact]
    public void TrainingABackbone()
    {
        using var dir = new TempDirectory();
        var output = new StringWriter();
        string run = Path.Combine(dir.Path, "run");
        var result = Tutorial04TrainingABackbone.Train(run, output, limitTrain: 256, limitTest: 128);
        Assert.True(result.Completed, output.ToString());
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.safetensors")));
        Assert.Contains("epoch 1: train loss", output.ToString());
        var (accuracy, loss) = Tutorial04TrainingABackbone.Evaluate(run);
        Assert.InRange(accuracy, 0, 1);
        Assert.True(double.IsFinite(loss));
        var fields = Tutorial04TrainingABackbone.ReceptiveFields(run, Path.Combine(dir.Path, "erf"), output);
        Assert.Equal(["init", "trained"], fields.Select(f => f.State));
        Assert.All(fields, f => Assert.Equal((32, 32), (PngReader.Read(f.PngPath).Height / 8, 32)));
    }
}
