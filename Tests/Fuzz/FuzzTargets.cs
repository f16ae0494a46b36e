using Engine.Models.Data;
using Engine.Models.Parity;
using Engine.Models.Serialization;

namespace Engine.Fuzz;

/// <summary>
/// One fuzz target per reader of files that come from elsewhere (issue 21, part 1). A target takes the fuzzer's
/// bytes as the file's whole content; the only allowed outcomes are a result or one of the reader's documented
/// exceptions (<see cref="IsAllowed"/>). Anything else (an index out of range, a null reference, an out-of-memory
/// from a size field, a hang) is a crash. Shared by the AFL++ harness (Tests/Fuzz/Program.cs) and the regression
/// tests that replay each crash found (Tests/Models/FuzzRegressionTests.cs).
/// </summary>
public static class FuzzTargets
{
    /// <summary>The targets by name.</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>
    {
        ["safetensors"] = SafeTensorsFile,
        ["checkpoint"] = CheckpointFile,
        ["idx"] = bytes => IdxFile.Parse(bytes, "fuzz.idx", bytes.Length > 3 ? Math.Clamp(bytes[3] & 3, 1, 3) : 1),
        ["idx-gz"] = IdxGzip,
        ["cifar10"] = bytes => Cifar10(bytes),
        ["npm"] = bytes => FashionMnist.FromNpmTarball(Scratch("fuzz.tgz", bytes), trainPerClass: 1),
        ["golden"] = Golden,
        ["pth"] = PthCheckpoint,
        ["image"] = bytes => _ = Engine.Models.Data.Images.ImageFile.Decode(bytes, "fuzz.image"),
    };

    /// <summary>
    /// The documented failures: <see cref="InvalidDataException"/> (a file that is not what it should be; the
    /// safetensors reader's <see cref="SafeTensorsException"/> is an <see cref="IOException"/> naming the file), for
    /// the .pth reader its PthException (an IOException naming the file), and for the golden files what the parity command answers with exit code 2 (an unknown model or config:
    /// <see cref="NotSupportedException"/>, <see cref="ArgumentException"/>, <see cref="KeyNotFoundException"/>).
    /// </summary>
    public static bool IsAllowed(string target, Exception e) => e switch
    {
        InvalidDataException or SafeTensorsException => true,
        Engine.Models.Serialization.Pth.PthException => target == "pth",
        NotSupportedException or ArgumentException or KeyNotFoundException => target == "golden",
        _ => false,
    };

    /// <summary>Runs <paramref name="target"/> on <paramref name="input"/>; an allowed exception is returned, any other escapes.</summary>
    public static Exception? Run(string target, byte[] input)
    {
        if (!All.TryGetValue(target, out var run))
            throw new ArgumentException($"fuzz: unknown target '{target}'; known: {string.Join(", ", All.Keys)}.");
        try
        {
            run(input);
            return null;
        }
        catch (Exception e) when (IsAllowed(target, e))
        {
            return e;
        }
    }

    private static void SafeTensorsFile(byte[] bytes)
    {
        using var file = SafeTensors.Read(new MemoryStream(bytes), "fuzz.safetensors");
        foreach (var (_, tensor) in file.Tensors) _ = tensor.Shape;
    }

    /// <summary>A PyTorch checkpoint (zip or legacy <c>torch.save</c>): the pickle scanner, Razorvine's unpickler and the tensor views.</summary>
    private static void PthCheckpoint(byte[] bytes)
    {
        using var file = Engine.Models.Serialization.Pth.PthReader.Read(new MemoryStream(bytes), "fuzz.pth");
        foreach (var (_, tensor) in file.Tensors) _ = tensor.Shape;
    }

    private static void CheckpointFile(byte[] bytes)
    {
        using var ckpt = Checkpoint.Load(new MemoryStream(bytes), "fuzz.ckpt");
        _ = ckpt.Model.Count;
    }

    /// <summary>The same IDX parser behind a gzip layer: the fuzzer's bytes are gzipped first, so it explores IDX content, and the raw target explores broken gzip.</summary>
    private static void IdxGzip(byte[] bytes)
    {
        using var packed = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(bytes);
        IdxFile.Parse(packed.ToArray(), "fuzz.idx.gz", bytes.Length > 3 ? Math.Clamp(bytes[3] & 3, 1, 3) : 1);
    }

    private static void Cifar10(byte[] bytes)
    {
        var data = Cifar10Dataset.FromFiles([Scratch("data_batch_1.bin", bytes)]);
        if (data.Count > 0) _ = data.Get(data.Count - 1);
    }

    private static void Golden(byte[] bytes)
    {
        using var golden = GoldenCase.Load(Scratch("fuzz.safetensors", bytes));
        if (ParityModels.Knows(golden.Model)) ParityModels.Build(golden).Module.Dispose();
    }

    /// <summary>Writes <paramref name="bytes"/> to a file of this process (the readers that take a path read it back).</summary>
    private static string Scratch(string name, byte[] bytes)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"engine-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
