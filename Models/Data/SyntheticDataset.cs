namespace Engine.Models.Data;

/// <summary>
/// Generated images that a model can learn: class k is a sinusoidal grating whose orientation (k / classes of a
/// half turn), frequency (2, 3 or 4 periods across the image), phase and per-channel contrast are fixed by the
/// class and the seed; each example varies the amplitude (0.6 to 1), shifts the phase by up to half a radian
/// and adds Gaussian noise of standard deviation <c>Noise</c>, then clamps to [0, 1]. Example i has label
/// (<c>FirstSample</c> + i) mod classes, so the classes are balanced, and its pixels are a pure function of
/// (seed, <c>FirstSample</c> + i): nothing is stored. A test set from the same seed shares the classes'
/// patterns; give it a <c>firstSample</c> past the training set's examples.
/// </summary>
public sealed class SyntheticDataset : IDataset
{
    private readonly ulong _seed;
    private readonly (double Angle, double Frequency, double Phase, double[] Contrast)[] _patterns;

    /// <summary>Creates <paramref name="count"/> examples starting at example <paramref name="firstSample"/> of the seed's stream.</summary>
    public SyntheticDataset(int count, int classes = 10, int channels = 1, int height = 28, int width = 28,
        ulong seed = 0, float noise = 0.1f, int firstSample = 0, string name = "synthetic")
    {
        if (count < 0 || classes < 1 || channels < 1 || height < 1 || width < 1 || firstSample < 0 || !(noise >= 0))
            throw new ArgumentException($"synthetic: need count >= 0, classes >= 1, positive image sizes, firstSample >= 0 and noise >= 0; "
                + $"got count {count}, classes {classes}, shape {channels}x{height}x{width}, firstSample {firstSample}, noise {noise}.");
        (Name, Count, Shape, _seed, Noise, FirstSample) = (name, count, new ImageShape(channels, height, width), seed, noise, firstSample);
        ClassNames = Enumerable.Range(0, classes).Select(k => $"pattern {k}").ToArray();
        _patterns = new (double, double, double, double[])[classes];
        for (int k = 0; k < classes; k++)
        {
            // The class patterns use the epoch slot 1 of the stream; the examples use slot 0.
            var random = new SampleRandom(seed, SampleRandom.Streams.Synthetic, 1, (uint)k);
            var contrast = new double[channels];
            for (int c = 0; c < channels; c++) contrast[c] = 0.5 + 0.5 * random.NextDouble();
            _patterns[k] = (Math.PI * k / classes, 2 + k % 3, 2 * Math.PI * random.NextDouble(), contrast);
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public ImageShape Shape { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The standard deviation of the per-pixel noise.</summary>
    public float Noise { get; }

    /// <summary>The position of example 0 in the seed's stream.</summary>
    public int FirstSample { get; }

    /// <inheritdoc/>
    public int LabelAt(int index)
    {
        Datasets.CheckIndex(this, index);
        return (int)((FirstSample + (long)index) % ClassNames.Count);
    }

    /// <inheritdoc/>
    public Sample Get(int index)
    {
        int label = LabelAt(index);
        var (angle, frequency, phase, contrast) = _patterns[label];
        var random = new SampleRandom(_seed, SampleRandom.Streams.Synthetic, 0, (uint)(FirstSample + index));
        double amplitude = 0.6 + 0.4 * random.NextDouble();
        double shift = random.NextDouble() - 0.5;
        var (channels, height, width) = (Shape.Channels, Shape.Height, Shape.Width);
        double kx = 2 * Math.PI * frequency * Math.Cos(angle) / width, ky = 2 * Math.PI * frequency * Math.Sin(angle) / height;
        var pixels = new float[Shape.Size];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    double wave = Math.Sin(kx * x + ky * y + phase + shift);
                    double value = 0.5 + 0.45 * amplitude * contrast[c] * wave + (Noise == 0 ? 0 : Noise * random.NextNormal());
                    pixels[(c * height + y) * width + x] = (float)Math.Clamp(value, 0, 1);
                }
        return new Sample(new ChwImage(pixels, Shape), label);
    }
}
