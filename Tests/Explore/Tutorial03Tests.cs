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

    [Theory]
    [InlineData("dualvit-nano", 3)]
    public void EveryBackboneDrawsItsPictures(string model, int pictures)
    {
        using var dir = new TempDirectory();
        var paths = Tutorial03TokenMixers.Pictures(model, checkpoint: null, dir.Path);
        Assert.Equal(pictures, paths.Count);
        Assert.All(paths, p => Assert.True(PngReader.Read(p).Width > 0));
    }
}
