using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataIdxTests
{
    private static readonly byte[] Labels = [3, 1, 4, 1, 5];

    private static void WriteSet(TempDir dir, string prefix, bool gzip, int count = 5, int rows = 4, int cols = 3)
    {
        string suffix = gzip ? ".gz" : "";
        byte[] Maybe(byte[] b) => gzip ? DataFiles.Gzip(b) : b;
        File.WriteAllBytes(dir.File($"{prefix}-images-idx3-ubyte{suffix}"), Maybe(DataFiles.Idx([count, rows, cols], DataFiles.Pattern(count, rows * cols))));
        File.WriteAllBytes(dir.File($"{prefix}-labels-idx1-ubyte{suffix}"), Maybe(DataFiles.Idx([count], Labels[..count])));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsRawAndGzippedFiles(bool gzip)
    {
        using var dir = new TempDir();
        WriteSet(dir, "train", gzip);
        var set = IdxDataset.FromDirectory(dir.Path, train: true, IdxDataset.DigitClasses);
        Assert.Equal(5, set.Count);
        Assert.Equal(new ImageShape(1, 4, 3), set.Shape);
        Assert.Equal(Labels, Enumerable.Range(0, 5).Select(i => (byte)set.LabelAt(i)));
        var sample = set.Get(2);
        Assert.Equal(4, sample.Label);
        Assert.Equal(DataFiles.Pattern(5, 12).AsSpan(24, 12).ToArray().Select(b => b / 255f), sample.Image.Pixels);
        Assert.Equal((7 * 2 + 1 * 3 + 2) / 255f, sample.Image[0, 1, 2]); // row 1, column 2 of image 2
    }

    [Fact]
    public void FindsDottedFileNamesAndBothSplits()
    {
        using var dir = new TempDir();
        WriteSet(dir, "t10k", gzip: false, count: 2);
        File.Move(dir.File("t10k-images-idx3-ubyte"), dir.File("t10k-images.idx3-ubyte"));
        Assert.False(IdxDataset.DirectoryHasSplits(dir.Path)); // no training files yet
        WriteSet(dir, "train", gzip: true);
        Assert.True(IdxDataset.DirectoryHasSplits(dir.Path));
        Assert.Equal(2, IdxDataset.FromDirectory(dir.Path, train: false, IdxDataset.DigitClasses).Count);
    }

    [Fact]
    public void MissingFileNamesTheFileAndTheFolder()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => IdxDataset.FromDirectory(dir.Path, true, IdxDataset.DigitClasses));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains(dir.Path, e.Message);
    }

    [Fact]
    public void BadMagicNamesTheFileAndBothNumbers()
    {
        var labelsFile = DataFiles.Idx([5], Labels);
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Parse(labelsFile, "train-images-idx3-ubyte", 3));
        Assert.Contains("train-images-idx3-ubyte: bad magic number 0x00000801; expected 0x00000803", e.Message);

        var floats = DataFiles.Idx([5], Labels);
        floats[2] = 0x0D;
        e = Assert.Throws<InvalidDataException>(() => IdxFile.Parse(floats, "x.idx", 1));
        Assert.Contains("x.idx: bad magic number 0x00000D01; expected 0x00000801", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedDataSaysHowMuchIsMissing(bool gzip)
    {
        var bytes = DataFiles.Idx([5, 4, 3], DataFiles.Pattern(5, 12));
        var cut = bytes[..^7];
        if (gzip) cut = DataFiles.Gzip(cut);
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Parse(cut, "imgs.gz", 3));
        Assert.Equal("imgs.gz: truncated: the header promises 5 x 4 x 3 = 60 bytes of data, but only 53 follow.", e.Message);
    }

    [Fact]
    public void TruncatedHeaderTrailingBytesAndDamagedGzipAreReported()
    {
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Parse([0, 0, 8], "a", 1));
        Assert.Contains("a: 3 bytes is too short for an IDX header", e.Message);
        e = Assert.Throws<InvalidDataException>(() => IdxFile.Parse([0, 0, 8, 3, 0, 0, 0, 5], "b", 3));
        Assert.Contains("b: truncated header: 3 dimension sizes need 16 bytes, the file has 8", e.Message);
        e = Assert.Throws<InvalidDataException>(() => IdxFile.Parse([.. DataFiles.Idx([2], [1, 2]), 9], "c", 1));
        Assert.Contains("c: 1 unexpected bytes after the 2 = 2 bytes", e.Message);

        var gz = DataFiles.Gzip(DataFiles.Idx([5, 4, 3], DataFiles.Pattern(5, 12)));
        gz[12] ^= 0xFF; // inside the deflate stream
        gz[^5] ^= 0xFF; // and the length/CRC trailer
        var damaged = Record.Exception(() => IdxFile.Parse(gz, "d.gz", 3));
        Assert.IsType<InvalidDataException>(damaged);
        Assert.StartsWith("d.gz: ", damaged.Message);
    }

    [Fact]
    public void CountMismatchAndBadLabelsNameTheFiles()
    {
        using var dir = new TempDir();
        WriteSet(dir, "train", gzip: false);
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), DataFiles.Idx([4], Labels[..4]));
        var e = Assert.Throws<InvalidDataException>(() => IdxDataset.FromDirectory(dir.Path, true, IdxDataset.DigitClasses));
        Assert.Equal("train-images-idx3-ubyte has 5 images but train-labels-idx1-ubyte has 4 labels.", e.Message);

        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), DataFiles.Idx([5], [1, 2, 10, 3, 4]));
        e = Assert.Throws<InvalidDataException>(() => IdxDataset.FromDirectory(dir.Path, true, IdxDataset.DigitClasses));
        Assert.Equal("train-labels-idx1-ubyte: label 10 at index 2 is out of range for 10 classes.", e.Message);
    }

    [Fact]
    public void SaveWritesGzippedIdxThatReadsBack()
    {
        using var dir = new TempDir();
        var set = new IdxDataset("s", DataFiles.Pattern(5, 6), Labels, 2, 3, IdxDataset.DigitClasses);
        set.Save(dir.Path, train: false);
        var raw = File.ReadAllBytes(dir.File("t10k-images-idx3-ubyte.gz"));
        Assert.Equal(new byte[] { 0x1f, 0x8b }, raw[..2]);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.partial"));
        var back = IdxDataset.FromDirectory(dir.Path, false, IdxDataset.DigitClasses);
        Assert.Equal(set.Pixels.ToArray(), back.Pixels.ToArray());
        Assert.Equal(set.Labels.ToArray(), back.Labels.ToArray());
        Assert.Equal(new ImageShape(1, 2, 3), back.Shape);
    }

    [Fact]
    public void TakePerClassKeepsTheFirstOfEachClassInOrder()
    {
        byte[] labels = [0, 1, 0, 2, 0, 1, 2, 2];
        var set = new IdxDataset("s", DataFiles.Pattern(8, 1), labels, 1, 1, ["a", "b", "c"]);
        var sub = set.TakePerClass(2);
        Assert.Equal(new byte[] { 0, 1, 0, 2, 1, 2 }, sub.Labels.ToArray());
        Assert.Equal(new byte[] { 0, 7, 14, 21, 35, 42 }, sub.Pixels.ToArray()); // images 0, 1, 2, 3, 5, 6
    }

    [Fact]
    public void IndexOutOfRangeNamesTheDataset()
    {
        var set = new IdxDataset("tiny", new byte[2], [0, 1], 1, 1, IdxDataset.DigitClasses);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => set.Get(2));
        Assert.Contains("tiny: index 2 is out of range for 2 examples.", e.Message);
    }
}
