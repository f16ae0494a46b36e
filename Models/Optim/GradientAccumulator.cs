using Engine.Autograd;

namespace Engine.Models.Optim;

/// <summary>
/// Gradient accumulation: N micro-batches make one optimizer step. Backward adds into each parameter's
/// <see cref="Tensor.Grad"/>, so the gradients of the micro-batches simply add; scaling each micro-batch
/// loss by 1/N makes the sum equal the gradient of the mean loss over the N micro-batches (the gradient a
/// batch N times larger would give when the loss is a mean and the micro-batches have equal size).
/// <code>
/// var acc = new GradientAccumulator(microBatches: 4);
/// foreach (var batch in batches)
/// {
///     using var scope = Tensor.Scope();
///     if (acc.Backward(Loss(batch)))       // true on every 4th micro-batch
///     {
///         GradientClipping.ClipGradNorm(parameters, 1.0);
///         schedule.Step(optimizer);
///         optimizer.Step();
///         optimizer.ZeroGrad();
///     }
/// }
/// if (acc.FinishPartial(parameters)) { /* step as above on the rescaled leftover */ }
/// </code>
/// </summary>
public sealed class GradientAccumulator
{
    /// <summary>Accumulates <paramref name="microBatches"/> backward passes per optimizer step.</summary>
    public GradientAccumulator(int microBatches)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(microBatches, 1);
        MicroBatches = microBatches;
    }

    /// <summary>N: micro-batches per optimizer step.</summary>
    public int MicroBatches { get; }

    /// <summary>Micro-batches accumulated since the last boundary.</summary>
    public int Pending { get; private set; }

    /// <summary>The factor each micro-batch loss is multiplied by: 1/N.</summary>
    public double LossScale => 1.0 / MicroBatches;

    /// <summary>
    /// Runs backward on <paramref name="loss"/> * 1/N and counts the micro-batch. Returns true when this was
    /// the N-th since the last boundary: the gradients now hold a full step's worth; step, then zero them.
    /// </summary>
    public bool Backward(Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (MicroBatches == 1) loss.Backward();
        else using (var scaled = loss.Mul(LossScale)) scaled.Backward();
        Pending++;
        if (Pending < MicroBatches) return false;
        Pending = 0;
        return true;
    }

    /// <summary>
    /// At the end of the data, when k &lt; N micro-batches are pending: multiplies their gradients by N/k so
    /// they average the k micro-batches instead of being k/N of a step, and resets the count. Returns false
    /// (and changes nothing) when nothing is pending.
    /// </summary>
    public bool FinishPartial(IEnumerable<Tensor> parameters)
    {
        if (Pending == 0) return false;
        double rescale = (double)MicroBatches / Pending;
        using (Tape.NoGrad())
            foreach (var p in parameters)
                p.Grad?.MulInPlace(rescale);
        Pending = 0;
        return true;
    }
}
