using Engine.Models.Nn;
using Engine.Models.Parity;
using Engine.Models.Serialization;
using Xunit;

namespace Engine.Tests.Models.Parity;

/// <summary>
/// The parity runner's mechanics, on a golden written here from a tiny conv + BatchNorm model: an exact
/// golden passes, and each kind of disagreement (a gradient, a running statistic, a missing key, a
/// gradient for a parameter the model lacks) is caught and named.
/// </summary>
public sealed class ParityRunnerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential TinyModel()
    {
        var g = new Engine.Randomness.Generator(7);
        var model = new Sequential(new Conv2d(2, 3, 1, generator: g), new BatchNorm2d(3));
        model.ToDType(DType.F64);
        return model;
    }

    /// <summary>Writes a golden of <see cref="TinyModel"/> in training mode; <paramref name="edit"/> may change the tensors first.</summary>
    private string WriteGolden(Action<Dictionary<string, Tensor>>? edit = null)
    {
        var model = TinyModel();
        var tensors = new Dictionary<string, Tensor>();
        var g = new Engine.Randomness.Generator(3);
        var input = Tensor.Randn([2, 2, 3, 4], DType.F64, Device.Cpu, g).RequiresGradInPlace();
        foreach (var (k, v) in model.StateDict()) if (!k.EndsWith("num_batches_tracked")) tensors[(k.Contains("running") ? "buffer." : "param.") + k] = v.Clone();
        var output = model.Call(input);
        var gradOutput = Tensor.Randn(output.Shape, DType.F64, Device.Cpu, g);
        output.Backward(gradOutput);
        tensors["input"] = input.Detach();
        tensors["output"] = output.Detach();
        tensors["grad_output"] = gradOutput;
        tensors["grad.input"] = input.Grad!;
        foreach (var (k, p) in model.NamedParameters()) tensors["grad." + k] = p.Grad!;
        foreach (var (k, b) in model.NamedBuffers()) if (k.Contains("running")) tensors["buffer_after." + k] = b.Clone();
        edit?.Invoke(tensors);
        var path = Path.Combine(_dir, $"tiny{tensors.Count}-{Guid.NewGuid():N}.safetensors");
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["model"] = "test.tiny", ["config"] = "{\"channels\": 3}", ["mode"] = "train" });
        return path;
    }

    private static ParityReport Run(string path, DType dtype = DType.F64)
    {
        using var golden = GoldenCase.Load(path);
        var model = TinyModel();
        return ParityRunner.Run(golden, new ParityModel(model, x => model.Call(x)), dtype);
    }

    [Fact]
    public void An_exact_golden_passes_in_both_dtypes_and_compares_every_tensor()
    {
        var path = WriteGolden();
        var report = Run(path);
        Assert.True(report.Passed(1e-12), report.ToString());
        // output, input gradient, 4 parameter gradients, 2 running statistics.
        Assert.Equal(8, report.Entries.Count);
        Assert.Equal(2, report.Entries.Count(e => e.Group == "buffer_after"));
        var f32 = Run(path, DType.F32);
        Assert.True(f32.Passed(1e-4), f32.ToString());
        Assert.False(f32.Passed(1e-12));
    }

    [Fact]
    public void A_perturbed_parameter_gradient_fails_and_is_named()
    {
        var path = WriteGolden(t => t["grad.0.weight"] = t["grad.0.weight"] * 1.001);
        var report = Run(path);
        Assert.False(report.Passed(1e-9));
        Assert.Equal("0.weight", report.Worst("grad.param")!.Key);
        Assert.InRange(report.Worst("grad.param")!.Error, 5e-4, 2e-3);
        Assert.Contains("0.weight", report.ToString());
    }

    [Fact]
    public void A_wrong_running_statistic_fails()
    {
        var path = WriteGolden(t => t["buffer_after.1.running_var"] = t["buffer_after.1.running_var"] + 0.5);
        var report = Run(path);
        Assert.False(report.Passed(1e-9));
        Assert.Equal("1.running_var", report.Worst("buffer_after")!.Key);
    }

    [Fact]
    public void A_golden_without_a_parameter_is_refused_with_the_key()
    {
        var path = WriteGolden(t => t.Remove("param.1.bias"));
        var e = Assert.Throws<InvalidDataException>(() => Run(path));
        Assert.Contains("1.bias", e.Message);
        Assert.Contains("test.tiny", e.Message);
    }

    [Fact]
    public void A_gradient_for_an_unknown_parameter_is_a_problem()
    {
        var path = WriteGolden(t => t["grad.2.weight"] = Tensor.Zeros([3], DType.F64));
        var report = Run(path);
        Assert.False(report.Passed(1.0));
        Assert.Contains(report.Entries, e => e.Key == "2.weight" && e.Problem is not null);
    }

    [Fact]
    public void Zero_tensors_are_compared_absolutely()
    {
        var zero = Tensor.Zeros([3], DType.F64);
        var tiny = Tensor.Full([3], 1e-12, DType.F64);
        var entry = ParityRunner.Compare("grad.param", "z", tiny, zero);
        Assert.True(entry.Absolute);
        Assert.Equal(1e-12, entry.Error, 1e-20);
        var shape = ParityRunner.Compare("grad.param", "z", Tensor.Zeros([4], DType.F64), zero);
        Assert.NotNull(shape.Problem);
    }

    [Fact]
    public void Files_that_are_not_goldens_are_refused_with_the_file_name()
    {
        var path = WriteGolden(t => t.Remove("grad_output"));
        var e = Assert.Throws<InvalidDataException>(() => GoldenCase.Load(path));
        Assert.Contains("grad_output", e.Message);
        Assert.Contains(Path.GetFileName(path), e.Message);
        Assert.Throws<FileNotFoundException>(() => GoldenCase.Load(Path.Combine(_dir, "absent.safetensors")));
    }

    [Fact]
    public void An_unknown_model_name_is_refused_by_the_registry()
    {
        using var golden = GoldenCase.Load(WriteGolden());
        var e = Assert.Throws<NotSupportedException>(() => ParityModels.Build(golden));
        Assert.Contains("test.tiny", e.Message);
    }
}
