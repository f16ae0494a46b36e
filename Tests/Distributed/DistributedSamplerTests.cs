using Engine.Models.Data;
using Engine.Models.Distributed;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Engine.Tests.Distributed;

public class DistributedSamplerTests
{
    [Fact]
    public void Shards_are_disjoint_cover_the_dataset_and_have_equal_length()
    {
        Prop.ForAll(Gen.Choose(0, 200).ToArbitrary(), Gen.Choose(1, 7).ToArbitrary(), Gen.Choose(0, 5).ToArbitrary(), (count, world, epoch) =>
        {
            var shards = Enumerable.Range(0, world).Select(r => new DistributedSampler(count, world, r, seed: 11).Indices(epoch)).ToList();
            int per = (count + world - 1) / world;
            Assert.All(shards, s => Assert.Equal(per, s.Length));
            var all = shards.SelectMany(s => s).ToList();
            Assert.Equal(Enumerable.Range(0, count), all.Distinct().Order());
            // Only the padding repeats: exactly per * world - count extra entries.
            Assert.Equal(per * world - count, all.Count - all.Distinct().Count());
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Drop_last_shards_are_disjoint_and_equal()
    {
        var shards = Enumerable.Range(0, 3).Select(r => new DistributedSampler(10, 3, r, dropLast: true).Indices(0)).ToList();
        Assert.All(shards, s => Assert.Equal(3, s.Length));
        Assert.Equal(9, shards.SelectMany(s => s).Distinct().Count());
    }

    [Fact]
    public void Same_seed_and_epoch_give_the_same_shards_and_another_epoch_reshuffles()
    {
        var a = new DistributedSampler(100, 2, 1, seed: 3);
        var b = new DistributedSampler(100, 2, 1, seed: 3);
        a.SetEpoch(4);
        b.SetEpoch(4);
        Assert.Equal(a.Indices(), b.Indices());
        b.SetEpoch(5);
        Assert.NotEqual(a.Indices(), b.Indices());
        Assert.NotEqual(a.Indices(), new DistributedSampler(100, 2, 1, seed: 4).Indices(4));
    }

    [Fact]
    public void A_world_of_one_visits_what_a_shuffled_loader_visits()
    {
        var data = new SyntheticDataset(37);
        var plain = new DataLoader(data, 8, shuffle: true, seed: 9, prefetch: 0);
        var sharded = new DataLoader(data, 8, seed: 9, prefetch: 0, sampler: new DistributedSampler(37, 1, 0, seed: 9));
        Assert.Equal(plain.Order(2), sharded.Order(2));
        Assert.Equal(plain.BatchesPerEpoch, sharded.BatchesPerEpoch);
    }

    [Fact]
    public void Loader_with_a_sampler_batches_only_the_rank_shard()
    {
        var data = new SyntheticDataset(37);
        var sampler = new DistributedSampler(37, 2, 1, seed: 9);
        var loader = new DataLoader(data, 8, seed: 9, prefetch: 0, sampler: sampler);
        Assert.Equal(3, loader.BatchesPerEpoch); // 19 examples
        var seen = loader.Epoch(0).SelectMany(b => { using (b) return b.Indices.ToArray(); }).ToArray();
        Assert.Equal(sampler.Indices(0), seen);
    }

    [Fact]
    public void Bad_arguments_are_named()
    {
        Assert.Contains("invalid rank 2", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, 2)).Message);
        Assert.Contains("num_replicas", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 0, 0)).Message);
        Assert.Contains("mutually exclusive", Assert.Throws<ArgumentException>(() =>
            new DataLoader(new SyntheticDataset(4), 2, shuffle: true, sampler: new DistributedSampler(4, 1, 0))).Message);
    }
}
