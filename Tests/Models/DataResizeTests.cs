using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// The resizing transforms against torchvision's PIL path, written by Tests/Data/images/make_expected.py: the
/// source image through Resize, CenterCrop, the evaluation transform and fixed-box resized crops. PIL rounds to
/// 8 bits after each of its two passes and this works in float, so resized pixels may differ by one level.
/// </summary>
public class DataResizeTests
{
    private static ChwImage Source()
    {
        var s = DataImageFileTests.Manifest.GetProperty("source");
        return ToTensor.FromHwcBytes(DataImageFileTests.Raw(s.GetProperty("pixels").GetString()!), s.GetProperty("height").GetInt32(), s.GetProperty("width").GetInt32(), 3);
    }

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in DataImageFileTests.Manifest.GetProperty("transforms").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Transforms_match_torchvision_on_PIL_images(string name)
    {
        var c = DataImageFileTests.Manifest.GetProperty("transforms").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int size = c.GetProperty("size").GetInt32();
        var random = new SampleRandom(1, SampleRandom.Streams.Sample, 0, 0);
        var output = c.GetProperty("op").GetString() switch
        {
            "resize" => new Resize(size).Apply(Source(), random),
            "center_crop" => new CenterCrop(size).Apply(Source(), random),
            "eval" => new Compose(new Resize(Recipes.EvalResize(size, c.GetProperty("crop_pct").GetDouble())), new CenterCrop(size)).Apply(Source(), random),
            "resized_crop" => RandomResizedCrop.ResizedCrop(Source(), c.GetProperty("top").GetInt32(), c.GetProperty("left").GetInt32(),
                c.GetProperty("box_height").GetInt32(), c.GetProperty("box_width").GetInt32(), size),
            var op => throw new InvalidOperationException($"unknown op {op}"),
        };
        var expected = ToTensor.FromHwcBytes(DataImageFileTests.Raw(c.GetProperty("expected").GetString()!), c.GetProperty("height").GetInt32(), c.GetProperty("width").GetInt32(), 3);
        Assert.Equal(expected.Shape, output.Shape);
        double worst = 0, sum = 0;
        for (int i = 0; i < expected.Pixels.Length; i++)
        {
            double d = Math.Abs(expected.Pixels[i] - output.Pixels[i]) * 255;
            worst = Math.Max(worst, d);
            sum += d;
        }
        // Measured: at most 1.00 level and a mean of 0.28 to 0.33 on the resizing cases; cropping alone is exact.
        double allowed = c.GetProperty("op").GetString() == "center_crop" ? 1e-3 : 1.01;
        Assert.True(worst <= allowed && sum / expected.Pixels.Length <= 0.4, $"{name}: worst {worst:0.00} levels, mean {sum / expected.Pixels.Length:0.000}");
    }

    [Fact]
    public void Resize_keeps_the_aspect_ratio_truncating_the_longer_side()
    {
        Assert.Equal((10, 13), new Resize(10).OutputSize(24, 32));
        Assert.Equal((13, 10), new Resize(10).OutputSize(32, 24));
        Assert.Equal((256, 341), new Resize(256).OutputSize(480, 640));
        Assert.Equal(288, Recipes.EvalResize(256, Recipes.CropPct("affnet")));
        Assert.Equal(256, Recipes.EvalResize(224, Recipes.CropPct("vheat-t")));
        Assert.Equal(233, Recipes.EvalResize(224, Recipes.CropPct("dualvit-s")));
    }

    [Fact]
    public void A_constant_image_stays_constant_under_every_resize()
    {
        var image = new ChwImage(Enumerable.Repeat(0.3f, 3 * 9 * 14).ToArray(), 3, 9, 14);
        foreach (var (h, w) in new[] { (3, 5), (20, 31), (9, 2), (1, 1) })
            Assert.All(PilResample.Bilinear(image, h, w).Pixels, p => Assert.Equal(0.3f, p, 5));
    }

    [Fact]
    public void Random_resized_crop_boxes_follow_torchvisions_rules()
    {
        var t = new RandomResizedCrop(8);
        for (uint i = 0; i < 500; i++)
        {
            var (top, left, h, w) = t.GetParams(40, 60, new SampleRandom(3, SampleRandom.Streams.Sample, 0, i));
            Assert.InRange(top, 0, 40 - h);
            Assert.InRange(left, 0, 60 - w);
            // Rounding to whole pixels moves the area and ratio a little outside the drawn ranges.
            Assert.InRange((double)h * w / (40 * 60), 0.08 * 0.8, 1.0);
            Assert.InRange((double)w / h, 0.75 * 0.8, 4.0 / 3 * 1.25);
        }
        // An image far wider than 4/3 whose random boxes can never fit (scale near 1) falls back to the centre crop at ratio 4/3.
        var wide = new RandomResizedCrop(8, scale: (0.99, 1.0));
        Assert.Equal((0, 37, 10, 13), wide.GetParams(10, 87, new SampleRandom(3, SampleRandom.Streams.Sample, 0, 0)));
        var tall = new RandomResizedCrop(8, scale: (0.99, 1.0));
        Assert.Equal((37, 0, 13, 10), tall.GetParams(87, 10, new SampleRandom(3, SampleRandom.Streams.Sample, 0, 0)));
    }

    [Fact]
    public void The_imagenet_recipe_outputs_normalised_squares_of_the_image_size()
    {
        var recipe = Recipes.ImageNet(16);
        var random = new SampleRandom(5, SampleRandom.Streams.Sample, 0, 1);
        var train = recipe.Train.Apply(Source(), random);
        var eval = recipe.Eval.Apply(Source(), random);
        Assert.Equal(new ImageShape(3, 16, 16), train.Shape);
        Assert.Equal(new ImageShape(3, 16, 16), eval.Shape);
        Assert.Equal(new ImageShape(3, 16, 16), recipe.Train.OutputShape(new ImageShape(3, 0, 0)));
        // The evaluation image is the expected eval_16 crop, normalised with ImageNet's mean and std.
        var expected = ToTensor.FromHwcBytes(DataImageFileTests.Raw("eval_16.rgb"), 16, 16, 3);
        for (int c = 0; c < 3; c++)
            Assert.Equal((expected[c, 7, 9] - Recipes.ImageNetMean[c]) / Recipes.ImageNetStd[c], eval[c, 7, 9], 1e-2);
    }

    [Fact]
    public void Bad_sizes_are_refused_with_the_transforms_name()
    {
        Assert.Contains("resize", Assert.Throws<ArgumentOutOfRangeException>(() => new Resize(0)).Message);
        Assert.Contains("center_crop", Assert.Throws<ArgumentOutOfRangeException>(() => new CenterCrop(-1)).Message);
        Assert.Contains("random_resized_crop", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomResizedCrop(8, scale: (0.5, 0.1))).Message);
        Assert.Contains("crop_pct", Assert.Throws<ArgumentOutOfRangeException>(() => Recipes.ImageNet(16, cropPct: 1.5)).Message);
    }
}
