using Engine.Models.Data;

namespace Engine.Models.Distributed;

/// <summary>
/// One rank's share of an evaluation set: examples r, r + W, r + 2W, ... in dataset order, without padding, so
/// that the counts summed over the ranks are those of the whole set, each example counted once (shards differ
/// in length by at most one; evaluation's only collective is the final sum).
/// </summary>
public sealed class EvaluationShard : ISampler
{
    private readonly int _datasetCount, _worldSize, _rank;

    /// <summary>The shard of rank <paramref name="rank"/> in a world of <paramref name="worldSize"/>.</summary>
    public EvaluationShard(int datasetCount, int worldSize, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(datasetCount);
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
            throw new ArgumentOutOfRangeException(nameof(rank), $"evaluation_shard: invalid rank {rank} in a world of {worldSize}.");
        (_datasetCount, _worldSize, _rank) = (datasetCount, worldSize, rank);
    }

    /// <inheritdoc/>
    public int Count => _datasetCount <= _rank ? 0 : (_datasetCount - _rank + _worldSize - 1) / _worldSize;

    /// <inheritdoc/>
    public int[] Indices(int epoch) => Enumerable.Range(0, Count).Select(i => _rank + i * _worldSize).ToArray();
}
