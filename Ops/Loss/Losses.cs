using System.Diagnostics;
using Engine.Autograd;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Cross-entropy between logits and targets, PyTorch's <c>F.cross_entropy</c>: log-softmax over the class
    /// dimension (dim 1, or dim 0 for an unbatched (C) input) fused with the negative log-likelihood in one
    /// tape node, whose backward is softmax minus the target distribution, scaled.
    /// </summary>
    /// <param name="input">Logits (C), (N, C) or (N, C, d1, ...).</param>
    /// <param name="target">
    /// Class indices (I64) of shape (), (N) or (N, d1, ...), or class probabilities of the input's shape and
    /// dtype (soft targets, as mixup and cutmix make; they receive a gradient too).
    /// </param>
    /// <param name="weight">Optional per-class weights (C) of the input's dtype; constants (no gradient flows to them).</param>
    /// <param name="ignoreIndex">A class index whose positions contribute neither loss nor gradient (class-index targets only).</param>
    /// <param name="reduction">"mean" (over non-ignored positions, weighted by the target classes' weights), "sum" or "none".</param>
    /// <param name="labelSmoothing">In [0, 1]: the target becomes (1 - ε) target + ε / C.</param>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100, string reduction = "mean", double labelSmoothing = 0.0)
    {
        const string op = "cross_entropy";
        var geometry = LossGeometry.Of(op, input, target, weight, reduction);
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentException($"{op}: label_smoothing must be between 0.0 and 1.0. Got: {labelSmoothing} (input shape {FamilyGuards.Shape(input)}).");
        bool soft = target.Layout.Shape.AsSpan().SequenceEqual(input.Layout.Shape) && input.Rank > 0;
        if (soft)
        {
            if (!target.DType.IsFloatingPoint())
                throw new ArgumentException($"{op}: expected floating point type for target with class probabilities, got {target.DType.TorchName()} (input shape {FamilyGuards.Shape(input)}, target shape {FamilyGuards.Shape(target)}).");
            if (target.DType != input.DType)
                throw new ArgumentException($"{op}: expected the target probabilities to have the input's dtype {input.DType.TorchName()}, got {target.DType.TorchName()} (shape {FamilyGuards.Shape(target)}).");
            if (ignoreIndex >= 0)
                throw new ArgumentException($"{op}: ignore_index is not supported for floating point target (ignore_index {ignoreIndex}, target shape {FamilyGuards.Shape(target)}).");
        }
        else
        {
            geometry.CheckClassTarget(op, input, target);
        }
        return LossFunction.Apply(op, input, target, weight, geometry, soft, ignoreIndex, labelSmoothing, logProbabilities: false);
    }

    /// <summary>
    /// Negative log-likelihood of log-probabilities, PyTorch's <c>F.nll_loss</c>: -weight[t] * input[t] per
    /// position, reduced as in <see cref="CrossEntropy"/> with class-index targets.
    /// </summary>
    /// <param name="input">Log-probabilities (C), (N, C) or (N, C, d1, ...).</param>
    /// <param name="target">Class indices (I64) of shape (), (N) or (N, d1, ...).</param>
    /// <param name="weight">Optional per-class weights (C); constants.</param>
    /// <param name="ignoreIndex">A class index whose positions contribute neither loss nor gradient.</param>
    /// <param name="reduction">"mean" (weighted), "sum" or "none".</param>
    public static Tensor NllLoss(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100, string reduction = "mean")
    {
        const string op = "nll_loss";
        var geometry = LossGeometry.Of(op, input, target, weight, reduction);
        geometry.CheckClassTarget(op, input, target);
        return LossFunction.Apply(op, input, target, weight, geometry, soft: false, ignoreIndex, 0, logProbabilities: true);
    }
}

/// <summary>The loss node shared by cross-entropy and nll_loss: forward kernel, reduction, and the recorded backward.</summary>
internal static class LossFunction
{
    public static Tensor Apply(string op, Tensor input, Tensor target, Tensor? weight, LossGeometry geometry, bool soft, long ignoreIndex, double smoothing, bool logProbabilities)
    {
        long t0 = Stopwatch.GetTimestamp();
        using var x = FamilyGuards.Dense(input);
        using var t = FamilyGuards.Dense(target);
        using var w = weight is null ? null : FamilyGuards.Dense(weight);
        var problem = new LossProblem(geometry, soft, ignoreIndex, smoothing, logProbabilities);
        if (!soft) problem.CheckTargetValues(op, t, input);
        var (losses, lse, denominator) = LossKernels.Forward(problem, x, t, w);
        using var lseHandle = lse;
        var output = geometry.Reduce(losses, denominator, input.DType);
        var softTarget = soft ? target : null;
        if (Tape.ShouldRecord(input, softTarget))
        {
            bool needInput = input.RequiresGrad, needTarget = softTarget is { RequiresGrad: true };
            // Saved: the dense operands (aliases, or the private copies made above) and the log-sum-exp,
            // from which the backward recomputes the softmax instead of keeping it.
            var saved = new List<SavedTensor> { Tape.Save(x), Tape.Save(t) };
            if (lse is not null) saved.Add(Tape.Save(lse));
            if (w is not null) saved.Add(Tape.Save(w));
            var savedArray = saved.ToArray();
            Tape.Record(op, [input, softTarget], [output], g =>
            {
                var scales = geometry.Scales(g[0], denominator);
                int k = 2;
                var savedLse = lse is null ? null : savedArray[k++].Value;
                var savedWeight = w is null ? null : savedArray[k].Value;
                var (gx, gt) = LossKernels.Backward(problem, savedArray[0].Value, savedArray[1].Value, savedWeight, savedLse, scales, needInput, needTarget);
                return [gx, gt];
            }, savedArray, t0);
        }
        return output;
    }
}
