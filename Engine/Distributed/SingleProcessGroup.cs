namespace Engine.Distributed;

/// <summary>
/// A group of one process (rank 0, world size 1): every collective leaves its tensor as it is (an average divides
/// by one), so code written for data parallelism runs unchanged without a launcher.
/// </summary>
public sealed class SingleProcessGroup : ProcessGroup
{
    /// <inheritdoc/>
    public override int Rank => 0;
    /// <inheritdoc/>
    public override int WorldSize => 1;
    /// <inheritdoc/>
    public override int LocalRank => 0;
    /// <inheritdoc/>
    public override string Backend => "single";

    /// <inheritdoc/>
    public override void Barrier() { }

    /// <inheritdoc/>
    protected override void AllReduceHost(Tensor host, ReduceOp op) { }

    /// <inheritdoc/>
    protected override void BroadcastHost(Tensor host, int root) { }

    /// <inheritdoc/>
    protected override void AllGatherHost(Tensor input, Tensor output)
    {
        using var view = output.Select(0, 0);
        view.CopyFrom(input);
    }
}
