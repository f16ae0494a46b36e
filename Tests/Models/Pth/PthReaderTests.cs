using Engine.Models.Serialization.Pth;
using Xunit;

namespace Engine.Tests.Models.Pth;

/// <summary>
/// The .pth reader against checkpoints written by PyTorch 1.13 (both torch.save formats): every dtype, views
/// sharing one storage, the nesting of official checkpoints; and refusals of hostile, truncated and corrupted files.
/// </summary>
public class PthReaderTests
{
    [Theory]
    [InlineData("dtypes.pth", "dtypes", "zip")]
    [InlineData("dtypes_legacy.pth", "dtypes", "legacy")]
    [InlineData("dtypes_p4.pth", "dtypes", "zip")]
    [InlineData("views.pth", "views", "zip")]
    [InlineData("views_legacy.pth", "views", "legacy")]
    [InlineData("parameters.pth", "parameters", "zip")]
    public void ReadsWhatPyTorchWrote(string file, string group, string format)
    {
        using var scope = Tensor.Scope();
        using var pth = PthReader.Read(PthFiles.Path(file));
        Assert.Equal(format, pth.Format);
        PthFiles.AssertMatches(group, pth.Tensors);
    }

    [Theory]
    [InlineData("nested.pth")]
    [InlineData("nested_legacy.pth")]
    public void FindsTheModelInACheckpointAndRemovesTheDataParallelPrefix(string file)
    {
        using var scope = Tensor.Scope();
        using (var pth = PthReader.Read(PthFiles.Path(file)))
        {
            Assert.Equal("model", pth.Entry);
            Assert.True(pth.StrippedModulePrefix);
            PthFiles.AssertMatches("nested.model", pth.Tensors);
        }
        using (var ema = PthReader.Read(PthFiles.Path(file), entry: "model_ema"))
        {
            Assert.Equal("model_ema", ema.Entry);
            Assert.False(ema.StrippedModulePrefix);
            PthFiles.AssertMatches("nested.model_ema", ema.Tensors);
        }
    }

    [Fact]
    public void AMissingEntryIsNamedWithWhatTheCheckpointHolds()
    {
        var e = Assert.Throws<PthException>(() => PthReader.Read(PthFiles.Path("nested.pth"), entry: "ema"));
        Assert.Contains("no entry 'ema'", e.Message);
        Assert.Contains("'epoch'", e.Message);
        Assert.Contains("nested.pth", e.Message);
    }

    [Fact]
    public void AHostilePickleIsRefusedNamingTheGlobal()
    {
        var path = PthFiles.Path("hostile.pth");
        var e = Assert.Throws<PthException>(() => PthReader.Read(path));
        Assert.Contains("'posix.system'", e.Message);
        Assert.Contains("refused", e.Message);
        Assert.Equal(path, e.FileName);
    }

    [Fact]
    public void ALegacyPickleNamingOsSystemIsRefused()
    {
        // Magic number, protocol and system info as PyTorch writes them, then an object pickle calling os.system.
        var legacy = File.ReadAllBytes(PthFiles.Path("nested_legacy.pth"));
        int objectStart = PickleEnds(legacy, 3);
        byte[] hostile = [.. legacy[..objectStart], 0x80, 0x02, .. "cos\nsystem\n"u8.ToArray(), (byte)'X', 2, 0, 0, 0, (byte)'l', (byte)'s', 0x85, (byte)'R', (byte)'.'];
        var e = Read(hostile);
        Assert.Contains("'os.system'", e.Message);
    }

    [Fact]
    public void AFullModelPickleIsRefusedNamingItsClass()
    {
        byte[] pickle = [0x80, 0x02, .. "ctorch.nn.modules.linear\nLinear\n"u8.ToArray(), (byte)')', 0x81, (byte)'.'];
        var e = Read(Zip(pickle));
        Assert.Contains("'torch.nn.modules.linear.Linear'", e.Message);
    }

