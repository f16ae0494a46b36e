using Engine.Models.Data;
using Xunit;

namespace Engine.Tests.Models;

public class DataLoaderTests
{
    /// <summary>Example i: a 1x2x3 image of the constant i / 100 and label i mod 4; can fail at one index.</summary>
    private sealed class Numbers(int count, int failAt = -1) : IDataset
    {
        private int _reads;
        public int Reads => Volatile.Read(ref _reads);
        public string Name => "numbers";
        public int Count => count;
        public ImageShape Shape => new(1, 2, 3);
        public IReadOnlyList<string> ClassNames => ["a", "b", "c", "d"];
        public int LabelAt(int index) => index % 4;

        public Sample Get(int index)
        {
            Interlocked.Increment(ref _reads);
            if (index == failAt) throw new InvalidDataException($"numbers: example {index} is broken");
            var pixels = new float[6];
            Array.Fill(pixels, index / 100f);
            return new Sample(new ChwImage(pixels, Shape), LabelAt(index));
        }
    }

    private static List<(float[] Images, long[] Labels, float[] Soft, int[] Indices)> Collect(DataLoader loader, int epoch, int start = 0)
    {
        var result = new List<(float[], long[], float[], int[])>();
        foreach (var batch in loader.Epoch(epoch, start))
            using (batch)
                result.Add((batch.Images.ToArray<float>(), batch.HasSoftTargets ? [] : batch.Labels.ToArray<long>(),
                    batch.HasSoftTargets ? batch.Labels.ToArray<float>() : [], batch.Indices.ToArray()));
        return result;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void EveryExampleOnceWithItsLabelAndImage(int prefetch)
    {
        var loader = new DataLoader(new Numbers(50), batchSize: 16, shuffle: true, seed: 3, prefetch: prefetch);
        Assert.Equal(4, loader.BatchesPerEpoch);
        var seen = new List<int>();
        int batches = 0;
        foreach (var batch in loader.Epoch(0))
        {
            using var _ = batch;
            var (images, labels) = batch;
            Assert.Equal(batches++, batch.Index);
            Assert.Equal(batches < 4 ? 16 : 2, batch.Size); // the last partial batch is kept
            Assert.Equal([batch.Size, 1, 2, 3], images.Shape);
            Assert.Equal(DType.F32, images.DType);
            Assert.Equal(DType.I64, labels.DType);
            Assert.Equal(batch.Indices.Select(i => (long)(i % 4)), labels.ToArray<long>());
            Assert.Equal(batch.Indices.SelectMany(i => Enumerable.Repeat(i / 100f, 6)), images.ToArray<float>());
            seen.AddRange(batch.Indices);
        }
        Assert.Equal(Enumerable.Range(0, 50), seen.Order());
        Assert.NotEqual(Enumerable.Range(0, 50), seen); // shuffled
    }

    [Fact]
    public void OrderIsAFunctionOfSeedAndEpoch()
    {
        var loader = new DataLoader(new Numbers(40), 8, shuffle: true, seed: 9);
        Assert.NotEqual(loader.Order(0), loader.Order(1));
        Assert.Equal(loader.Order(5), new DataLoader(new Numbers(40), 3, shuffle: true, seed: 9).Order(5));
        Assert.NotEqual(loader.Order(0), new DataLoader(new Numbers(40), 8, shuffle: true, seed: 10).Order(0));
        Assert.Equal(Enumerable.Range(0, 40), new DataLoader(new Numbers(40), 8).Order(3));
        // Resuming at epoch 1 (a fresh loader, as after a restart) gives epoch 1's batches again.
        var again = new DataLoader(new Numbers(40), 8, shuffle: true, seed: 9);
        Assert.Equal(Collect(loader, 1).SelectMany(b => b.Indices), Collect(again, 1).SelectMany(b => b.Indices));
    }

    [Fact]
    public void DropLastAndStartBatch()
    {
        var loader = new DataLoader(new Numbers(50), 16, dropLast: true);
        Assert.Equal(3, loader.BatchesPerEpoch);
        Assert.All(Collect(loader, 0), b => Assert.Equal(16, b.Indices.Length));
        var resumed = Collect(new DataLoader(new Numbers(50), 16, shuffle: true, seed: 1), 2, start: 2);
        var full = Collect(new DataLoader(new Numbers(50), 16, shuffle: true, seed: 1), 2);
        Assert.Equal(full.Skip(2).SelectMany(b => b.Indices), resumed.SelectMany(b => b.Indices));
        Assert.Empty(Collect(loader, 0, start: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.Epoch(0, startBatch: 4));
    }

    [Fact]
    public void PrefetchDoesNotChangeAnyBit()
    {
        var dataset = new SyntheticDataset(70, classes: 4, height: 12, width: 12, seed: 4);
        var transform = new Compose(new RandomCrop(10, padding: 1), new RandomHorizontalFlip(), new RepeatGrey(3));
        var mix = new MixupOrCutMix(0.4, 1.0, labelSmoothing: 0.1);
        var reference = Collect(new DataLoader(dataset, 16, shuffle: true, seed: 8, transform: transform, prefetch: 0, batchTransform: mix), 3);
        foreach (int prefetch in new[] { 1, 4 })
        {
            var other = Collect(new DataLoader(dataset, 16, shuffle: true, seed: 8, transform: transform, prefetch: prefetch, batchTransform: mix), 3);
            Assert.Equal(reference.Count, other.Count);
            for (int b = 0; b < reference.Count; b++)
            {
                Assert.Equal(reference[b].Indices, other[b].Indices);
                Assert.Equal(reference[b].Images, other[b].Images);
                Assert.Equal(reference[b].Soft, other[b].Soft);
            }
        }
        Assert.Equal(16 * 4, reference[0].Soft.Length);
        Assert.Equal(16 * 3 * 10 * 10, reference[0].Images.Length);
    }

    [Fact]
    public void AugmentationDependsOnSampleAndEpochNotOnBatching()
    {
        var dataset = new SyntheticDataset(20, height: 8, width: 8, seed: 2);
        var flip = new RandomCrop(6, padding: 2);
        float[] ImageOf(DataLoader loader, int epoch, int index)
        {
            foreach (var batch in loader.Epoch(epoch))
                using (batch)
                {
                    int at = batch.Indices.ToList().IndexOf(index);
                    if (at >= 0) return batch.Images.Select(0, at).ToArray<float>();
                }
            throw new InvalidOperationException();
        }
        var byFour = new DataLoader(dataset, 4, shuffle: true, seed: 5, transform: flip);
        var bySeven = new DataLoader(dataset, 7, shuffle: false, seed: 5, transform: flip, prefetch: 0);
        Assert.Equal(ImageOf(byFour, 1, 13), ImageOf(bySeven, 1, 13));
        Assert.NotEqual(ImageOf(byFour, 1, 13), ImageOf(byFour, 2, 13));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void ExceptionsReachTheConsumerAfterTheGoodBatches(int prefetch)
    {
        var loader = new DataLoader(new Numbers(40, failAt: 21), 5, prefetch: prefetch);
        var good = new List<int>();
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var batch in loader.Epoch(0)) using (batch) good.Add(batch.Index);
        });
        Assert.Equal("numbers: example 21 is broken", e.Message);
        Assert.Equal([0, 1, 2, 3], good);
    }

