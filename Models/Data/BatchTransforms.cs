namespace Engine.Models.Data;

/// <summary>
/// A transformation of a whole batch that mixes examples and so turns labels into soft targets (mixup,
/// cutmix). Its randomness comes only from the <see cref="SampleRandom"/> passed in, which the loader derives
/// from (seed, epoch, batch position).
/// </summary>
public interface IBatchTransform
{
    /// <summary>
    /// Mixes <paramref name="images"/> (batch x <paramref name="shape"/>, CHW per image) in place and returns
    /// the soft targets, batch x <paramref name="classes"/> row-major, each row summing to 1.
    /// </summary>
    float[] Apply(float[] images, ImageShape shape, ReadOnlySpan<long> labels, int classes, SampleRandom random);
}

/// <summary>Soft targets from class labels.</summary>
public static class SoftTargets
{
    /// <summary>
    /// One row per label: 1 - <paramref name="smoothing"/> + smoothing / classes at the label and
    /// smoothing / classes elsewhere (PyTorch's <c>label_smoothing</c> of <c>cross_entropy</c>).
    /// </summary>
    public static float[] OneHot(ReadOnlySpan<long> labels, int classes, double smoothing = 0) =>
        Mixed(labels, null, classes, smoothing, 1.0);

    /// <summary>
    /// Row i: lambda x smoothed one-hot(labels[i]) + (1 - lambda) x smoothed one-hot(labels[partner[i]]),
    /// computed in double and rounded once, so rows sum to 1 within float rounding.
    /// </summary>
    internal static float[] Mixed(ReadOnlySpan<long> labels, int[]? partner, int classes, double smoothing, double lambda)
    {
        CheckSmoothing(smoothing);
        for (int i = 0; i < labels.Length; i++)
            if ((ulong)labels[i] >= (ulong)classes)
                throw new ArgumentException($"soft_targets: label {labels[i]} at batch position {i} is out of range for {classes} classes.");
        var targets = new float[labels.Length * classes];
        double off = smoothing / classes, on = 1 - smoothing + off;
        for (int i = 0; i < labels.Length; i++)
        {
            long mine = labels[i], theirs = labels[partner?[i] ?? i];
            for (int k = 0; k < classes; k++)
                targets[i * classes + k] = (float)(lambda * (k == mine ? on : off) + (1 - lambda) * (k == theirs ? on : off));
        }
        return targets;
    }

    internal static double CheckSmoothing(double smoothing) => smoothing is >= 0 and <= 1 ? smoothing
        : throw new ArgumentOutOfRangeException(nameof(smoothing), $"label_smoothing: must be in [0, 1], got {smoothing}.");
}

/// <summary>
/// mixup (Zhang et al., 2018): with probability <c>P</c>, a batch becomes lambda x itself + (1 - lambda) x a
/// random permutation of itself, lambda ~ Beta(alpha, alpha) once per batch, and the targets mix the same way.
/// Batches left unmixed still get (smoothed) one-hot targets, so every batch has the same target type.
/// Draws: one uniform (apply or not), then lambda, then the permutation.
/// </summary>
public sealed class Mixup(double alpha, double labelSmoothing = 0, double p = 1) : IBatchTransform
{
    /// <summary>The Beta distribution's parameter.</summary>
    public double Alpha { get; } = alpha > 0 ? alpha : throw new ArgumentOutOfRangeException(nameof(alpha), $"mixup: alpha must be positive, got {alpha}.");
    /// <summary>The label smoothing applied to each one-hot target before mixing.</summary>
    public double LabelSmoothing { get; } = SoftTargets.CheckSmoothing(labelSmoothing);
    /// <summary>The probability that a batch is mixed.</summary>
    public double P { get; } = p is >= 0 and <= 1 ? p : throw new ArgumentOutOfRangeException(nameof(p), $"mixup: p must be in [0, 1], got {p}.");

    /// <inheritdoc/>
    public float[] Apply(float[] images, ImageShape shape, ReadOnlySpan<long> labels, int classes, SampleRandom random)
    {
        if (random.NextDouble() >= P) return SoftTargets.OneHot(labels, classes, LabelSmoothing);
        return MixWith(images, shape, labels, classes, random.NextBeta(Alpha, Alpha), random);
    }

    internal float[] MixWith(float[] images, ImageShape shape, ReadOnlySpan<long> labels, int classes, double lambda, SampleRandom random)
    {
        int batch = labels.Length, size = shape.Size;
        var partner = random.Permutation(batch);
        var original = (float[])images.Clone();
        float a = (float)lambda, b = (float)(1 - lambda);
        for (int i = 0; i < batch; i++)
        {
            var mine = original.AsSpan(i * size, size);
            var theirs = original.AsSpan(partner[i] * size, size);
            var output = images.AsSpan(i * size, size);
            for (int j = 0; j < size; j++) output[j] = a * mine[j] + b * theirs[j];
        }
        return SoftTargets.Mixed(labels, partner, classes, LabelSmoothing, lambda);
    }
}

