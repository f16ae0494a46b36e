using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataRandomTests
{
    [Theory]
    [InlineData(0.2, 0.2)]
    [InlineData(1.0, 1.0)]
    [InlineData(2.5, 0.7)]
    public void BetaHasTheRightMeanAndVariance(double a, double b)
    {
        const int n = 20000;
        var random = new SampleRandom(11, 9, 0, 0);
        var samples = Enumerable.Range(0, n).Select(_ => random.NextBeta(a, b)).ToArray();
        Assert.All(samples, s => Assert.InRange(s, 0, 1));
        double mean = samples.Average(), variance = samples.Sum(s => (s - mean) * (s - mean)) / n;
        double wantMean = a / (a + b), wantVariance = a * b / ((a + b) * (a + b) * (a + b + 1));
        Assert.Equal(wantMean, mean, 0.01);
        Assert.Equal(wantVariance, variance, 0.01);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(1.0)]
    [InlineData(7.0)]
    public void GammaHasMeanAndVarianceEqualToItsShape(double shape)
    {
        const int n = 20000;
        var random = new SampleRandom(5, 9, 1, 2);
        var samples = Enumerable.Range(0, n).Select(_ => random.NextGamma(shape)).ToArray();
        double mean = samples.Average(), variance = samples.Sum(s => (s - mean) * (s - mean)) / n;
        Assert.Equal(shape, mean, 0.05 * Math.Sqrt(shape) + 0.01);
        Assert.Equal(shape, variance, 0.1 * shape);
    }

    [Fact]
    public void DrawsArePureFunctionsOfTheirCoordinates()
    {
        double First(ulong seed, uint stream, uint epoch, uint index) => new SampleRandom(seed, stream, epoch, index).NextDouble();
        Assert.Equal(First(1, 2, 3, 4), First(1, 2, 3, 4));
        var variants = new[] { First(1, 2, 3, 4), First(2, 2, 3, 4), First(1, 3, 3, 4), First(1, 2, 4, 4), First(1, 2, 3, 5) };
        Assert.Equal(variants.Length, variants.Distinct().Count());

        var r = new SampleRandom(3, 1, 0, 0);
        var counts = new int[5];
        for (int i = 0; i < 5000; i++) counts[r.NextInt(5)]++;
        Assert.All(counts, c => Assert.InRange(c, 900, 1100));
        Assert.Equal(Enumerable.Range(0, 10), new SampleRandom(3, 1, 0, 0).Permutation(10).Order());
    }
}
