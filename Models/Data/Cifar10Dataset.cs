namespace Engine.Models.Data;

/// <summary>
/// CIFAR-10 from its binary version (cifar-10-binary.tar.gz, www.cs.toronto.edu/~kriz/cifar.html): files of
/// 3073-byte records, one label byte (0..9) and 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each
/// 32x32 row-major, so already CHW). <see cref="Get"/> converts with <see cref="ToTensor"/> to 3 x 32 x 32 floats in [0, 1].
/// </summary>
public sealed class Cifar10Dataset : IDataset
{
    /// <summary>Bytes of one record: the label and the pixels.</summary>
    public const int RecordBytes = 1 + 3 * 32 * 32;

    private readonly byte[] _pixels, _labels;

    /// <summary>CIFAR-10's classes in label order.</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>The training files (50,000 images) in the order they are concatenated.</summary>
    public static IReadOnlyList<string> TrainFiles { get; } = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>The test file (10,000 images).</summary>
    public const string TestFile = "test_batch.bin";

    private Cifar10Dataset(string name, byte[] pixels, byte[] labels) => (Name, _pixels, _labels) = (name, pixels, labels);

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <inheritdoc/>
    public ImageShape Shape { get; } = new(3, 32, 32);

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames => Classes;

    /// <inheritdoc/>
    public Sample Get(int index)
    {
        Datasets.CheckIndex(this, index);
        return new(ToTensor.FromBytes(_pixels.AsSpan(index * Shape.Size, Shape.Size), Shape), _labels[index]);
    }

    /// <inheritdoc/>
    public int LabelAt(int index)
    {
        Datasets.CheckIndex(this, index);
        return _labels[index];
    }

    /// <summary>
    /// Loads the training (data_batch_1..5.bin) or test (test_batch.bin) split from <paramref name="dataDir"/>
    /// or its subfolder cifar-10-batches-bin (where the archive extracts to).
    /// </summary>
    public static Cifar10Dataset FromDirectory(string dataDir, bool train)
    {
        var files = train ? TrainFiles : [TestFile];
        string folder = Path.Combine(dataDir, "cifar-10-batches-bin");
        if (!File.Exists(Path.Combine(folder, files[0]))) folder = dataDir;
        var paths = files.Select(f => Path.Combine(folder, f)).ToList();
        foreach (var path in paths)
            if (!File.Exists(path))
                throw new FileNotFoundException($"cifar10: {Path.GetFileName(path)} not found in {dataDir} or its cifar-10-batches-bin folder "
                    + "(expected the binary version: data_batch_1.bin .. data_batch_5.bin and test_batch.bin).", path);
        return FromFiles(paths, $"cifar10 {(train ? "train" : "test")}");
    }

    /// <summary>Loads and concatenates binary batch files, checking each one's size and labels.</summary>
    public static Cifar10Dataset FromFiles(IEnumerable<string> paths, string name = "cifar10")
    {
        var files = new List<(string Name, byte[] Bytes)>();
        foreach (var path in paths)
        {
            var bytes = File.ReadAllBytes(path);
            string file = Path.GetFileName(path);
            if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
                throw new InvalidDataException($"{file}: {bytes.Length} bytes is not a whole, non-zero number of {RecordBytes}-byte records (1 label byte + 3072 pixel bytes).");
            files.Add((file, bytes));
        }
        int count = files.Sum(f => f.Bytes.Length / RecordBytes), n = 0;
        var labels = new byte[count];
        var all = new byte[count * (RecordBytes - 1)];
        foreach (var (file, bytes) in files)
            for (int r = 0; r < bytes.Length / RecordBytes; r++, n++)
            {
                labels[n] = bytes[r * RecordBytes];
                if (labels[n] >= Classes.Count)
                    throw new InvalidDataException($"{file}: record {r} has label {labels[n]}; CIFAR-10 labels are 0..9.");
                bytes.AsSpan(r * RecordBytes + 1, RecordBytes - 1).CopyTo(all.AsSpan(n * (RecordBytes - 1)));
            }
        return new Cifar10Dataset(name, all, labels);
    }
}
