using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Engine.Models.Data;
using Engine.Models.Serialization;

namespace Engine.Fuzz;

/// <summary>
/// The seed corpus: one small valid file per target, written by the engine's own writers (so the fuzzer starts
/// from inputs that reach deep into each reader), and a few broken ones. Committed under Tests/Fuzz/corpus.
/// </summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        void Put(string target, string name, byte[] bytes)
        {
            Directory.CreateDirectory(Path.Combine(root, target));
            File.WriteAllBytes(Path.Combine(root, target, name), bytes);
        }

        var tensors = new Dictionary<string, Tensor>
        {
            ["w"] = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]),
            ["b"] = Tensor.FromArray(new double[] { 0.5, -1 }, [2]),
            ["i"] = Tensor.FromArray(new long[] { 7 }, [1]),
        };
        using (var s = new MemoryStream())
        {
            SafeTensors.Write(s, tensors, new Dictionary<string, string> { ["note"] = "seed" });
            Put("safetensors", "three-tensors.safetensors", s.ToArray());
        }
        Put("safetensors", "empty-header.safetensors", [2, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}']);
        using (var s = new MemoryStream())
        {
            Checkpoint.Save(s, new Checkpoint
            {
                Model = new Dictionary<string, Tensor> { ["fc.weight"] = tensors["w"] },
                Schedule = new Dictionary<string, double> { ["step"] = 3 },
                Rng = new GeneratorState(7, 12), Epoch = 2,
                Metadata = new Dictionary<string, string> { ["step"] = "10", ["next_batch"] = "0" },
            });
            Put("checkpoint", "small.ckpt", s.ToArray());
        }

        byte[] Idx(int dims, int[] sizes)
        {
            var bytes = new List<byte> { 0, 0, IdxFile.UnsignedByte, (byte)dims };
            foreach (var size in sizes) bytes.AddRange([(byte)(size >> 24), (byte)(size >> 16), (byte)(size >> 8), (byte)size]);
            int count = sizes.Aggregate(1, (a, b) => a * b);
            for (int i = 0; i < count; i++) bytes.Add((byte)(i * 37));
            return [.. bytes];
        }
        Put("idx", "labels.idx1", Idx(1, [5]));
        Put("idx", "images.idx3", Idx(3, [2, 3, 3]));
        Put("idx", "images.idx3.gz", Gzip(Idx(3, [1, 2, 2])));
        Put("idx-gz", "labels.idx1", Idx(1, [4]));
        Put("idx-gz", "images.idx3", Idx(3, [1, 4, 4]));

        var record = new byte[3073];
        record[0] = 3;
        for (int i = 1; i < record.Length; i++) record[i] = (byte)i;
        Put("cifar10", "one-record.bin", record);

        Put("npm", "tiny.tgz", NpmTarball());

        Put("golden", "op_bilstm_train.safetensors", File.ReadAllBytes(Path.Combine("Tests", "Data", "golden", "sequencer", "op_bilstm_train.safetensors")));
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var packed = new MemoryStream();
        using (var gz = new GZipStream(packed, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(bytes);
        return packed.ToArray();
    }

    /// <summary>The npm package's layout in miniature: package/src/clothes/K.json for K = 0..9, one image each (and one empty entry).</summary>
    private static byte[] NpmTarball()
    {
        using var tarBytes = new MemoryStream();
        using (var tar = new TarWriter(tarBytes, TarEntryFormat.Ustar, leaveOpen: true))
        {
            for (int k = 0; k < 10; k++)
            {
                var json = new StringBuilder("{\"data\": [");
                if (k == 0) json.Append("[], ");
                json.Append('[').Append(string.Join(",", Enumerable.Range(0, 784).Select(i => (i * (k + 1)) % 256))).Append("]]}");
                var entry = new UstarTarEntry(TarEntryType.RegularFile, $"package/src/clothes/{k}.json")
                {
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(json.ToString())),
                };
                tar.WriteEntry(entry);
            }
        }
        return Gzip(tarBytes.ToArray());
    }
}
