using Engine.Models.Explore;
using Xunit;

namespace Engine.Tests.Explore;

public class PngEncoderTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(64, 65)]
    public void RgbImagesRoundTripThroughAnIndependentReader(int width, int height)
    {
        var image = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = new Rgb((byte)(x * 37 + y), (byte)(y * 11), (byte)(x ^ y));
        var png = PngReader.Decode(PngEncoder.Encode(image));
        Assert.Equal((width, height, 3), (png.Width, png.Height, png.Channels));
        Assert.Equal(image.Pixels, png.Samples);
        Assert.Equal("IHDR", png.Chunks[0]);
        Assert.Equal("IEND", png.Chunks[^1]);
        Assert.All(png.Chunks.Skip(1).SkipLast(1), c => Assert.Equal("IDAT", c));
    }

    [Fact]
    public void GreyImagesRoundTrip()
    {
        var samples = Enumerable.Range(0, 5 * 4).Select(i => (byte)(i * 13)).ToArray();
        var png = PngReader.Decode(PngEncoder.Encode(5, 4, samples, channels: 1));
        Assert.Equal((5, 4, 1), (png.Width, png.Height, png.Channels));
        Assert.Equal(samples, png.Samples);
    }

    [Fact]
    public void FilesStartWithTheSignatureAndAreWrittenWhole()
    {
        string path = Path.Combine(Path.GetTempPath(), $"png-{Guid.NewGuid():N}.png");
        try
        {
            new RgbImage(3, 2, Rgb.White).SavePng(path);
            var bytes = File.ReadAllBytes(path);
            Assert.True(bytes.AsSpan(0, 8).SequenceEqual(PngEncoder.Signature));
            Assert.All(PngReader.Read(path).Samples, s => Assert.Equal(255, s));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BadArgumentsSayWhatIsWrong()
    {
        var e = Assert.Throws<ArgumentException>(() => PngEncoder.Encode(2, 2, new byte[5], 3));
        Assert.Contains("5 samples for a 2x2 image with 3 channels; expected 12", e.Message);
        Assert.Contains("channels must be 1 (grey) or 3 (RGB), got 4", Assert.Throws<ArgumentOutOfRangeException>(() => PngEncoder.Encode(1, 1, new byte[4], 4)).Message);
        Assert.Contains("size must be positive, got 0x3", Assert.Throws<ArgumentOutOfRangeException>(() => new RgbImage(0, 3)).Message);
        Assert.Contains("pixel (3, 0) is outside the 3x2 image", Assert.Throws<ArgumentOutOfRangeException>(() => new RgbImage(3, 2)[3, 0]).Message);
    }
}

public class HeatmapTests
{
    [Fact]
    public void TheRampRunsFromDarkToLightMonotonically()
    {
        double Lightness(Rgb c) => 0.299 * c.R + 0.587 * c.G + 0.114 * c.B;
        var values = Enumerable.Range(0, 101).Select(i => Lightness(Heatmap.Colour(i / 100.0))).ToArray();
        for (int i = 1; i < values.Length; i++) Assert.True(values[i] > values[i - 1], $"lightness falls at {i}%");
        Assert.Equal(Heatmap.Colour(0), Heatmap.Colour(-3));
        Assert.Equal(Heatmap.Colour(1), Heatmap.Colour(7));
    }

    [Fact]
    public void NormalisationIsLinearOrOverFourDecades()
    {
        Assert.Equal([0, 0.25, 1], Heatmap.Normalise([0.0, 1, 4], HeatmapScale.Linear));
        var log = Heatmap.Normalise([1e-6, 1e-4, 1e-2, 1], HeatmapScale.Log);
        Assert.Equal(0, log[0]);
        Assert.Equal(0, log[1], 12);
        Assert.Equal(0.5, log[2], 12);
        Assert.Equal(1, log[3], 12);
        Assert.Equal([0.0, 0], Heatmap.Normalise([0.0, 0], HeatmapScale.Log));
        Assert.Contains("non-negative, got -1", Assert.Throws<ArgumentException>(() => Heatmap.Normalise([-1.0], HeatmapScale.Linear)).Message);
    }

    [Fact]
    public void EachValueIsASquareOfCells()
    {
        var image = Heatmap.Render([0.0, 1, 2, 4, 0, 0], rows: 2, columns: 3, cellSize: 4, colourBar: false);
        Assert.Equal((12, 8), (image.Width, image.Height));
        Assert.Equal(Heatmap.Colour(0.5), image[8, 0]);  // row 0, column 2: 2 of the maximum 4
        Assert.Equal(Heatmap.Colour(0.5), image[11, 3]);
        Assert.Equal(Heatmap.Colour(0.25), image[4, 0]);
        Assert.Equal(Heatmap.Colour(1), image[0, 4]);
        Assert.Equal(Heatmap.Colour(0), image[3, 3]);
        var withBar = Heatmap.Render([0.0, 1, 2, 4, 0, 0], 2, 3, 4);
        Assert.True(withBar.Width > 12);
        Assert.Contains("6 values for a 4x4 grid", Assert.Throws<ArgumentException>(() => Heatmap.Render([0.0, 1, 2, 4, 0, 0], 4, 4)).Message);
    }
}
