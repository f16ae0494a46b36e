namespace Engine.Models.Data.Images;

/// <summary>What <see cref="ImageFolder"/> does with a file it finds but cannot decode.</summary>
public enum UnreadableImages
{
    /// <summary>Stop with an error that names every such file (the default, as torchvision fails on its first).</summary>
    Error,
    /// <summary>Leave the file out and report it, by path, through the log.</summary>
    Skip,
}

/// <summary>
/// Images in one folder per class, as torchvision's <c>ImageFolder</c>: the classes are the sub-folders of
/// <c>root</c> sorted by ordinal (code point) order, <see cref="ClassToIndex"/> maps each to its index, and the
/// examples are the files under each class folder (recursively, folders and files sorted) whose extension is
/// one of <see cref="ImageFile.Extensions"/>. Each file's header is read when the folder is opened, so a file the
/// decoder cannot read is reported by path then (an error or, with <see cref="UnreadableImages.Skip"/>, a
/// warning); the pixels are decoded in <see cref="Get"/>, to RGB floats in [0, 1]. The images keep their own
/// sizes, so <see cref="Shape"/> is 3 x 0 x 0 ("any size"): a transform that outputs a fixed size, such as
/// <see cref="RandomResizedCrop"/> or <see cref="Resize"/> + <see cref="CenterCrop"/>, must come first.
/// </summary>
public sealed class ImageFolder : IDataset
{
    private readonly (string Path, int Label)[] _samples;

    /// <summary>Lists the images under <paramref name="root"/>.</summary>
    /// <param name="root">The folder with one sub-folder per class.</param>
    /// <param name="unreadable">What to do with files that have an image extension but cannot be decoded.</param>
    /// <param name="log">Receives one warning per skipped file.</param>
    /// <param name="name">The name in messages (default: the folder's path).</param>
    public ImageFolder(string root, UnreadableImages unreadable = UnreadableImages.Error, Action<string>? log = null, string? name = null)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"image_folder: no folder {root}.");
        Root = root;
        Name = name ?? root;
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).Select(n => n!)
            .Order(StringComparer.Ordinal).ToArray();
        if (classes.Length == 0) throw new FileNotFoundException($"image_folder: couldn't find any class folder in {root}.");
        ClassNames = classes;
        ClassToIndex = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);

        var samples = new List<(string, int)>();
        var bad = new List<string>();
        var empty = new List<string>();
        for (int label = 0; label < classes.Length; label++)
        {
            int before = samples.Count;
            foreach (var file in FilesSorted(Path.Combine(root, classes[label])).Where(ImageFile.HasImageExtension))
            {
                if (ImageFile.Check(file) is { } why) bad.Add(why);
                else samples.Add((file, label));
            }
            if (samples.Count == before) empty.Add(classes[label]);
        }
        if (bad.Count > 0)
        {
            if (unreadable == UnreadableImages.Error)
                throw new InvalidDataException($"image_folder {root}: {bad.Count} file(s) cannot be decoded (skip them with the skip option):\n  " + string.Join("\n  ", bad));
            foreach (var why in bad) log?.Invoke($"warning: skipped {why}");
        }
        if (empty.Count > 0)
            throw new FileNotFoundException($"image_folder {root}: found no valid file for the classes {string.Join(", ", empty)}. Supported extensions are: {string.Join(", ", ImageFile.Extensions)}");
        _samples = [.. samples];
    }

    /// <summary>The folder read.</summary>
    public string Root { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => _samples.Length;

    /// <summary>3 x 0 x 0: RGB images of any size.</summary>
    public ImageShape Shape => new(3, 0, 0);

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Each class folder's name and its label, as torchvision's <c>class_to_idx</c>.</summary>
    public IReadOnlyDictionary<string, int> ClassToIndex { get; }

    /// <summary>The path of example <paramref name="index"/>.</summary>
    public string PathAt(int index)
    {
        Datasets.CheckIndex(this, index);
        return _samples[index].Path;
    }

    /// <inheritdoc/>
    public Sample Get(int index)
    {
        Datasets.CheckIndex(this, index);
        var (path, label) = _samples[index];
        return new Sample(ImageFile.Read(path).ToChw(), label);
    }

    /// <inheritdoc/>
    public int LabelAt(int index)
    {
        Datasets.CheckIndex(this, index);
        return _samples[index].Label;
    }

    /// <summary>The files under <paramref name="dir"/> in the order of torchvision's <c>sorted(os.walk(dir))</c> with sorted file names.</summary>
    private static IEnumerable<string> FilesSorted(string dir)
    {
        // os.walk lists (folder, subfolders, files) tuples; sorting them orders by the folder's full path.
        var folders = new List<string> { dir };
        var pending = new Stack<string>();
        pending.Push(dir);
        while (pending.Count > 0)
            foreach (var sub in Directory.GetDirectories(pending.Pop()))
            {
                folders.Add(sub);
                pending.Push(sub);
            }
        foreach (var folder in folders.Order(StringComparer.Ordinal))
            foreach (var file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                yield return file;
    }
}
