using System.Buffers.Binary;
using Engine.Models.Serialization;
using Xunit;
using static Engine.Tests.Models.SafeTensorsTests;

namespace Engine.Tests.Models;

/// <summary>Every way a safetensors file can be wrong gives a <see cref="SafeTensorsException"/> naming the file and the problem.</summary>
public class SafeTensorsBadFileTests
{
    private const string Name = "bad.safetensors";

    /// <summary>Reads <paramref name="bytes"/> and returns the error, checking it names the file.</summary>
    internal static SafeTensorsException Read(byte[] bytes, bool forwardOnly = false)
    {
        using var scope = Tensor.Scope();
        long live = CpuStorage.LiveBytes;
        Stream stream = new MemoryStream(bytes);
        if (forwardOnly) stream = new ForwardOnlyStream(stream);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.Read(stream, Name));
        Assert.Contains($"'{Name}'", e.Message);
        Assert.Equal(Name, e.FileName);
        return e;
    }

    private static readonly byte[] TwoF32 = new byte[8];

    public static TheoryData<string, byte[], string> BadFiles() => new()
    {
        { "empty", [], "too short for the 8-byte header length" },
        { "short prefix", [1, 2, 3], "too short" },
        { "header past end", [.. BitConverter.GetBytes(1000L), .. "{}      "u8.ToArray()], "runs past the end of the file" },
        { "huge header", [.. BitConverter.GetBytes(long.MaxValue), 0], "larger than the" },
        { "tiny header", [.. BitConverter.GetBytes(1L), (byte)'{'], "at least" },
        { "not json", Raw("{not json}", []), "not valid JSON" },
        { "not utf-8", Raw("{\"\u00ff\":1}", []).Select(b => b == 0xC3 ? (byte)0xFF : b).ToArray(), "not valid UTF-8" },
        { "not an object", Raw("[1, 2]", []), "does not start with '{'" },
        { "cut json", Raw("""{"a":{"dtype":"F32""", []), "not valid JSON" },
        { "unknown dtype", Raw("""{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}""", new byte[16]), "unknown dtype 'F128'" },
        { "lower case dtype", Raw("""{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}""", new byte[4]), "unknown dtype 'f32'" },
        { "no dtype", Raw("""{"a":{"shape":[1],"data_offsets":[0,4]}}""", new byte[4]), "'dtype' is missing" },
        { "no shape", Raw("""{"a":{"dtype":"F32","data_offsets":[0,4]}}""", new byte[4]), "'shape' is missing" },
        { "negative dim", Raw("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", new byte[4]), "non-negative integers" },
        { "fractional dim", Raw("""{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", new byte[4]), "non-negative integers" },
        { "no offsets", Raw("""{"a":{"dtype":"F32","shape":[1]}}""", new byte[4]), "'data_offsets' is missing" },
        { "three offsets", Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""", new byte[4]), "'data_offsets' is missing" },
        { "reversed offsets", Raw("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}""", new byte[4]), "end before they begin" },
        { "size mismatch", Raw("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", TwoF32), "needs 12 bytes but data_offsets [0, 8] span 8" },
        { "overlap", Raw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", TwoF32), "overlaps tensor 'a'" },
        { "gap", Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", TwoF32), "no tensor covers bytes [0, 4)" },
        { "past the data", Raw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", TwoF32), "runs past the end of the data" },
        { "trailing bytes", Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", TwoF32), "4 trailing bytes" },
        { "metadata not strings", Raw("""{"__metadata__":{"n":1}}""", []), "metadata values must be strings" },
        { "metadata not object", Raw("""{"__metadata__":"x"}""", []), "must be an object of strings" },
        { "duplicate tensor", Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", TwoF32), "lists tensor 'a' twice" },
        { "entry not object", Raw("""{"a":[1]}""", []), "expected an object" },
        { "too large", Raw("""{"a":{"dtype":"F64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}""", TwoF32), "too large" },
        { "wraps to zero", Raw("""{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}""", []), "larger than this engine supports" },
        { "wraps past long", Raw("""{"a":{"dtype":"U8","shape":[2147483647,2147483647,2147483647,8],"data_offsets":[0,8]}}""", TwoF32), "too large" },
        { "u64 overflow", Raw("""{"a":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}""", BitConverter.GetBytes(ulong.MaxValue)), "does not fit the engine's I64" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void EachFailureModeNamesTheFileAndTheProblem(string mode, byte[] bytes, string expected)
    {
        var e = Read(bytes);
        Assert.True(e.Message.Contains(expected), $"{mode}: '{e.Message}' does not mention '{expected}'");
    }

    [Fact]
    public void AStreamThatEndsInsideATensorIsReportedAsTruncated()
    {
        var full = Raw("""{"a":{"dtype":"F64","shape":[4],"data_offsets":[0,32]}}""", new byte[32]);
        var e = Read(full[..^5], forwardOnly: true);
        Assert.Contains("ends 27 bytes into tensor 'a'", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void EveryTruncationOfAValidFileIsAnError()
    {
        using var scope = Tensor.Scope();
        var bytes = ToBytes(s => SafeTensors.Write(s, [new("w", Tensor.Ones([3, 2])), new("b", Tensor.Zeros([2], DType.F64))], new Dictionary<string, string> { ["m"] = "x" }));
        for (int length = 0; length < bytes.Length; length++)
        {
            Read(bytes[..length]);
            Read(bytes[..length], forwardOnly: true);
        }
    }

    /// <summary>Any single corrupted header byte either still parses to a consistent file or is an error of ours: never a crash of another kind.</summary>
    [Fact]
    public void CorruptedHeaderBytesNeverEscapeAsOtherExceptions()
    {
        using var scope = Tensor.Scope();
        var bytes = ToBytes(s => SafeTensors.Write(s, [new("w", Tensor.Ones([3, 2])), new("i", Tensor.Zeros([2], DType.I64))], new Dictionary<string, string> { ["m"] = "x" }));
        long headerEnd = 8 + BinaryPrimitives.ReadInt64LittleEndian(bytes);
        foreach (byte replacement in new byte[] { 0, (byte)'9', (byte)'"', (byte)'}', 0xFF })
            for (int i = 0; i < headerEnd; i++)
            {
                var copy = (byte[])bytes.Clone();
                copy[i] = replacement;
                try
                {
                    using var file = SafeTensors.Read(new MemoryStream(copy), Name);
                }
                catch (SafeTensorsException)
                {
                }
            }
    }

    [Fact]
    public void MissingFilesRaiseTheUsualFileNotFoundError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensors.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void ErrorsFromAPathNameThePath()
    {
        var dir = Directory.CreateTempSubdirectory("st-bad-");
        try
        {
            var path = Path.Combine(dir.FullName, "cut.safetensors");
            File.WriteAllBytes(path, Raw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", TwoF32));
            var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.Read(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("truncated", e.Message);
            Assert.Throws<SafeTensorsException>(() => SafeTensors.ReadHeader(path));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