/// <summary>
/// CutMix (Yun et al., 2019): with probability <c>P</c>, each image gets a rectangle pasted from its partner in a
/// random permutation of the batch. lambda ~ Beta(alpha, alpha); the box has half-sizes
/// floor(W sqrt(1 - lambda) / 2) and floor(H sqrt(1 - lambda) / 2) around a uniform centre, clipped to the image
/// (as torchvision's v2 CutMix), and the targets use the area-correct
/// lambda = 1 - box area / image area. Draws: one uniform (apply or not), lambda, centre row, centre column,
/// then the permutation.
/// </summary>
public sealed class CutMix(double alpha, double labelSmoothing = 0, double p = 1) : IBatchTransform
{
    /// <summary>The Beta distribution's parameter.</summary>
    public double Alpha { get; } = alpha > 0 ? alpha : throw new ArgumentOutOfRangeException(nameof(alpha), $"cutmix: alpha must be positive, got {alpha}.");
    /// <summary>The label smoothing applied to each one-hot target before mixing.</summary>
    public double LabelSmoothing { get; } = SoftTargets.CheckSmoothing(labelSmoothing);
    /// <summary>The probability that a batch is mixed.</summary>
    public double P { get; } = p is >= 0 and <= 1 ? p : throw new ArgumentOutOfRangeException(nameof(p), $"cutmix: p must be in [0, 1], got {p}.");

    /// <inheritdoc/>
    public float[] Apply(float[] images, ImageShape shape, ReadOnlySpan<long> labels, int classes, SampleRandom random)
    {
        if (random.NextDouble() >= P) return SoftTargets.OneHot(labels, classes, LabelSmoothing);
        return CutWith(images, shape, labels, classes, random.NextBeta(Alpha, Alpha), random);
    }

    internal float[] CutWith(float[] images, ImageShape shape, ReadOnlySpan<long> labels, int classes, double lambda, SampleRandom random)
    {
        var (h, w) = (shape.Height, shape.Width);
        int cy = random.NextInt(h), cx = random.NextInt(w);
        double half = 0.5 * Math.Sqrt(1 - lambda);
        int halfH = (int)(half * h), halfW = (int)(half * w);
        int y0 = Math.Max(cy - halfH, 0), y1 = Math.Min(cy + halfH, h);
        int x0 = Math.Max(cx - halfW, 0), x1 = Math.Min(cx + halfW, w);
        var partner = random.Permutation(labels.Length);
        var original = (float[])images.Clone();
        for (int i = 0; i < labels.Length; i++)
            for (int c = 0; c < shape.Channels; c++)
                for (int y = y0; y < y1; y++)
                {
                    int row = (c * h + y) * w;
                    original.AsSpan(partner[i] * shape.Size + row + x0, x1 - x0).CopyTo(images.AsSpan(i * shape.Size + row + x0));
                }
        double kept = 1.0 - (double)(y1 - y0) * (x1 - x0) / (h * w);
        return SoftTargets.Mixed(labels, partner, classes, LabelSmoothing, kept);
    }
}

/// <summary>
/// Either mixup or CutMix per batch, as timm's Mixup with both alphas: with probability <c>P</c> the batch is
/// mixed, by CutMix with probability <c>SwitchProbability</c> and by mixup otherwise. Draws: one uniform
/// (apply or not), one uniform (which), then the chosen method's lambda, box and permutation.
/// </summary>
public sealed class MixupOrCutMix(double mixupAlpha, double cutmixAlpha, double switchProbability = 0.5, double labelSmoothing = 0, double p = 1) : IBatchTransform
{
    private readonly Mixup _mixup = new(mixupAlpha, labelSmoothing);
    private readonly CutMix _cutmix = new(cutmixAlpha, labelSmoothing);

    /// <summary>The probability of CutMix rather than mixup for a mixed batch.</summary>
    public double SwitchProbability { get; } = switchProbability is >= 0 and <= 1 ? switchProbability
        : throw new ArgumentOutOfRangeException(nameof(switchProbability), $"mixup_cutmix: switch probability must be in [0, 1], got {switchProbability}.");
    /// <summary>The probability that a batch is mixed.</summary>
    public double P { get; } = p is >= 0 and <= 1 ? p : throw new ArgumentOutOfRangeException(nameof(p), $"mixup_cutmix: p must be in [0, 1], got {p}.");

    /// <inheritdoc/>
    public float[] Apply(float[] images, ImageShape shape, ReadOnlySpan<long> labels, int classes, SampleRandom random)
    {
        if (random.NextDouble() >= P) return SoftTargets.OneHot(labels, classes, _mixup.LabelSmoothing);
        return random.NextDouble() < SwitchProbability
            ? _cutmix.CutWith(images, shape, labels, classes, random.NextBeta(_cutmix.Alpha, _cutmix.Alpha), random)
            : _mixup.MixWith(images, shape, labels, classes, random.NextBeta(_mixup.Alpha, _mixup.Alpha), random);
    }
}
