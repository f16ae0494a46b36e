using System.Buffers.Binary;
using System.Text;
using Engine.Models.Serialization;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>The safetensors format: layout of what we write, round trips, the element types we convert, golden files.</summary>
public class SafeTensorsTests
{
    /// <summary>A file from its JSON header (padded with spaces to a multiple of 8, as the reference writer does) and its data.</summary>
    internal static byte[] Raw(string header, byte[] data, bool pad = true)
    {
        var json = Encoding.UTF8.GetBytes(header);
        int length = pad ? (json.Length + 7) / 8 * 8 : json.Length;
        var bytes = new byte[8 + length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)length);
        json.CopyTo(bytes, 8);
        bytes.AsSpan(8 + json.Length, length - json.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + length);
        return bytes;
    }

    internal static byte[] ToBytes(Action<Stream> write)
    {
        using var ms = new MemoryStream();
        write(ms);
        return ms.ToArray();
    }

    [Fact]
    public void WritesTheReferenceLayoutByteForByte()
    {
        using var scope = Tensor.Scope();
        var bytes = ToBytes(s => SafeTensors.Write(s, [new("a", Tensor.FromArray(new float[] { 1, 2 }))], new Dictionary<string, string> { ["k"] = "v" }));
        var expected = Raw("""{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""",
            [.. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(2f)]);
        Assert.Equal(expected, bytes);
        Assert.Equal(0, BinaryPrimitives.ReadInt64LittleEndian(bytes) % 8);
    }

    [Fact]
    public void RoundTripsEveryEngineDTypeScalarsEmptyTensorsAndViews()
    {
        using var scope = Tensor.Scope();
        var matrix = Tensor.Arange(12, DType.F64).Reshape([3, 4]);
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = Tensor.FromArray(new float[] { 1.5f, -2, float.NaN, float.PositiveInfinity }),
            ["f64"] = Tensor.FromArray(new double[] { Math.PI, -0.0, 1e-300 }, [3, 1]),
            ["i64"] = Tensor.FromArray(new long[] { long.MinValue, 0, long.MaxValue }),
            ["bool"] = Tensor.FromArray(new[] { true, false, true }),
            ["scalar"] = Tensor.Scalar(7, DType.F64),
            ["empty"] = Tensor.Zeros([2, 0, 3]),
            ["transposed"] = matrix.T,
            ["a.b/c d"] = Tensor.Ones([1]),
        };
        var metadata = new Dictionary<string, string> { ["note"] = "ünïcødé \"quoted\" <tag> & \n newline", ["empty"] = "" };
        var bytes = ToBytes(s => SafeTensors.Write(s, tensors, metadata));
        using var file = SafeTensors.Read(new MemoryStream(bytes), "memory");
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(tensors.Keys.Order(), file.Tensors.Keys.Order());
        foreach (var (name, t) in tensors)
        {
            var r = file[name];
            Assert.Equal(t.Shape, r.Shape);
            Assert.Equal(t.DType, r.DType);
            if (t.DType == DType.I64) Assert.Equal(t.ToArray<long>(), r.ToArray<long>());
            else if (t.DType == DType.Bool) Assert.Equal(t.ToArray<bool>(), r.ToArray<bool>());
            else Assert.Equal(t.ToArray<double>(), r.ToArray<double>());
        }
        Assert.Equal(matrix.T.ToArray<double>(), file["transposed"].ToArray<double>());
    }

    [Fact]
    public void LaysOutWiderTypesFirstSoEveryTensorIsAligned()
    {
        using var scope = Tensor.Scope();
        var bytes = ToBytes(s => SafeTensors.Write(s,
        [
            new("mask", Tensor.FromArray(new[] { true, false, true })),
            new("w", Tensor.Ones([3], DType.F32)),
            new("d", Tensor.Ones([2], DType.F64)),
            new("w2", Tensor.Ones([1], DType.F32)),
        ]));
        var header = SafeTensors.Read(new MemoryStream(bytes)).Header;
        Assert.Equal(["d", "w", "w2", "mask"], header.Entries.Select(e => e.Name));
        foreach (var e in header.Entries) Assert.Equal(0, (header.DataStart + e.Begin) % e.DType.SizeOf());
        Assert.Equal(0, header.DataStart % 8);
        long expected = 0;
        foreach (var e in header.Entries)
        {
            Assert.Equal(expected, e.Begin);
            expected = e.End;
        }
        Assert.Equal(bytes.Length - header.DataStart, expected);
    }

    [Fact]
    public void ReadsPythonStyleHeadersWithMetadataLastAndUnpaddedHeaders()
    {
        var data = BitConverter.GetBytes(3.0);
        foreach (var pad in new[] { true, false })
        {
            var raw = Raw("""{"x":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"__metadata__":{"a":"b"}}""", data, pad);
            using var file = SafeTensors.Read(new MemoryStream(raw));
            Assert.Equal(3.0, file["x"].Item());
            Assert.Equal([], file["x"].Shape);
            Assert.Equal("b", file.Metadata["a"]);
        }
    }

    [Fact]
    public void ConvertsNarrowFloatsToF32AndIntegersToI64()
    {
        var parts = new (string Name, string DType, int Count, byte[] Bytes)[]
        {
            ("f16", "F16", 4, U16(0x3C00, 0xC000, 0x7C00, 0x0001)),
            ("bf16", "BF16", 3, U16(0x3F80, 0xC0A0, 0x7FC0)),
            ("e4m3", "F8_E4M3", 5, [0x38, 0x7E, 0x01, 0x80, 0xB8]),
            ("e5m2", "F8_E5M2", 3, [0x3C, 0x7C, 0xC0]),
            ("i8", "I8", 2, [0x80, 0x7F]),
            ("u8", "U8", 2, [0x00, 0xFF]),
            ("i16", "I16", 1, BitConverter.GetBytes((short)-300)),
            ("u16", "U16", 1, BitConverter.GetBytes((ushort)65535)),
            ("i32", "I32", 1, BitConverter.GetBytes(int.MinValue)),
            ("u32", "U32", 1, BitConverter.GetBytes(uint.MaxValue)),
            ("u64", "U64", 1, BitConverter.GetBytes((ulong)long.MaxValue)),
            ("bool", "BOOL", 3, [0, 1, 2]),
        };
        var header = new StringBuilder("{");
        var data = new List<byte>();
        foreach (var (name, dtype, count, bytes) in parts)
        {
            header.Append($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{count}],\"data_offsets\":[{data.Count},{data.Count + bytes.Length}]}},");
            data.AddRange(bytes);
        }
        header.Length--;
        header.Append('}');
        using var scope = Tensor.Scope();
        using var file = SafeTensors.Read(new MemoryStream(Raw(header.ToString(), [.. data])));
        Assert.Equal(new float[] { 1, -2, float.PositiveInfinity, MathF.Pow(2, -24) }, file["f16"].ToArray<float>());
        Assert.Equal(new float[] { 1, -5, float.NaN }, file["bf16"].ToArray<float>());
        Assert.Equal(new float[] { 1, 448, MathF.Pow(2, -9), -0f, -1 }, file["e4m3"].ToArray<float>());
        Assert.Equal(new float[] { 1, float.PositiveInfinity, -2 }, file["e5m2"].ToArray<float>());
        Assert.Equal(new long[] { -128, 127 }, file["i8"].ToArray<long>());
        Assert.Equal(new long[] { 0, 255 }, file["u8"].ToArray<long>());
        Assert.Equal(new long[] { -300 }, file["i16"].ToArray<long>());
        Assert.Equal(new long[] { 65535 }, file["u16"].ToArray<long>());
        Assert.Equal(new long[] { int.MinValue }, file["i32"].ToArray<long>());
        Assert.Equal(new long[] { uint.MaxValue }, file["u32"].ToArray<long>());
        Assert.Equal(new long[] { long.MaxValue }, file["u64"].ToArray<long>());
        Assert.Equal(new[] { false, true, true }, file["bool"].ToArray<bool>());
        Assert.Equal(SafeTensorsDType.F8_E4M3, file.Header.Entries.Single(e => e.Name == "e4m3").DType);
        Assert.True(float.IsNaN(SafeTensors.Read(new MemoryStream(Raw("""{"n":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}""", [0x7F])))["n"].Item<float>()));
    }

    private static byte[] U16(params ushort[] values) => values.SelectMany(v => BitConverter.GetBytes(v)).ToArray();

    [Fact]
    public void WritesF32AsF16OrBF16OnRequestRoundingToNearestEven()
    {
        using var scope = Tensor.Scope();
        // 1 + 2^-8 and 1 + 3 * 2^-8 lie halfway between bfloat16 neighbours: ties go to the even mantissa.
        var values = new float[] { 1, 1.00390625f, 1.01171875f, -3.5f, 65504, float.NaN, 1e-8f };
        var t = Tensor.FromArray(values);
        var bf = ToBytes(s => SafeTensors.Write(s, [new("t", t)], options: new SafeTensorsWriteOptions { Float32As = SafeTensorsDType.BF16 }));
        using (var file = SafeTensors.Read(new MemoryStream(bf)))
        {
            Assert.Equal(SafeTensorsDType.BF16, file.Header.Entries[0].DType);
            Assert.Equal(DType.F32, file["t"].DType);
            var r = file["t"].ToArray<float>();
            Assert.Equal(new float[] { 1, 1, 1.015625f, -3.5f, 65536 }, r[..5]);
            Assert.True(float.IsNaN(r[5]));
            Assert.Equal(1e-8f, r[6], 1e-10f);
        }
        var half = ToBytes(s => SafeTensors.Write(s, [new("t", t)], options: new SafeTensorsWriteOptions { Float32As = SafeTensorsDType.F16 }));
        using (var file = SafeTensors.Read(new MemoryStream(half)))
        {
            Assert.Equal(SafeTensorsDType.F16, file.Header.Entries[0].DType);
            var r = file["t"].ToArray<float>();
            Assert.Equal(values.Take(5).Select(v => (float)(Half)v), r[..5]);
            Assert.Equal(65504, r[4]);
        }
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(Stream.Null, [new("t", t)], options: new SafeTensorsWriteOptions { Float32As = SafeTensorsDType.I32 }));
    }

    [Fact]
    public void ReadsFromStreamsThatCannotSeek()
    {
        using var scope = Tensor.Scope();
        var bytes = ToBytes(s => SafeTensors.Write(s, [new("x", Tensor.Arange(5, DType.F64)), new("y", Tensor.Ones([2, 2], DType.F32))]));
        using var file = SafeTensors.Read(new ForwardOnlyStream(new MemoryStream(bytes)), "pipe");
        Assert.Equal(new double[] { 0, 1, 2, 3, 4 }, file["x"].ToArray<double>());
        var trailing = SafeTensorsBadFileTests.Read([.. bytes, 0], forwardOnly: true);
        Assert.Contains("more data follows the last tensor", trailing.Message);
    }

    [Fact]
    public void WritingToAPathReplacesTheFileAndReadingItBackGivesTheSameTensors()
    {
        using var scope = Tensor.Scope();
        var dir = Directory.CreateTempSubdirectory("st-");
        try
        {
            var path = Path.Combine(dir.FullName, "w.safetensors");
            SafeTensors.Write(path, [new("a", Tensor.Ones([2]))]);
            SafeTensors.Write(path, [new("b", Tensor.Full([3], 2, DType.F64))]);
            using var file = SafeTensors.Read(path);
            Assert.Equal(["b"], file.Tensors.Keys);
            Assert.Equal(new double[] { 2, 2, 2 }, file["b"].ToArray<double>());
            Assert.Equal(["w.safetensors"], dir.GetFiles().Select(f => f.Name));
            var missing = Assert.Throws<KeyNotFoundException>(() => file["a"]);
            Assert.Contains("'b'", missing.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void RefusesBadTensorsToWrite()
    {
        using var scope = Tensor.Scope();
        var t = Tensor.Ones([1]);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => SafeTensors.Write(Stream.Null, [new("__metadata__", t)])).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => SafeTensors.Write(Stream.Null, [new("a", t), new("a", t)])).Message);
        var gone = Tensor.Ones([2]);
        gone.Dispose();
        Assert.Contains("'g'", Assert.Throws<ObjectDisposedException>(() => SafeTensors.Write(Stream.Null, [new("g", gone)])).Message);
    }

    [Fact]
    public void LoadsTheCopiedGoldenFiles()
    {
        foreach (var path in Directory.EnumerateFiles(GoldenFiles.Copied(""), "*.safetensors", SearchOption.AllDirectories))
            CheckLoads(path);
    }

    [SharedGoldenFact]
    public void LoadsEveryFileOfTheSharedGoldenTree()
    {
        var files = Directory.EnumerateFiles(GoldenFiles.SharedRoot!, "*.safetensors", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(files);
        foreach (var path in files) CheckLoads(path);
    }

    /// <summary>Every tensor comes back with the header's shape and dtype, its bytes as the file has them.</summary>
    private static void CheckLoads(string path)
    {
        using var scope = Tensor.Scope();
        var raw = File.ReadAllBytes(path);
        using var file = SafeTensors.Read(path);
        Assert.True(file.Tensors.Count > 0, path);
        Assert.Equal(file.Header.Entries.Select(e => e.Name), file.Tensors.Keys);
        foreach (var e in file.Header.Entries)
        {
            var t = file[e.Name];
            Assert.Equal(e.Shape, t.Shape);
            Assert.Equal(e.DType.EngineDType(), t.DType);
            if (e.DType == SafeTensorsDType.F64)
            {
                var expected = new double[e.NumEl];
                Buffer.BlockCopy(raw, (int)(file.Header.DataStart + e.Begin), expected, 0, (int)e.ByteLength);
                Assert.Equal(expected, t.ToArray<double>());
            }
        }
    }
}

/// <summary>A stream that reads forward only (a pipe, a network stream): no Length, no Seek.</summary>
internal sealed class ForwardOnlyStream(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 7));
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
