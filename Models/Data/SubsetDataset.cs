namespace Engine.Models.Data;

/// <summary>The first <c>count</c> examples of another dataset (quick runs, tests).</summary>
public sealed class SubsetDataset : IDataset
{
    private readonly IDataset _source;

    /// <summary>Wraps the first <paramref name="count"/> examples of <paramref name="source"/> (all of them when it has fewer).</summary>
    public SubsetDataset(IDataset source, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _source = source;
        Count = Math.Min(count, source.Count);
    }

    /// <inheritdoc/>
    public string Name => $"{_source.Name} (first {Count})";

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public ImageShape Shape => _source.Shape;

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames => _source.ClassNames;

    /// <inheritdoc/>
    public Sample Get(int index)
    {
        Datasets.CheckIndex(this, index);
        return _source.Get(index);
    }

    /// <inheritdoc/>
    public int LabelAt(int index)
    {
        Datasets.CheckIndex(this, index);
        return _source.LabelAt(index);
    }
}