    [Fact]
    public void LeavingEarlyStopsThePrefetchThread()
    {
        var dataset = new Numbers(10_000);
        var loader = new DataLoader(dataset, 10, prefetch: 2);
        foreach (var batch in loader.Epoch(0))
        {
            batch.Dispose();
            break;
        }
        int reads = dataset.Reads;
        Assert.InRange(reads, 10, 10 * (1 + 2 + 1)); // the batch taken, the queue, the one in hand
        Thread.Sleep(50);
        Assert.Equal(reads, dataset.Reads);
    }

    [Fact]
    public void BatchesBelongToTheConsumersScopeEvenWhenPrefetched()
    {
        var loader = new DataLoader(new Numbers(12), 4, prefetch: 2);
        var kept = new List<Tensor>();
        using (Tensor.Scope())
            foreach (var batch in loader.Epoch(0)) kept.AddRange([batch.Images, batch.Labels]);
        Assert.Equal(6, kept.Count);
        Assert.All(kept, t => Assert.True(t.IsDisposed));
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(new Numbers(3), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(new Numbers(3), 1, prefetch: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(new Numbers(3), 1).Epoch(-1));
        var e = Assert.Throws<ArgumentException>(() => new DataLoader(new Numbers(3), 1, transform: new RandomCrop(5)));
        Assert.Contains("random_crop", e.Message);
    }
}