    public static TheoryData<string> Files() => new() { "dtypes.pth", "dtypes_legacy.pth", "dtypes_p4.pth", "views.pth", "views_legacy.pth", "nested.pth", "nested_legacy.pth" };

    [Theory]
    [MemberData(nameof(Files))]
    public void CorruptedBytesGiveOurErrorOrTheSameShapes(string file)
    {
        // Flipping a byte either breaks the file (our exception, never another type) or changes only values.
        var bytes = File.ReadAllBytes(PthFiles.Path(file));
        var random = new Random(7);
        for (int trial = 0; trial < 300; trial++)
        {
            var copy = (byte[])bytes.Clone();
            copy[random.Next(copy.Length)] ^= (byte)(1 + random.Next(255));
            using var scope = Tensor.Scope();
            try
            {
                using var pth = PthReader.Read(new MemoryStream(copy), "corrupt.pth");
                Assert.NotNull(pth.Tensors);
            }
            catch (PthException e)
            {
                Assert.Equal("corrupt.pth", e.FileName);
            }
        }
    }

    [Fact]
    public void NotACheckpointIsSaidSo()
    {
        var e = Read("hello world"u8.ToArray());
        Assert.Contains("neither a zip archive", e.Message);
        Assert.Contains("no PREFIX/data.pkl", Read(Zip(null)).Message);
    }

