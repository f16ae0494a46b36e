using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataCatalogTests
{
    [Fact]
    public void LoadsTheBuiltInSetsByName()
    {
        Assert.Equal(["fashion-mnist", "fashion-mnist-small", "mnist", "cifar10", "synthetic"], DatasetCatalog.Names);
        var (train, test) = DatasetCatalog.Load("fashion-mnist-small");
        Assert.Equal((6000, 1000), (train.Count, test.Count));
        var (synthTrain, synthTest) = DatasetCatalog.Load("synthetic");
        Assert.Equal((6000, 1000), (synthTrain.Count, synthTest.Count));
        Assert.Equal(new ImageShape(1, 28, 28), synthTest.Shape);
    }

    [Fact]
    public void MissingFolderOrUnknownNameIsExplained()
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetCatalog.Load("cifar10"));
        Assert.Equal("dataset cifar10: needs a data folder (--data-dir) with its files.", e.Message);
        e = Assert.Throws<ArgumentException>(() => DatasetCatalog.Load("imagenet"));
        Assert.Equal("unknown dataset 'imagenet'; known: fashion-mnist, fashion-mnist-small, mnist, cifar10, synthetic, or a folder with train/ and val/ image folders.", e.Message);
    }

    [Fact]
    public void MnistReadsIdxFilesFromTheFolder()
    {
        using var dir = new TempDir();
        foreach (var (prefix, count) in new[] { ("train", 3), ("t10k", 2) })
        {
            File.WriteAllBytes(dir.File($"{prefix}-images-idx3-ubyte.gz"), DataFiles.Gzip(DataFiles.Idx([count, 28, 28], DataFiles.Pattern(count, 784))));
            File.WriteAllBytes(dir.File($"{prefix}-labels-idx1-ubyte"), DataFiles.Idx([count], new byte[count]));
        }
        var (train, test) = DatasetCatalog.Load("mnist", dir.Path);
        Assert.Equal((3, 2), (train.Count, test.Count));
        Assert.Equal("7", train.ClassNames[7]);
        Assert.Equal("mnist train", train.Name);
    }
}
