using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataTransformTests
{
    private static SampleRandom Random(uint index = 0) => new(42, SampleRandom.Streams.Sample, 0, index);

    /// <summary>A 1 x h x w image whose pixel (y, x) is 10 y + x + 1.</summary>
    private static ChwImage Ramp(int h, int w, int channels = 1)
    {
        var image = ChwImage.Zeros(channels, h, w);
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) image[c, y, x] = 100 * c + 10 * y + x + 1;
        return image;
    }

    [Fact]
    public void ToTensorScalesBytesAndReordersHwc()
    {
        var image = ToTensor.FromBytes([0, 51, 255, 128], new ImageShape(1, 2, 2));
        Assert.Equal(new[] { 0f, 0.2f, 1f, 128 / 255f }, image.Pixels);
        // HWC: pixel (0,0) = (1,2,3), pixel (0,1) = (4,5,6) → CHW planes (1,4), (2,5), (3,6).
        var hwc = ToTensor.FromHwcBytes([1, 2, 3, 4, 5, 6], 1, 2, 3);
        Assert.Equal(new[] { 1f, 4, 2, 5, 3, 6 }.Select(v => v / 255f), hwc.Pixels);
    }

    [Fact]
    public void PadSurroundsWithTheFillValue()
    {
        var padded = new Pad(1, fill: 0.5f).Apply(Ramp(2, 2), Random());
        Assert.Equal(new ImageShape(1, 4, 4), padded.Shape);
        Assert.Equal(new[]
        {
            .5f, .5f, .5f, .5f,
            .5f, 1f, 2f, .5f,
            .5f, 11f, 12f, .5f,
            .5f, .5f, .5f, .5f,
        }, padded.Pixels);

        var sides = new Pad(left: 1, top: 0, right: 2, bottom: 1).Apply(Ramp(1, 2, channels: 2), Random());
        Assert.Equal(new ImageShape(2, 2, 5), sides.Shape);
        Assert.Equal(new[] { 0f, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 101, 102, 0, 0, 0, 0, 0, 0, 0 }, sides.Pixels);
    }

    [Fact]
    public void RandomCropTakesTheDrawnWindowOfThePaddedImage()
    {
        var crop = new RandomCrop(3, padding: 2, fill: -1);
        for (uint index = 0; index < 20; index++)
        {
            var expected = Random(index);
            int top = expected.NextInt(4 + 4 - 3 + 1), left = expected.NextInt(5 + 4 - 3 + 1);
            var image = Ramp(4, 5);
            var output = crop.Apply(image, Random(index));
            Assert.Equal(new ImageShape(1, 3, 3), output.Shape);
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                {
                    int sy = y + top - 2, sx = x + left - 2;
                    float want = sy is >= 0 and < 4 && sx is >= 0 and < 5 ? image[0, sy, sx] : -1;
                    Assert.Equal(want, output[0, y, x]);
                }
        }
    }

    [Fact]
    public void RandomCropReachesEveryPositionAndRefusesOversizedCrops()
    {
        var seen = new HashSet<float>();
        for (uint index = 0; index < 200; index++) seen.Add(new RandomCrop(2).Apply(Ramp(4, 4), Random(index))[0, 0, 0]);
        Assert.Equal(9, seen.Count); // 3 x 3 positions, each with a distinct top-left pixel
        var e = Assert.Throws<ArgumentException>(() => new RandomCrop(8, padding: 1).Apply(Ramp(5, 5), Random()));
        Assert.Equal("random_crop: the crop 8x8 is larger than the 1x5x5 image padded by 1.", e.Message);
    }

    [Fact]
    public void HorizontalFlipMirrorsRowsWithProbabilityP()
    {
        var flipped = new RandomHorizontalFlip(1).Apply(Ramp(2, 3, channels: 2), Random());
        Assert.Equal(new[] { 3f, 2, 1, 13, 12, 11, 103, 102, 101, 113, 112, 111 }, flipped.Pixels);
        Assert.Equal(Ramp(2, 3).Pixels, new RandomHorizontalFlip(0).Apply(Ramp(2, 3), Random()).Pixels);

        int flips = Enumerable.Range(0, 1000).Count(i => new RandomHorizontalFlip(0.5).Apply(Ramp(1, 2), Random((uint)i))[0, 0, 0] == 2);
        Assert.InRange(flips, 440, 560);
        // The decision is the documented one: flip when the first uniform draw is below p.
        for (uint i = 0; i < 50; i++)
            Assert.Equal(Random(i).NextDouble() < 0.3, new RandomHorizontalFlip(0.3).Apply(Ramp(1, 2), Random(i))[0, 0, 0] == 2);
    }

    [Fact]
    public void NormalizeIsPerChannelInFloat()
    {
        var image = Ramp(1, 2, channels: 2);
        var output = new Normalize([1f, 100f], [2f, 0.5f]).Apply(image, Random());
        Assert.Equal(new[] { (1f - 1f) / 2f, (2f - 1f) / 2f, (101f - 100f) / 0.5f, (102f - 100f) / 0.5f }, output.Pixels);
        Assert.Equal(new[] { (0.3f - 0.2860f) / 0.3530f }, new Normalize([0.2860f], [0.3530f]).Apply(new ChwImage([0.3f], 1, 1, 1), Random()).Pixels);
        var e = Assert.Throws<ArgumentException>(() => new Normalize([0, 0, 0], [1, 1, 1]).OutputShape(new ImageShape(2, 4, 4)));
        Assert.Contains("3 means and stds do not match a 2x4x4 image", e.Message);
        Assert.Throws<ArgumentException>(() => new Normalize([0], [0]));
    }

    [Fact]
    public void RepeatGreyCopiesTheChannel()
    {
        var output = new RepeatGrey(3).Apply(Ramp(1, 2), Random());
        Assert.Equal(new ImageShape(3, 1, 2), output.Shape);
        Assert.Equal(new[] { 1f, 2, 1, 2, 1, 2 }, output.Pixels);
        var e = Assert.Throws<ArgumentException>(() => new RepeatGrey().Apply(Ramp(1, 2, channels: 3), Random()));
        Assert.Equal("repeat_grey: expects a grey image (1 channel), got 3x1x2.", e.Message);
    }

    [Fact]
    public void ComposeChainsShapesAndDraws()
    {
        var compose = new Compose(new Pad(1), new RandomCrop(3), new RandomHorizontalFlip());
        Assert.Equal(new ImageShape(1, 3, 3), compose.OutputShape(new ImageShape(1, 3, 4)));
        var a = compose.Apply(Ramp(3, 4), Random(7));
        var b = compose.Apply(Ramp(3, 4), Random(7));
        Assert.Equal(a.Pixels, b.Pixels);
    }

    [Fact]
    public void FashionMnistEvalRecipePadsBlackThenNormalises()
    {
        var recipe = Recipes.FashionMnist();
        Assert.Equal(new ImageShape(3, 32, 32), recipe.InputShape);
        Assert.Null(recipe.TrainBatch);
        var bytes = Enumerable.Range(0, 784).Select(i => (byte)(i % 251 + 1)).ToArray();
        var output = recipe.Eval.Apply(ToTensor.FromBytes(bytes, new ImageShape(1, 28, 28)), Random());
        float black = (0f - 0.2860f) / 0.3530f;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    bool inside = y is >= 2 and < 30 && x is >= 2 and < 30;
                    float want = inside ? (bytes[(y - 2) * 28 + x - 2] / 255f - 0.2860f) / 0.3530f : black;
                    Assert.Equal(want, output[c, y, x]);
                }
    }

    [Fact]
    public void FashionMnistTrainRecipeCropsFromFourPixelsOfBlackAndFlips()
    {
        var recipe = Recipes.FashionMnist(augment: true);
        var bytes = Enumerable.Range(0, 784).Select(i => (byte)(i % 253 + 1)).ToArray();
        float black = (0f - 0.2860f) / 0.3530f;
        var positions = new HashSet<(int, int, bool)>();
        for (uint index = 0; index < 60; index++)
        {
            // The draws of RandomCrop (top, left) and RandomHorizontalFlip (one uniform), in order.
            var draws = Random(index);
            int top = draws.NextInt(5), left = draws.NextInt(5);
            bool flip = draws.NextDouble() < 0.5;
            positions.Add((top, left, flip));
            var output = recipe.Train.Apply(ToTensor.FromBytes(bytes, new ImageShape(1, 28, 28)), Random(index));
            Assert.Equal(new ImageShape(3, 32, 32), output.Shape);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                    {
                        // The 28x28 image sits at offset 4 in the 36x36 padded image the crop starts from.
                        int sy = y + top - 4, sx = (flip ? 31 - x : x) + left - 4;
                        float want = sy is >= 0 and < 28 && sx is >= 0 and < 28 ? (bytes[sy * 28 + sx] / 255f - 0.2860f) / 0.3530f : black;
                        Assert.Equal(want, output[c, y, x]);
                    }
        }
        Assert.True(positions.Count > 20);
    }
}
