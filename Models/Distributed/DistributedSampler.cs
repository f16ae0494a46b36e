using Engine.Models.Data;

namespace Engine.Models.Distributed;

/// <summary>
/// Which examples one rank visits in an epoch, as PyTorch's <c>DistributedSampler</c>: the same seeded order on
/// every rank (the permutation <see cref="DataLoader"/> itself draws from (seed, epoch), so a world of one visits
/// exactly what a plain shuffled loader visits), padded by repeating its start to a multiple of the world size
/// (or, with <c>dropLast</c>, cut down to one), then dealt round-robin: rank r takes positions r, r + W, r + 2W, ...
/// The shards are disjoint (but for the padding) and together cover the dataset; every rank has the same number
/// of examples, hence of batches.
/// </summary>
public sealed class DistributedSampler : ISampler
{
    private int _epoch;

    /// <summary>Creates the sampler of rank <paramref name="rank"/> in a world of <paramref name="worldSize"/>.</summary>
    public DistributedSampler(int datasetCount, int worldSize, int rank, bool shuffle = true, ulong seed = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(datasetCount);
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), $"distributed_sampler: num_replicas must be at least 1, got {worldSize}.");
        if (rank < 0 || rank >= worldSize)
            throw new ArgumentOutOfRangeException(nameof(rank), $"distributed_sampler: invalid rank {rank}, rank should be in the interval [0, {worldSize - 1}].");
        (DatasetCount, WorldSize, Rank, Shuffle, Seed, DropLast) = (datasetCount, worldSize, rank, shuffle, seed, dropLast);
        Count = dropLast && datasetCount % worldSize != 0 ? datasetCount / worldSize : (datasetCount + worldSize - 1) / worldSize;
    }

    /// <summary>Examples in the dataset.</summary>
    public int DatasetCount { get; }
    /// <summary>Ranks in the world.</summary>
    public int WorldSize { get; }
    /// <summary>This sampler's rank.</summary>
    public int Rank { get; }
    /// <summary>Whether each epoch has its own seeded order.</summary>
    public bool Shuffle { get; }
    /// <summary>The seed of the order (the loader's seed).</summary>
    public ulong Seed { get; }
    /// <summary>Whether the tail that does not divide evenly is dropped instead of padded.</summary>
    public bool DropLast { get; }

    /// <summary>Examples this rank visits per epoch (the same on every rank).</summary>
    public int Count { get; }

    /// <summary>Sets the epoch <see cref="Indices()"/> uses (PyTorch's <c>set_epoch</c>; the loader passes its epoch itself).</summary>
    public void SetEpoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        _epoch = epoch;
    }

    /// <summary>This rank's examples for the epoch set with <see cref="SetEpoch"/>.</summary>
    public int[] Indices() => Indices(_epoch);

    /// <summary>This rank's examples (dataset indices, in visiting order) for <paramref name="epoch"/>.</summary>
    public int[] Indices(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var order = Shuffle
            ? new SampleRandom(Seed, SampleRandom.Streams.Shuffle, (uint)epoch, 0).Permutation(DatasetCount)
            : Enumerable.Range(0, DatasetCount).ToArray();
        var mine = new int[Count];
        for (int i = 0; i < Count; i++)
        {
            int position = Rank + i * WorldSize;
            // Padding repeats the order from its start (PyTorch's), wrapping again for tiny datasets.
            mine[i] = order[position < order.Length ? position : (position - order.Length) % Math.Max(1, order.Length)];
        }
        return mine;
    }
}
