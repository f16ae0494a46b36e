using Engine.Autograd;
using Engine.Distributed;
using Engine.Models.Nn;

namespace Engine.Models.Distributed;

/// <summary>
/// Batch normalisation with statistics over the global batch of every rank (PyTorch's <c>SyncBatchNorm</c>), for
/// data-parallel training where each rank's batch is too small for good statistics, or where training must equal
/// a single process on the whole batch. <see cref="ConvertSyncBatchNorm"/> switches a model's <see cref="BatchNorm2d"/>
/// layers to it; in evaluation mode they use their running statistics as before.
/// <para>The statistics are two differentiable all-reduces per layer: the per-channel sums (for the mean), then the
/// per-channel sums of squared deviations (for the variance). The backward of an all-reduce is an all-reduce of the
/// gradients, so the backward runs two more: the gradient is that of the global batch.</para>
/// </summary>
public static class SyncBatchNorm
{
    /// <summary>Makes every <see cref="BatchNorm2d"/> in <paramref name="module"/> synchronise its statistics over <paramref name="group"/>; returns the module.</summary>
    public static Module ConvertSyncBatchNorm(Module module, ProcessGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        foreach (var (_, m) in module.NamedModules())
            if (m is BatchNorm2d bn) bn.SyncGroup = group;
        return module;
    }

    /// <summary>
    /// The sum over ranks of <paramref name="x"/>, recorded on the tape: its backward all-reduces the incoming
    /// gradient (each rank's loss depends on every rank's <paramref name="x"/>). Every rank must call it.
    /// </summary>
    public static Tensor AllReduceSum(Tensor x, ProcessGroup group)
    {
        Tensor y;
        using (Tape.NoGrad()) y = group.AllReduced(x);
        if (Tape.ShouldRecord(x))
            Tape.Record("all_reduce", [x], [y], g => [group.AllReduced(g[0])]);
        return y;
    }

    /// <summary>
    /// Training-mode batch normalisation of <paramref name="input"/> (N, C, ...) with the global batch's mean and
    /// biased variance, updating the running statistics with the unbiased variance, as BatchNorm2d does.
    /// </summary>
    public static Tensor Forward(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        Tensor? numBatchesTracked, double? momentum, double eps, ProcessGroup group)
    {
        if (input.Rank < 2) throw new ArgumentException($"sync_batch_norm: expected at least 2D input (got {input.Rank}D input).");
        int c = input.Shape[1];
        int[] dims = [0, .. Enumerable.Range(2, input.Rank - 2)];
        int[] channelShape = [1, c, .. Enumerable.Repeat(1, input.Rank - 2)];
        long local = input.NumEl / Math.Max(1, c);
        using var counts = Tensor.FromArray([local]);
        group.AllReduce(counts);
        long count = counts.ToArray<long>()[0];
        if (count <= 1)
            throw new ArgumentException($"sync_batch_norm: expected more than 1 value per channel when training, got input of shape [{string.Join(", ", input.Shape)}] over {group.WorldSize} ranks.");

        var mean = AllReduceSum(input.Sum(dims), group).Div(count);
        var centered = input.Sub(mean.View(channelShape));
        var variance = AllReduceSum(centered.Mul(centered).Sum(dims), group).Div(count);
        var y = centered.Mul(variance.Add(eps).Rsqrt().View(channelShape));
        if (weight is not null) y = y.Mul(weight.View(channelShape));
        if (bias is not null) y = y.Add(bias.View(channelShape));

        using (Tape.NoGrad())
        {
            double factor = momentum ?? 0;
            if (numBatchesTracked is not null)
            {
                long tracked = (long)numBatchesTracked.Item() + 1;
                numBatchesTracked.Fill(tracked);
                if (momentum is null) factor = 1.0 / tracked;
            }
            if (runningMean is not null)
            {
                runningMean.MulInPlace(1 - factor);
                runningMean.AddInPlace(mean.Detach(), factor);
            }
            if (runningVar is not null)
            {
                runningVar.MulInPlace(1 - factor);
                runningVar.AddInPlace(variance.Detach(), factor * count / (count - 1));
            }
        }
        return y;
    }
}
