namespace Engine.Models.Data;

/// <summary>
/// Grey images with labels held as bytes, as in MNIST and Fashion-MNIST's IDX files: <c>Count</c> images of
/// <c>Height x Width</c> pixels in row-major order and one label byte each. <see cref="Get"/> converts with
/// <see cref="ToTensor"/> (bytes / 255), so images come out as 1 x H x W floats in [0, 1].
/// </summary>
public sealed class IdxDataset : IDataset
{
    private readonly byte[] _pixels, _labels;

    /// <summary>The ten digits of MNIST.</summary>
    public static IReadOnlyList<string> DigitClasses { get; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Fashion-MNIST's ten classes, in label order.</summary>
    public static IReadOnlyList<string> FashionClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>
    /// A dataset over <paramref name="pixels"/> (count x height x width bytes) and <paramref name="labels"/>
    /// (one byte per image, each below the number of classes). The arrays are kept, not copied.
    /// </summary>
    public IdxDataset(string name, byte[] pixels, byte[] labels, int height, int width, IReadOnlyList<string> classNames)
    {
        if (height <= 0 || width <= 0)
            throw new ArgumentException($"{name}: image size {height}x{width} must be positive.");
        if (pixels.Length != (long)labels.Length * height * width)
            throw new ArgumentException($"{name}: {labels.Length} labels need {(long)labels.Length * height * width} pixel bytes of {height}x{width} images, got {pixels.Length}.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classNames.Count)
                throw new InvalidDataException($"{name}: label {labels[i]} of image {i} is out of range for {classNames.Count} classes.");
        (Name, _pixels, _labels, Shape, ClassNames) = (name, pixels, labels, new ImageShape(1, height, width), classNames);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <inheritdoc/>
    public ImageShape Shape { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The raw pixels: image i is bytes [i * H * W, (i + 1) * H * W).</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>The raw labels.</summary>
    public ReadOnlySpan<byte> Labels => _labels;

    /// <summary>The raw pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> ImageBytes(int index)
    {
        Datasets.CheckIndex(this, index);
        return _pixels.AsSpan(index * Shape.Size, Shape.Size);
    }

    /// <inheritdoc/>
    public Sample Get(int index) => new(ToTensor.FromBytes(ImageBytes(index), Shape), _labels[index]);

    /// <inheritdoc/>
    public int LabelAt(int index)
    {
        Datasets.CheckIndex(this, index);
        return _labels[index];
    }

    /// <summary>
    /// Reads an images file (magic 0x00000803) and a labels file (0x00000801), gzipped or not, and checks
    /// that they agree on the count and that every label is below the number of classes.
    /// </summary>
    public static IdxDataset Load(string imagesPath, string labelsPath, IReadOnlyList<string> classNames, string? name = null)
    {
        var images = IdxFile.Read(imagesPath, 3);
        var labels = IdxFile.Read(labelsPath, 1);
        return FromArrays(images, labels, Path.GetFileName(imagesPath), Path.GetFileName(labelsPath), classNames, name);
    }

    /// <summary>As <see cref="Load(string, string, IReadOnlyList{string}, string?)"/>, from streams; the names identify them in errors.</summary>
    public static IdxDataset Load(Stream images, string imagesName, Stream labels, string labelsName, IReadOnlyList<string> classNames, string? name = null) =>
        FromArrays(IdxFile.Read(images, imagesName, 3), IdxFile.Read(labels, labelsName, 1), imagesName, labelsName, classNames, name);

    private static IdxDataset FromArrays(IdxArray images, IdxArray labels, string imagesName, string labelsName, IReadOnlyList<string> classNames, string? name)
    {
        if (images.Dims[0] != labels.Dims[0])
            throw new InvalidDataException($"{imagesName} has {images.Dims[0]} images but {labelsName} has {labels.Dims[0]} labels.");
        for (int i = 0; i < labels.Data.Length; i++)
            if (labels.Data[i] >= classNames.Count)
                throw new InvalidDataException($"{labelsName}: label {labels.Data[i]} at index {i} is out of range for {classNames.Count} classes.");
        return new IdxDataset(name ?? imagesName, images.Data, labels.Data, images.Dims[1], images.Dims[2], classNames);
    }

    /// <summary>The file names of a split: "train" or "t10k" followed by "-images-idx3-ubyte" / "-labels-idx1-ubyte".</summary>
    public static (string Images, string Labels) FileNames(bool train) =>
        train ? ("train-images-idx3-ubyte", "train-labels-idx1-ubyte") : ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

    /// <summary>
    /// Loads a split from the IDX files of MNIST or Fashion-MNIST in <paramref name="dataDir"/>:
    /// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
    /// each possibly gzipped (".gz") and possibly named with a dot before "idx" (train-images.idx3-ubyte).
    /// </summary>
    public static IdxDataset FromDirectory(string dataDir, bool train, IReadOnlyList<string> classNames, string? name = null)
    {
        var (images, labels) = FileNames(train);
        return Load(Find(dataDir, images), Find(dataDir, labels), classNames, name ?? $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(dataDir))} {(train ? "train" : "test")}");
    }

    /// <summary>Whether <paramref name="dataDir"/> holds both files of both splits.</summary>
    public static bool DirectoryHasSplits(string dataDir) =>
        Directory.Exists(dataDir) && new[] { FileNames(true), FileNames(false) }
            .All(f => TryFind(dataDir, f.Images) is not null && TryFind(dataDir, f.Labels) is not null);

    private static string? TryFind(string dataDir, string fileName)
    {
        string dotted = fileName.Replace("-idx", ".idx", StringComparison.Ordinal);
        foreach (var candidate in new[] { fileName, fileName + ".gz", dotted, dotted + ".gz" })
        {
            var path = Path.Combine(dataDir, candidate);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    private static string Find(string dataDir, string fileName) => TryFind(dataDir, fileName)
        ?? throw new FileNotFoundException(
            $"{fileName}[.gz] not found in {dataDir} (expected the IDX files of MNIST or Fashion-MNIST: train-images-idx3-ubyte, "
            + "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not).", Path.Combine(dataDir, fileName));

    /// <summary>Writes the images and labels as IDX files <c>{prefix}-images-idx3-ubyte.gz</c> and <c>{prefix}-labels-idx1-ubyte.gz</c>.</summary>
    public void Save(string dir, bool train)
    {
        Directory.CreateDirectory(dir);
        var (images, labels) = FileNames(train);
        IdxFile.Write(Path.Combine(dir, images + ".gz"), [Count, Shape.Height, Shape.Width], _pixels);
        IdxFile.Write(Path.Combine(dir, labels + ".gz"), [Count], _labels);
    }

    /// <summary>
    /// The first <paramref name="perClass"/> images of each class, in their original order (an image is kept
    /// when fewer than <paramref name="perClass"/> of its class come before it).
    /// </summary>
    public IdxDataset TakePerClass(int perClass, string? name = null)
    {
        var taken = new int[ClassNames.Count];
        var keep = new List<int>();
        for (int i = 0; i < Count; i++)
            if (taken[_labels[i]]++ < perClass) keep.Add(i);
        var pixels = new byte[keep.Count * Shape.Size];
        var labels = new byte[keep.Count];
        for (int k = 0; k < keep.Count; k++)
        {
            ImageBytes(keep[k]).CopyTo(pixels.AsSpan(k * Shape.Size));
            labels[k] = _labels[keep[k]];
        }
        return new IdxDataset(name ?? Name, pixels, labels, Shape.Height, Shape.Width, ClassNames);
    }
}
