using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataMixTests
{
    private static readonly ImageShape Shape = new(2, 6, 5);

    private static SampleRandom Random(uint index) => new(7, SampleRandom.Streams.Batch, 0, index);

    /// <summary>A batch where image i is the constant i and has label i (so partners are recognisable).</summary>
    private static (float[] Images, long[] Labels) ConstantBatch(int batch)
    {
        var images = new float[batch * Shape.Size];
        for (int i = 0; i < batch; i++) Array.Fill(images, i, i * Shape.Size, Shape.Size);
        return (images, Enumerable.Range(0, batch).Select(i => (long)i).ToArray());
    }

    private static void AssertRowsSumToOne(float[] targets, int classes)
    {
        for (int row = 0; row < targets.Length / classes; row++)
            Assert.Equal(1.0, targets.AsSpan(row * classes, classes).ToArray().Sum(v => (double)v), 5);
    }

    [Fact]
    public void OneHotWithLabelSmoothingMatchesPyTorch()
    {
        var t = SoftTargets.OneHot([2, 0], 4, smoothing: 0.1);
        Assert.Equal(new[] { 0.025f, 0.025f, 0.925f, 0.025f, 0.925f, 0.025f, 0.025f, 0.025f }, t);
        Assert.Throws<ArgumentException>(() => SoftTargets.OneHot([4], 4));
    }

    [Fact]
    public void MixupBlendsImagesAndTargetsWithTheSameLambda()
    {
        const int batch = 8;
        for (uint seed = 0; seed < 20; seed++)
        {
            var (images, labels) = ConstantBatch(batch);
            var targets = new Mixup(alpha: 0.4).Apply(images, Shape, labels, batch, Random(seed));
            AssertRowsSumToOne(targets, batch);
            for (int i = 0; i < batch; i++)
            {
                var row = targets.AsSpan(i * batch, batch).ToArray();
                int partner = Enumerable.Range(0, batch).Where(k => k != i).OrderByDescending(k => row[k]).First();
                double lambda = row[i], rest = row[partner];
                if (rest == 0) partner = i; // paired with itself
                Assert.Equal(1.0, lambda + (partner == i ? 0 : rest), 5);
                float expected = partner == i ? i : (float)lambda * i + (1 - (float)lambda) * partner;
                Assert.All(images.AsSpan(i * Shape.Size, Shape.Size).ToArray(), v => Assert.Equal(expected, v, 4));
            }
        }
    }

    [Fact]
    public void CutMixLambdaIsTheAreaThatStayed()
    {
        const int batch = 6;
        int boxes = 0;
        for (uint seed = 0; seed < 40; seed++)
        {
            var (images, labels) = ConstantBatch(batch);
            var targets = new CutMix(alpha: 1.0).Apply(images, Shape, labels, batch, Random(seed));
            AssertRowsSumToOne(targets, batch);
            for (int i = 0; i < batch; i++)
            {
                var pixels = images.AsSpan(i * Shape.Size, Shape.Size).ToArray();
                double own = pixels.Count(v => v == i) / (double)pixels.Length;
                var foreign = pixels.Where(v => v != i).Distinct().ToArray();
                Assert.True(foreign.Length <= 1);
                if (foreign.Length == 0) { Assert.Equal(1f, targets[i * batch + i], 5); continue; }
                boxes++;
                Assert.Equal(own, targets[i * batch + i], 5);
                Assert.Equal(1 - own, targets[i * batch + (int)foreign[0]], 5);
                AssertPastedRegionIsOneBoxInEveryChannel(pixels, i);
            }
        }
        Assert.True(boxes > 40);
    }

    private static void AssertPastedRegionIsOneBoxInEveryChannel(float[] pixels, int own)
    {
        var cells = new List<(int C, int Y, int X)>();
        for (int c = 0; c < Shape.Channels; c++)
            for (int y = 0; y < Shape.Height; y++)
                for (int x = 0; x < Shape.Width; x++)
                    if (pixels[(c * Shape.Height + y) * Shape.Width + x] != own) cells.Add((c, y, x));
        int h = cells.Max(p => p.Y) - cells.Min(p => p.Y) + 1, w = cells.Max(p => p.X) - cells.Min(p => p.X) + 1;
        Assert.Equal(Shape.Channels * h * w, cells.Count);
    }

    [Fact]
    public void UnappliedMixingStillGivesSmoothedSoftTargets()
    {
        var (images, labels) = ConstantBatch(3);
        var before = (float[])images.Clone();
        var targets = new MixupOrCutMix(0.2, 1.0, labelSmoothing: 0.3, p: 0).Apply(images, Shape, labels, 3, Random(0));
        Assert.Equal(before, images);
        Assert.Equal(SoftTargets.OneHot(labels, 3, 0.3), targets);
    }

    [Fact]
    public void MixingIsAFunctionOfTheRandomStream()
    {
        foreach (IBatchTransform t in new IBatchTransform[] { new Mixup(0.2, 0.1), new CutMix(1.0), new MixupOrCutMix(0.2, 1.0) })
        {
            var (a, labels) = ConstantBatch(5);
            var (b, _) = ConstantBatch(5);
            Assert.Equal(t.Apply(a, Shape, labels, 5, Random(3)), t.Apply(b, Shape, labels, 5, Random(3)));
            Assert.Equal(a, b);
        }
    }
}