    [Fact]
    public void AStorageEntryOfTheWrongSizeIsNamed()
    {
        // dtypes.pth with one storage entry replaced by a shorter one.
        using var source = System.IO.Compression.ZipFile.OpenRead(PthFiles.Path("dtypes.pth"));
        var output = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(output, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
            foreach (var entry in source.Entries)
            {
                using var from = entry.Open();
                var data = new MemoryStream();
                from.CopyTo(data);
                var bytes = entry.FullName.EndsWith("/data/0", StringComparison.Ordinal) ? data.ToArray()[..4] : data.ToArray();
                using var to = zip.CreateEntry(entry.FullName, System.IO.Compression.CompressionLevel.NoCompression).Open();
                to.Write(bytes);
            }
        var e = Read(output.ToArray());
        Assert.Contains("holds 4 bytes", e.Message);
    }

    [Fact]
    public void ATensorReachingBeyondItsStorageIsRefused()
    {
        // _rebuild_tensor_v2(storage of 2 floats, offset 1, size (4,), stride (1,), False, OrderedDict())
        byte[] pickle =
        [
            0x80, 0x02, (byte)'}', (byte)'X', 1, 0, 0, 0, (byte)'w',
            .. "ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray(), (byte)'(',
            (byte)'(', (byte)'X', 7, 0, 0, 0, .. "storage"u8.ToArray(), .. "ctorch\nFloatStorage\n"u8.ToArray(),
            (byte)'X', 1, 0, 0, 0, (byte)'0', (byte)'X', 3, 0, 0, 0, .. "cpu"u8.ToArray(), (byte)'K', 2, (byte)'t', (byte)'Q',
            (byte)'K', 1, (byte)'K', 4, 0x85, (byte)'K', 1, 0x85, 0x89, .. "ccollections\nOrderedDict\n"u8.ToArray(), (byte)')', (byte)'R',
            (byte)'t', (byte)'R', (byte)'s', (byte)'.',
        ];
        var e = Read(Zip(pickle, ("0", new byte[8])));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("reach element 4", e.Message);
    }

    [Fact]
    public void ALegacyStorageViewReadsItsPartOfTheRootStorage()
    {
        // Old PyTorch wrote storage views as ('storage', type, root_key, location, root_numel, (view_key, offset, size)).
        byte[] Pickle(params byte[][] parts) => [0x80, 0x02, .. parts.SelectMany(p => p), (byte)'.'];
        byte[] Str(string s) => [(byte)'X', (byte)s.Length, 0, 0, 0, .. System.Text.Encoding.ASCII.GetBytes(s)];
        byte[] magic = Pickle([0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
        byte[] protocol = Pickle([(byte)'M', 0xe9, 0x03]);
        byte[] info = Pickle([(byte)'}'], Str("little_endian"), [0x88, (byte)'s']);
        byte[] obj = Pickle([(byte)'}'], Str("v"), "ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray(), [(byte)'(', (byte)'('], Str("storage"),
            "ctorch\nFloatStorage\n"u8.ToArray(), Str("1"), Str("cpu"), [(byte)'K', 6, (byte)'('], Str("2"), [(byte)'K', 2, (byte)'K', 3, (byte)'t', (byte)'t', (byte)'Q'],
            [(byte)'K', 0, (byte)'K', 3, 0x85, (byte)'K', 1, 0x85, 0x89], "ccollections\nOrderedDict\n"u8.ToArray(), [(byte)')', (byte)'R', (byte)'t', (byte)'R', (byte)'s']);
        byte[] keys = Pickle([(byte)']'], Str("1"), [(byte)'a']);
        byte[] data = [.. BitConverter.GetBytes(6L), .. new float[] { 0, 1, 2, 3, 4, 5 }.SelectMany(BitConverter.GetBytes)];
        using var scope = Tensor.Scope();
        using var pth = PthReader.Read(new MemoryStream([.. magic, .. protocol, .. info, .. obj, .. keys, .. data]), "views.pth");
        Assert.Equal("legacy", pth.Format);
        Assert.Equal(new float[] { 2, 3, 4 }, pth.Tensors["v"].ToArray<float>());
    }

    [Fact]
    public void AStrideZeroTensorFarLargerThanItsStorageIsRefused()
    {
        // One stored float expanded to 2^30 elements by a stride of 0 would need 4 GiB of copies.
        byte[] pickle =
        [
            0x80, 0x02, (byte)'}', (byte)'X', 1, 0, 0, 0, (byte)'w',
            .. "ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray(), (byte)'(',
            (byte)'(', (byte)'X', 7, 0, 0, 0, .. "storage"u8.ToArray(), .. "ctorch\nFloatStorage\n"u8.ToArray(),
            (byte)'X', 1, 0, 0, 0, (byte)'0', (byte)'X', 3, 0, 0, 0, .. "cpu"u8.ToArray(), (byte)'K', 1, (byte)'t', (byte)'Q',
            (byte)'K', 0, (byte)'J', 0, 0, 0, 0x40, 0x85, (byte)'K', 0, 0x85, 0x89, .. "ccollections\nOrderedDict\n"u8.ToArray(), (byte)')', (byte)'R',
            (byte)'t', (byte)'R', (byte)'s', (byte)'.',
        ];
        var e = Read(Zip(pickle, ("0", new byte[4])));
        Assert.Contains("would expand 1 stored elements to 1073741824", e.Message);
    }

    internal static PthException Read(byte[] bytes)
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<PthException>(() => PthReader.Read(new MemoryStream(bytes), "bad.pth"));
        Assert.Equal("bad.pth", e.FileName);
        Assert.Contains("'bad.pth'", e.Message);
        return e;
    }

    /// <summary>A torch.save-shaped zip (stored entries) with <paramref name="pickle"/> as archive/data.pkl and the given storages.</summary>
    internal static byte[] Zip(byte[]? pickle, params (string Key, byte[] Data)[] storages)
    {
        var output = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(output, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] data)
            {
                using var s = zip.CreateEntry(name, System.IO.Compression.CompressionLevel.NoCompression).Open();
                s.Write(data);
            }
            if (pickle is not null) Add("archive/data.pkl", pickle);
            foreach (var (key, data) in storages) Add("archive/data/" + key, data);
            Add("archive/version", "3\n"u8.ToArray());
        }
        return output.ToArray();
    }

    /// <summary>The offset just past the <paramref name="count"/>-th pickle at the start of a legacy checkpoint.</summary>
    private static int PickleEnds(byte[] bytes, int count)
    {
        int at = 0;
        for (int i = 0; i < count; i++) at += PickleScanner.Scan(bytes.AsSpan(at), "t", "t");
        return at;
    }
}
