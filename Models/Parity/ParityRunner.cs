using Engine.Autograd;
using Engine.Models.Nn;

namespace Engine.Models.Parity;

/// <summary>
/// Runs a model on a golden case the way the reference did (same parameters and buffers, same mode, forward,
/// then backward with the golden output gradient) and compares output, gradients and buffers.
/// </summary>
public static class ParityRunner
{
    /// <summary>Builds the golden's model from its metadata (<see cref="ParityModels"/>) and runs <see cref="Run(GoldenCase, ParityModel, DType, Device?)"/>.</summary>
    public static ParityReport Run(GoldenCase golden, DType dtype, Device? device = null)
    {
        var model = ParityModels.Build(golden);
        try { return Run(golden, model, dtype, device); }
        finally { model.Module.Dispose(); }
    }

    /// <summary>
    /// Loads the golden's parameters and buffers into <paramref name="model"/> (every state-dict key must
    /// match, except BatchNorm's <c>num_batches_tracked</c>, which the references do not store), converts it to
    /// <paramref name="dtype"/>, moves it to <paramref name="device"/> (the CPU by default), runs forward and
    /// backward there, and compares in float64 on the host. The report names the device that ran.
    /// </summary>
    public static ParityReport Run(GoldenCase golden, ParityModel model, DType dtype, Device? device = null)
    {
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"parity: dtype must be F32 or F64, got {dtype}.");
        var on = device ?? Device.Cpu;
        Backends.Devices.Check(on, "parity");
        var module = model.Module;
        module.ToDType(dtype);
        LoadGoldenState(golden, module);
        module.ToDevice(on);
        module.Train(golden.Training);
        module.ZeroGrad();

        var entries = new List<ParityEntry>();
        using (Tensor.Scope())
        {
            var input = golden.Input.ToDType(dtype).ToDevice(on).Clone().RequiresGradInPlace();
            var output = model.Forward(input);
            if (output.Device != on) throw new InvalidOperationException($"parity: the model's output is on {output.Device}, not on {on}.");
            entries.Add(Compare("output", "output", output, golden.Output));
            output.Backward(golden.GradOutput.ToDType(dtype).ToDevice(on));
            entries.Add(Compare("grad.input", "input", input.Grad, golden.Gradients["input"]));

            var parameters = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
            foreach (var (name, parameter) in parameters)
                entries.Add(golden.Gradients.TryGetValue(name, out var expected)
                    ? Compare("grad.param", name, parameter.Grad ?? Tensor.ZerosLike(parameter), expected)
                    : Missing("grad.param", name, "the golden has no gradient for this parameter"));
            foreach (var name in golden.Gradients.Keys.Where(k => k != "input" && !parameters.ContainsKey(k)))
                entries.Add(Missing("grad.param", name, "the golden has a gradient for a parameter the model does not have"));

            var state = module.StateDict();
            foreach (var (name, expected) in golden.BuffersAfter)
                entries.Add(state.TryGetValue(name, out var actual)
                    ? Compare("buffer_after", name, actual, expected)
                    : Missing("buffer_after", name, "the model has no such buffer"));
        }
        module.ZeroGrad();
        return new ParityReport(golden.Path, golden.Model, dtype, entries) { Device = on, DeviceName = DeviceName(on) };
    }

    /// <summary>What ran: "cpu", or the CUDA device's name ("NVIDIA H100 80GB HBM3", "CUDA emulator (CPU)").</summary>
    public static string DeviceName(Device device) => device.Type == DeviceType.Cpu ? "cpu" : Cuda.Cuda.Device(device.Index).Name;

    private static void LoadGoldenState(GoldenCase golden, Module module)
    {
        var state = new Dictionary<string, Tensor>(golden.Parameters);
        foreach (var (k, v) in golden.Buffers) state[k] = v;
        var result = module.LoadStateDict(state, strict: false);
        var missing = result.MissingKeys.Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
        if (missing.Count > 0 || result.UnexpectedKeys.Count > 0)
            throw new InvalidDataException($"parity: the model built for '{golden.Model}' does not match golden '{golden.Path}':" +
                (missing.Count > 0 ? $"\n  keys the golden lacks: {string.Join(", ", missing)}" : "") +
                (result.UnexpectedKeys.Count > 0 ? $"\n  keys the model lacks: {string.Join(", ", result.UnexpectedKeys)}" : ""));
    }

    private static ParityEntry Missing(string group, string key, string why) => new(group, key, double.PositiveInfinity, false, why);

    /// <summary>The error of <paramref name="actual"/> against <paramref name="expected"/>, as <see cref="ParityEntry"/> defines it.</summary>
    public static ParityEntry Compare(string group, string key, Tensor? actual, Tensor expected)
    {
        if (actual is null) return Missing(group, key, "the engine produced no gradient");
        if (!actual.Shape.SequenceEqual(expected.Shape))
            return Missing(group, key, $"shape {Layout.Format(actual.Shape)}, golden {Layout.Format(expected.Shape)}");
        double[] a, e;
        using (Tape.NoGrad())
        {
            a = actual.ToDType(DType.F64).Contiguous().ToArray<double>();
            e = expected.ToDType(DType.F64).Contiguous().ToArray<double>();
        }
        double scale = 0, diff = 0;
        for (int i = 0; i < e.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(e[i]));
            var d = Math.Abs(a[i] - e[i]);
            diff = double.IsNaN(d) ? double.PositiveInfinity : Math.Max(diff, d);
        }
        var absolute = scale < 1e-10;
        return new ParityEntry(group, key, absolute ? diff : diff / scale, absolute);
    }
}
