using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataSyntheticTests
{
    [Fact]
    public void IsDeterministicBalancedAndInRange()
    {
        var a = new SyntheticDataset(100, classes: 5, channels: 3, height: 8, width: 9, seed: 6);
        var b = new SyntheticDataset(100, classes: 5, channels: 3, height: 8, width: 9, seed: 6);
        Assert.Equal(new ImageShape(3, 8, 9), a.Shape);
        Assert.Equal(a.Get(17).Image.Pixels, b.Get(17).Image.Pixels);
        Assert.NotEqual(a.Get(17).Image.Pixels, new SyntheticDataset(100, 5, 3, 8, 9, seed: 7).Get(17).Image.Pixels);
        Assert.All(a.ClassCounts(), c => Assert.Equal(20, c));
        Assert.All(Enumerable.Range(0, 100), i => Assert.All(a.Get(i).Image.Pixels, p => Assert.InRange(p, 0f, 1f)));
        var shifted = new SyntheticDataset(10, classes: 5, channels: 3, height: 8, width: 9, seed: 6, firstSample: 40);
        Assert.Equal(a.Get(43).Image.Pixels, shifted.Get(3).Image.Pixels);
        Assert.Equal(a.LabelAt(43), shifted.LabelAt(3));
    }

    [Fact]
    public void NearestClassMeanLearnsIt()
    {
        var train = new SyntheticDataset(500, seed: 1);
        var test = new SyntheticDataset(200, seed: 1, firstSample: 500);
        int size = train.Shape.Size;
        var means = new double[10, size];
        foreach (int i in Enumerable.Range(0, train.Count))
        {
            var s = train.Get(i);
            for (int p = 0; p < size; p++) means[s.Label, p] += s.Image.Pixels[p] / 50.0;
        }
        int correct = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var s = test.Get(i);
            int best = Enumerable.Range(0, 10).MinBy(k => Enumerable.Range(0, size).Sum(p => Math.Pow(s.Image.Pixels[p] - means[k, p], 2)));
            if (best == s.Label) correct++;
        }
        Assert.True(correct >= 180, $"nearest class mean: {correct} / 200 correct");
    }
}
