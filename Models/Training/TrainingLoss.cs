using Engine.Ops;

namespace Engine.Models.Training;

/// <summary>
/// The trainer's loss, chosen by name: <see cref="CrossEntropy"/> is the fused operator
/// (<c>Functional.CrossEntropy</c>); <see cref="ComposedCrossEntropy"/> is the same loss written with core
/// operations only, which run on every device the core runs on: logsumexp(x) minus the target's logit, picked
/// with a one-hot mask (a comparison with the class numbers, so no index is checked on the host), and with
/// label smoothing ε the PyTorch form (1 - ε)·nll + ε·(logsumexp(x) - mean(x)). The class numbers live on the
/// device, made once.
/// </summary>
public sealed class TrainingLoss : IDisposable
{
    /// <summary>The fused cross-entropy operator.</summary>
    public const string CrossEntropy = "cross-entropy";

    /// <summary>Cross-entropy from core operations.</summary>
    public const string ComposedCrossEntropy = "cross-entropy-composed";

    /// <summary>The names <see cref="TrainingLoss"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = [CrossEntropy, ComposedCrossEntropy];

    private readonly Tensor? _classes;

    /// <summary>The loss <paramref name="name"/> for <paramref name="classes"/> classes on <paramref name="device"/>.</summary>
    public TrainingLoss(string name, int classes, Device device)
    {
        if (!Names.Contains(name)) throw new ArgumentException($"train: unknown loss '{name}'; use {string.Join(" or ", Names)}.");
        Name = name;
        if (name != ComposedCrossEntropy) return;
        using var row = Tensor.Arange(classes, DType.I64, device);
        _classes = row.View([1, classes]).DetachFromScope();
    }

    /// <summary>The loss's name.</summary>
    public string Name { get; }

    /// <summary>The loss of <paramref name="logits"/> [B, C] against class indices <paramref name="labels"/> [B]: the batch mean, or the sum with <paramref name="sum"/>.</summary>
    public Tensor Compute(Tensor logits, Tensor labels, double labelSmoothing = 0, bool sum = false)
    {
        if (_classes is null) return Functional.CrossEntropy(logits, labels, reduction: sum ? "sum" : "mean", labelSmoothing: labelSmoothing);
        // Intermediates are disposed as handles only: the tape keeps its own handles on what backward needs
        // (in the caller's scope), so no inner scope here, which would free those too.
        using var lse = logits.LogSumExp(1);
        using var mask = labels.Unsqueeze(1).Eq(_classes);
        using var oneHot = mask.ToDType(logits.DType);
        using var picked = logits.Mul(oneHot);
        using var target = picked.Sum([1]);
        using var nll = lse.Sub(target);
        Tensor perExample = nll;
        if (labelSmoothing != 0)
        {
            using var mean = logits.Mean([1]);
            using var smooth = lse.Sub(mean);
            using var smoothed = smooth.Mul(labelSmoothing);
            using var kept = nll.Mul(1 - labelSmoothing);
            perExample = kept.Add(smoothed);
        }
        using (perExample == nll ? null : perExample)
            return sum ? perExample.Sum() : perExample.Mean();
    }

    /// <summary>Frees the class numbers.</summary>
    public void Dispose() => _classes?.Dispose();
}
