using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataCifarTests
{
    /// <summary>Records with the given labels; pixel p of record r is (r + 3 p) mod 256.</summary>
    private static byte[] Records(int first, params byte[] labels)
    {
        var bytes = new byte[labels.Length * 3073];
        for (int r = 0; r < labels.Length; r++)
        {
            bytes[r * 3073] = labels[r];
            for (int p = 0; p < 3072; p++) bytes[r * 3073 + 1 + p] = (byte)((first + r + 3 * p) % 256);
        }
        return bytes;
    }

    [Fact]
    public void ReadsRecordsAsChwInFileOrder()
    {
        using var dir = new TempDir();
        for (int b = 1; b <= 5; b++) File.WriteAllBytes(dir.File($"data_batch_{b}.bin"), Records(10 * b, (byte)b, (byte)(9 - b)));
        File.WriteAllBytes(dir.File("test_batch.bin"), Records(0, 7));

        var train = Cifar10Dataset.FromDirectory(dir.Path, train: true);
        Assert.Equal(10, train.Count);
        Assert.Equal(new ImageShape(3, 32, 32), train.Shape);
        Assert.Equal([1, 8, 2, 7, 3, 6, 4, 5, 5, 4], Enumerable.Range(0, 10).Select(train.LabelAt));
        var sample = train.Get(3); // record 1 of data_batch_2
        Assert.Equal(7, sample.Label);
        Assert.Equal((21 + 3 * 0) / 255f, sample.Image[0, 0, 0]);
        Assert.Equal((21 + 3 * (1024 + 32 * 5 + 6)) % 256 / 255f, sample.Image[1, 5, 6]); // green plane, row 5, column 6
        Assert.Equal((21 + 3 * 3071) % 256 / 255f, sample.Image[2, 31, 31]);

        var test = Cifar10Dataset.FromDirectory(dir.Path, train: false);
        Assert.Equal(1, test.Count);
        Assert.Equal("truck", test.ClassNames[9]);
    }

    [Fact]
    public void FindsTheArchiveSubfolder()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("cifar-10-batches-bin"));
        File.WriteAllBytes(Path.Combine(dir.Path, "cifar-10-batches-bin", "test_batch.bin"), Records(0, 1, 2));
        Assert.Equal(2, Cifar10Dataset.FromDirectory(dir.Path, train: false).Count);
    }

    [Fact]
    public void BadFilesAreNamedWithTheProblem()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("test_batch.bin"), Records(0, 1, 2)[..^1]);
        var e = Assert.Throws<InvalidDataException>(() => Cifar10Dataset.FromDirectory(dir.Path, train: false));
        Assert.Equal("test_batch.bin: 6145 bytes is not a whole, non-zero number of 3073-byte records (1 label byte + 3072 pixel bytes).", e.Message);

        File.WriteAllBytes(dir.File("test_batch.bin"), Records(0, 1, 10));
        e = Assert.Throws<InvalidDataException>(() => Cifar10Dataset.FromDirectory(dir.Path, train: false));
        Assert.Equal("test_batch.bin: record 1 has label 10; CIFAR-10 labels are 0..9.", e.Message);

        var missing = Assert.Throws<FileNotFoundException>(() => Cifar10Dataset.FromDirectory(dir.Path, train: true));
        Assert.Contains("data_batch_1.bin not found in " + dir.Path, missing.Message);
    }
}
