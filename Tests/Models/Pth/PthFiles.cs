using System.Text.Json;

namespace Engine.Tests.Models.Pth;

/// <summary>The checkpoints written by Tests/Data/pth/make_pth.py (PyTorch 1.13) and what PyTorch read back from them.</summary>
internal static class PthFiles
{
    public static string Path(string file) => System.IO.Path.Combine(AppContext.BaseDirectory, "Data", "pth", file);

    private static readonly Lazy<JsonElement> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path("expected.json"))).RootElement.GetProperty("files"));

    /// <summary>Each tensor of expected.json's <paramref name="group"/>: its torch dtype name, shape and values.</summary>
    public static IEnumerable<(string Key, string DType, int[] Shape, JsonElement Values)> Tensors(string group)
    {
        foreach (var p in Expected.Value.GetProperty(group).EnumerateObject())
            yield return (p.Name, p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray(), p.Value.GetProperty("values"));
    }

    /// <summary>
    /// Asserts that <paramref name="tensors"/> hold exactly the tensors of <paramref name="group"/>, with the engine's
    /// dtypes, in order unless <paramref name="ordered"/> is false (safetensors stores wider types first).
    /// </summary>
    public static void AssertMatches(string group, IReadOnlyDictionary<string, Tensor> tensors, bool ordered = true)
    {
        var expected = Tensors(group).ToList();
        if (ordered) Xunit.Assert.Equal(expected.Select(e => e.Key), tensors.Keys);
        else Xunit.Assert.Equal(expected.Select(e => e.Key).Order(StringComparer.Ordinal), tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, dtype, shape, values) in expected)
        {
            var t = tensors[key];
            Xunit.Assert.True(shape.SequenceEqual(t.Shape), $"{group}/{key}: shape [{string.Join(",", t.Shape)}], expected [{string.Join(",", shape)}]");
            var engine = dtype switch
            {
                "float32" or "float16" or "bfloat16" => DType.F32,
                "float64" => DType.F64,
                "bool" => DType.Bool,
                _ => DType.I64,
            };
            Xunit.Assert.True(engine == t.DType, $"{group}/{key}: dtype {t.DType}, expected {engine} (stored {dtype})");
            var items = values.EnumerateArray().ToList();
            switch (t.DType)
            {
                case DType.F32:
                    Xunit.Assert.Equal(items.Select(v => (float)v.GetDouble()), t.ToArray<float>());
                    break;
                case DType.F64:
                    Xunit.Assert.Equal(items.Select(v => v.GetDouble()), t.ToArray<double>());
                    break;
                case DType.Bool:
                    Xunit.Assert.Equal(items.Select(v => v.GetInt32() != 0), t.ToArray<bool>());
                    break;
                default:
                    Xunit.Assert.Equal(items.Select(v => v.ValueKind == JsonValueKind.String ? long.Parse(v.GetString()!) : (long)v.GetDouble()), t.ToArray<long>());
                    break;
            }
        }
    }
}
