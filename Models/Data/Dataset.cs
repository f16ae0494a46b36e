namespace Engine.Models.Data;

/// <summary>The shape of one image: channels, height, width (CHW, as PyTorch lays images out).</summary>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Number of pixels over all channels.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>"CxHxW".</summary>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// One image as float pixels in CHW order: <c>Pixels[(c * Height + y) * Width + x]</c>.
/// The array belongs to whoever holds the image; transforms may overwrite it (see <see cref="ITransform"/>).
/// </summary>
public readonly record struct ChwImage(float[] Pixels, ImageShape Shape)
{
    /// <summary>Creates an image of the given shape over <paramref name="pixels"/>, which must hold exactly its pixels.</summary>
    public ChwImage(float[] pixels, int channels, int height, int width) : this(pixels, new ImageShape(channels, height, width))
    {
        if (pixels.Length != Shape.Size)
            throw new ArgumentException($"image: {pixels.Length} pixels cannot fill a {Shape} image ({Shape.Size} pixels).");
    }

    /// <summary>A new zero-filled image.</summary>
    public static ChwImage Zeros(int channels, int height, int width) => new(new float[channels * height * width], channels, height, width);

    /// <summary>The pixel at channel <paramref name="c"/>, row <paramref name="y"/>, column <paramref name="x"/>.</summary>
    public float this[int c, int y, int x]
    {
        get => Pixels[(c * Shape.Height + y) * Shape.Width + x];
        set => Pixels[(c * Shape.Height + y) * Shape.Width + x] = value;
    }
}

/// <summary>One example: an image and its class index.</summary>
public readonly record struct Sample(ChwImage Image, int Label);

/// <summary>
/// A finite, indexable collection of labelled images, all of the same shape or (an image folder) of any size. Implementations are immutable
/// and safe to read from several threads (the data loader reads on its prefetch thread).
/// </summary>
public interface IDataset
{
    /// <summary>A short name for messages ("fashion-mnist train").</summary>
    string Name { get; }

    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>
    /// The shape of every image <see cref="Get"/> returns; a height and width of 0 mean images of any size (an
    /// <see cref="Images.ImageFolder"/>), which a transform with a fixed output size must bring to one shape.
    /// </summary>
    ImageShape Shape { get; }

    /// <summary>The class names; labels index this list.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>
    /// Example <paramref name="index"/>: pixels as floats in [0, 1] (bytes / 255, see <see cref="ToTensor"/>)
    /// in a new array the caller may modify, and the label.
    /// </summary>
    Sample Get(int index);

    /// <summary>The label of example <paramref name="index"/>, without decoding its image.</summary>
    int LabelAt(int index);
}

/// <summary>Helpers shared by the datasets.</summary>
public static class Datasets
{
    /// <summary>Number of examples of each class.</summary>
    public static int[] ClassCounts(this IDataset dataset)
    {
        var counts = new int[dataset.ClassNames.Count];
        for (int i = 0; i < dataset.Count; i++) counts[dataset.LabelAt(i)]++;
        return counts;
    }

    internal static void CheckIndex(IDataset dataset, int index)
    {
        if ((uint)index >= (uint)dataset.Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"{dataset.Name}: index {index} is out of range for {dataset.Count} examples.");
    }
}
