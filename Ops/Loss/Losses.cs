using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

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

/// <summary>
/// The loss node shared by cross-entropy and nll_loss: the outputs allocated on the input's device, the recorded
/// backward, and one switch on the device per kernel call. The kernels run on the CPU (<c>Losses.Cpu.cs</c>) and on
/// CUDA (<c>Losses.Cuda.cs</c>, <c>Losses.cu</c>); on both the loss is reduced where the data is and the backward
/// takes the output's gradient as a tensor, so nothing is read to the host. The class targets are checked on the
/// CPU before the kernel runs, and on CUDA by the kernel itself, which reports a bad target at the host's next wait
/// for the device (<c>docs/ops-notes/loss.md</c>).
/// </summary>
internal static class LossFunction
{
    public static Tensor Apply(string op, Tensor input, Tensor target, Tensor? weight, LossGeometry geometry, bool soft, long ignoreIndex, double smoothing, bool logProbabilities)
    {
        long t0 = Stopwatch.GetTimestamp();
        using var x = FamilyGuards.Dense(input);
        using var t = FamilyGuards.Dense(target);
        using var w = weight is null ? null : FamilyGuards.Dense(weight);
        var problem = new LossProblem(geometry, soft, ignoreIndex, smoothing, logProbabilities, op,
            $"input shape {FamilyGuards.Shape(input)}, target shape {FamilyGuards.Shape(target)}");
        var output = Tensor.Empty(geometry.Reduction == "none" ? geometry.PositionShape : [], input.DType, input.Device);
        // The log-sum-exp per position (cross-entropy only), from which the backward recomputes the softmax, and the
        // stats (the 'mean' denominator, Σ_c w_c) in double, which the backward needs without a trip to the host.
        var lse = logProbabilities ? null : Tensor.Empty([checked((int)geometry.Positions)], input.DType, input.Device);
        var stats = Tensor.Empty([2], DType.F64, input.Device);
        using (lse)
        using (stats)
        {
            Forward(problem, x, t, w, output, lse, stats);
            var softTarget = soft ? target : null;
            if (!Tape.ShouldRecord(input, softTarget)) return output;
            bool needInput = input.RequiresGrad, needTarget = softTarget is { RequiresGrad: true };
            // Saved: the dense operands (aliases, or the private copies made above), the log-sum-exp and the stats.
            var saved = new List<SavedTensor> { Tape.Save(x), Tape.Save(t), Tape.Save(stats) };
            if (lse is not null) saved.Add(Tape.Save(lse));
            if (w is not null) saved.Add(Tape.Save(w));
            var savedArray = saved.ToArray();
            Tape.Record(op, [input, softTarget], [output], g =>
            {
                var xs = savedArray[0].Value;
                int k = 3;
                var savedLse = lse is null ? null : savedArray[k++].Value;
                var savedWeight = w is null ? null : savedArray[k].Value;
                var gx = needInput ? Tensor.Empty(xs.Layout.Shape, xs.DType, xs.Device) : null;
                var gt = needTarget ? Tensor.Empty(xs.Layout.Shape, xs.DType, xs.Device) : null;
                if ((gx ?? gt) is not null && xs.NumEl > 0)
                {
                    using var gc = FamilyGuards.Dense(g[0]);
                    Backward(problem, xs, savedArray[1].Value, savedWeight, savedLse, savedArray[2].Value, gc, gx, gt);
                }
                return [gx, gt];
            }, savedArray, t0);
        }
        return output;
    }

    private static void Forward(LossProblem problem, Tensor x, Tensor target, Tensor? weight, Tensor output, Tensor? lse, Tensor stats)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: LossCpu.Forward(problem, x, target, weight, output, lse, stats); break;
            case DeviceType.Cuda: LossCuda.Forward(problem, x, target, weight, output, lse, stats); break;
            default: throw Kernel.Missing(problem.Op, x);
        }
    }

    private static void Backward(LossProblem problem, Tensor x, Tensor target, Tensor? weight, Tensor? lse, Tensor stats, Tensor g, Tensor? gx, Tensor? gt)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: LossCpu.Backward(problem, x, target, weight, lse, stats, g, gx, gt); break;
            case DeviceType.Cuda: LossCuda.Backward(problem, x, target, weight, lse, stats, g, gx, gt); break;
            default: throw Kernel.Missing(problem.Op + "_backward", x);
        }
    }
}
