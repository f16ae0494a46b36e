using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Models.Pth;

/// <summary>Cutting a checkpoint anywhere gives a <see cref="Engine.Models.Serialization.Pth.PthException"/> and frees every tensor already read (serial: it counts live memory).</summary>
[Collection(SerialCollection.Name)]
public class PthTruncationTests
{
    [Theory]
    [MemberData(nameof(PthReaderTests.Files), MemberType = typeof(PthReaderTests))]
    public void EveryTruncationGivesOurErrorAndLeaksNothing(string file)
    {
        var bytes = File.ReadAllBytes(PthFiles.Path(file));
        long live = CpuStorage.LiveBytes;
        foreach (int cut in Enumerable.Range(0, bytes.Length).Where(n => n < 64 || n % 7 == 0 || n > bytes.Length - 64))
        {
            // No tensor scope here: a tensor the reader failed to dispose would stay live and fail the count.
            var e = Assert.Throws<Engine.Models.Serialization.Pth.PthException>(() => Engine.Models.Serialization.Pth.PthReader.Read(new MemoryStream(bytes[..cut]), "cut.pth"));
            Assert.Equal("cut.pth", e.FileName);
            Assert.False(string.IsNullOrEmpty(e.Problem), $"cut at {cut}");
        }
        Assert.Equal(live, CpuStorage.LiveBytes);
    }
}
