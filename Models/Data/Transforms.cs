namespace Engine.Models.Data;

/// <summary>
/// A transformation of one CHW float image, such as torchvision's transforms. Randomness comes only from the
/// <see cref="SampleRandom"/> passed in, which the loader derives from (seed, epoch, dataset index), so a
/// transform's output is a pure function of those and the image. A transform may overwrite the input's
/// pixels and return them, or return a new image; either way the caller uses only the returned image.
/// Implementations are immutable, so one instance can serve every thread.
/// </summary>
public interface ITransform
{
    /// <summary>Transforms <paramref name="image"/>.</summary>
    ChwImage Apply(ChwImage image, SampleRandom random);

    /// <summary>The shape of the output for an input of shape <paramref name="input"/>; throws if the input is not accepted.</summary>
    ImageShape OutputShape(ImageShape input);
}

/// <summary>Applies transforms in order, all drawing from the same <see cref="SampleRandom"/>.</summary>
public sealed class Compose(params ITransform[] transforms) : ITransform
{
    /// <summary>The transforms, in the order they run.</summary>
    public IReadOnlyList<ITransform> Transforms { get; } = transforms;

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        foreach (var t in Transforms) image = t.Apply(image, random);
        return image;
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input)
    {
        foreach (var t in Transforms) input = t.OutputShape(input);
        return input;
    }
}

/// <summary>
/// Per-channel standardisation, <c>(x - mean[c]) / std[c]</c> in float arithmetic as torchvision's
/// <c>Normalize</c>. One mean and std apply to every channel; otherwise there must be one per channel.
/// </summary>
public sealed class Normalize : ITransform
{
    private readonly float[] _mean, _std;

    /// <summary>Creates the transform; every std must be positive.</summary>
    public Normalize(float[] mean, float[] std)
    {
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"normalize: got {mean.Length} means and {std.Length} stds; give one of each per channel.");
        foreach (float s in std)
            if (!(s > 0)) throw new ArgumentException($"normalize: std must be positive, got [{string.Join(", ", std)}].");
        (_mean, _std) = ((float[])mean.Clone(), (float[])std.Clone());
    }

    /// <summary>The means, one per channel (or one for all).</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>The standard deviations, one per channel (or one for all).</summary>
    public IReadOnlyList<float> Std => _std;

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        var (channels, plane) = (OutputShape(image.Shape).Channels, image.Shape.Height * image.Shape.Width);
        var p = image.Pixels;
        for (int c = 0; c < channels; c++)
        {
            float m = _mean[_mean.Length == 1 ? 0 : c], s = _std[_std.Length == 1 ? 0 : c];
            for (int i = c * plane; i < (c + 1) * plane; i++) p[i] = (p[i] - m) / s;
        }
        return image;
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input) => _mean.Length == 1 || _mean.Length == input.Channels ? input
        : throw new ArgumentException($"normalize: {_mean.Length} means and stds do not match a {input} image ({input.Channels} channels).");
}

/// <summary>Repeats a one-channel (grey) image over <c>channels</c> channels, as torchvision's <c>Grayscale(3)</c> outputs it.</summary>
public sealed class RepeatGrey(int channels = 3) : ITransform
{
    /// <summary>Number of output channels.</summary>
    public int Channels { get; } = channels > 0 ? channels
        : throw new ArgumentOutOfRangeException(nameof(channels), $"repeat_grey: channels must be positive, got {channels}.");

    /// <inheritdoc/>
    public ChwImage Apply(ChwImage image, SampleRandom random)
    {
        var shape = OutputShape(image.Shape);
        var data = new float[shape.Size];
        for (int c = 0; c < Channels; c++) image.Pixels.CopyTo(data, c * image.Pixels.Length);
        return new ChwImage(data, shape);
    }

    /// <inheritdoc/>
    public ImageShape OutputShape(ImageShape input) => input.Channels == 1 ? input with { Channels = Channels }
        : throw new ArgumentException($"repeat_grey: expects a grey image (1 channel), got {input}.");
}
