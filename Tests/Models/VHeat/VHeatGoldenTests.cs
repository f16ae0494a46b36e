using System.Text.Json;
using Engine.Models.Backbones.VHeat;
using Engine.Models.Nn;
using Engine.Models.Serialization;
using Xunit;

namespace Engine.Tests.Models.VHeat;

/// <summary>Forward and backward against the reference's float64 goldens.</summary>
public class VHeatGoldenTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static (double Worst, string Report) Run(string file, DType dtype)
    {
        using var golden = SafeTensors.Read(GoldenFiles.Copied("vheat/" + file));
        using var config = JsonDocument.Parse(golden.Metadata["config"]);
        using var scope = Tensor.Scope();
        Module<Tensor, Tensor> model = golden.Metadata["model"] == "vHeat.Heat2D"
            ? VHeatParity.BuildOperator(config.RootElement, dtype)
            : VHeatParity.BuildModel(config.RootElement, golden.Metadata.GetValueOrDefault("img_hw"), dtype);
        using var _ = model;
        var state = golden.Tensors.Where(kv => kv.Key.StartsWith("param.")).ToDictionary(kv => kv.Key[6..], kv => kv.Value);
        model.LoadStateDict(state);
        if (golden.Metadata["mode"] == "eval") model.Eval();
        var x = golden["input"].ToDType(dtype); x.RequiresGrad = true;
        var y = model.Call(x);
        y.Backward(golden["grad_output"].ToDType(dtype));
        var lines = new List<string>();
        double worst = 0;
        void Compare(string name, Tensor expected, Tensor? actual)
        {
            var e = expected.ToArray<double>();
            var a = actual?.ToArray<double>() ?? new double[e.Length];
            double scale = e.Max(Math.Abs), diff = e.Zip(a, (p, q) => Math.Abs(p - q)).DefaultIfEmpty(0).Max();
            double err = scale < 1e-10 ? diff : diff / scale;
            worst = Math.Max(worst, err);
            lines.Add($"{name}: {err:E2}");
        }
        Compare("output", golden["output"], y);
        Compare("grad.input", golden["grad.input"], x.Grad);
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach (var (key, t) in golden.Tensors.Where(kv => kv.Key.StartsWith("grad.") && kv.Key != "grad.input"))
            Compare(key, t, parameters[key[5..]].Grad);
        return (worst, string.Join("\n", lines.OrderByDescending(l => l)));
    }

    [Theory]
    [InlineData("op_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    [InlineData("nano_eval.safetensors")]
    public void Float64MatchesTheReference(string file)
    {
        var (worst, report) = Run(file, DType.F64);
        output.WriteLine($"{file} float64: worst {worst:E2}\n{report}");
        Assert.True(worst < 1e-9, $"worst {worst:E2}\n{report}");
    }

    [Theory]
    [InlineData("op_train.safetensors")]
    [InlineData("nano_train.safetensors")]
    public void Float32MatchesTheReference(string file)
    {
        var (worst, report) = Run(file, DType.F32);
        output.WriteLine($"{file} float32: worst {worst:E2}\n{report}");
        Assert.True(worst < 1e-4, $"worst {worst:E2}\n{report}");
    }
}
