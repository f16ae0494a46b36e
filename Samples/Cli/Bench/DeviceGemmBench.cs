using System.Globalization;
using System.Text.Json;
using Engine.Randomness;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench gemm --device cuda</c>: square C = A·B through <see cref="Tensor.MatMul"/> on the device,
/// timed on the device's clock, its result checked against double-precision dot products on the host, and
/// with <c>--torch</c> beside <c>torch.matmul</c> on the same GPU in the same run (Samples/bench/gemm_torch.py).
/// </summary>
internal static class DeviceGemmBench
{
    /// <summary>The issue's target on a GPU: at least this fraction of torch.matmul's throughput.</summary>
    public const double Target = 0.95;

    private const int Samples = 64;

    public static int Run(BenchDevice device, int n, DType dtype, bool tf32, int repeat, bool torch)
    {
        string dtypeName = dtype.ShortName();
        string mode = dtype == DType.F32 ? (tf32 ? "TF32" : "F32, no TF32") : "F64";
        DeviceBench.Title($"GEMM {dtypeName} N={n} ({mode}) repeat={repeat}", device);
        var figures = new Dictionary<string, object?> { ["size"] = n, ["dtype"] = dtypeName, ["tf32"] = tf32, ["repeat"] = repeat };
        bool previous = Engine.Cuda.Cuda.AllowTf32;
        Engine.Cuda.Cuda.AllowTf32 = tf32;
        (double Best, double Median, int Inner) time;
        double error;
        try
        {
            using var a = Input([n, n], dtype, 1, device.Device);
            using var b = Input([n, n], dtype, 2, device.Device);
            time = DeviceBench.Time(device.Device, 3, repeat, () => { using var c = a.MatMul(b); });
            using var result = a.MatMul(b);
            error = SampledError(a, b, result, n);
        }
        catch (Exception e)
        {
            return DeviceBench.Fail("gemm", device, e, figures);
        }
        finally { Engine.Cuda.Cuda.AllowTf32 = previous; }

        double flop = 2.0 * n * n * n;
        double tflops = flop / (time.Best * 1e-3) / 1e12, medianTflops = flop / (time.Median * 1e-3) / 1e12;
        double tolerance = dtype == DType.F64 ? 1e-12 : tf32 ? 5e-3 : 1e-4;

        string note = "not asked for (--torch)";
        double? torchTflops = null, torchMedian = null;
        if (torch && device.Emulated) note = "not run: the CUDA emulator is not a GPU PyTorch can use";
        else if (torch)
        {
            using var twin = TorchTwin.Run("gemm_torch.py", ["--device", device.Device.ToString(), "--size", Str(n), "--dtype", dtypeName,
                "--repeat", Str(repeat), .. tf32 ? new[] { "--tf32" } : []], out note);
            if (twin is not null)
            {
                torchTflops = twin.RootElement.GetProperty("tflops").GetDouble();
                torchMedian = twin.RootElement.GetProperty("median_tflops").GetDouble();
                note = $"torch {twin.RootElement.GetProperty("torch").GetString()} on {twin.RootElement.GetProperty("device_name").GetString()}";
            }
        }
        double? ratio = torchTflops is { } t ? tflops / t : null;
        bool? met = ratio is { } r && !device.Emulated ? r >= Target : null;

        var table = new Table().AddColumn("").AddColumn(new TableColumn("engine").RightAligned())
            .AddColumn(new TableColumn("torch.matmul").RightAligned()).AddColumn(new TableColumn("engine / torch").RightAligned());
        table.AddRow($"TFLOP/s (best of {repeat})", F(tflops), F(torchTflops), DeviceBench.Percent(ratio));
        table.AddRow("TFLOP/s (median)", F(medianTflops), F(torchMedian), DeviceBench.Percent(torchMedian is { } m ? medianTflops / m : null));
        table.AddRow($"best time per call (ms; samples of {time.Inner})", time.Best.ToString("G4", CultureInfo.InvariantCulture), "", "");
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"torch.matmul: {note}");
        AnsiConsole.WriteLine($"largest error on {Samples} sampled entries, relative to sum |a·b|: {error:E2} (tolerance {tolerance:E0})");
        if (met is { } ok) AnsiConsole.MarkupLine(ok ? $"[green]target met[/]: at least {Target:P0} of torch.matmul" : $"[red]target missed[/]: below {Target:P0} of torch.matmul");

        bool correct = error <= tolerance;
        figures["bench"] = "gemm";
        figures["device"] = device.Device.ToString();
        figures["device_name"] = device.Name;
        figures["emulated"] = device.Emulated;
        figures["engine_ms"] = Math.Round(time.Best, 4);
        figures["inner"] = time.Inner;
        figures["engine_tflops"] = Math.Round(tflops, 3);
        figures["engine_median_tflops"] = Math.Round(medianTflops, 3);
        figures["torch_tflops"] = torchTflops is { } tt ? Math.Round(tt, 3) : null;
        figures["torch"] = torchTflops is null ? note : null;
        figures["ratio"] = ratio is { } rr ? Math.Round(rr, 4) : null;
        figures["target"] = Target;
        figures["target_met"] = met;
        figures["max_rel_error"] = error;
        if (!correct) figures["error"] = $"wrong result: relative error {error:E2} above {tolerance:E0}";
        figures["summary"] = Summary(device, mode, tflops, ratio, correct);
        DeviceBench.WriteJson(figures);
        return correct ? 0 : 1;
    }

    private static string Summary(BenchDevice device, string mode, double tflops, double? ratio, bool correct)
    {
        if (!correct) return "failed: wrong result";
        var text = $"{mode}: {tflops:F1} TFLOP/s" + (ratio is { } r ? $", {r:P0} of torch.matmul (target {Target:P0})" : "");
        return device.Emulated ? text + " [emulated: times meaningless]" : text;
    }

    /// <summary>Uniform values in [0, 1), drawn on the CPU (seeded: CUDA has no random kernels yet) and copied to the device.</summary>
    internal static Tensor Input(int[] shape, DType dtype, ulong seed, Device device)
    {
        var host = Tensor.Rand(shape, dtype, Device.Cpu, new Generator(seed));
        if (device == Device.Cpu) return host;
        using (host) return host.ToDevice(device);
    }

    /// <summary>
    /// The largest error of <see cref="Samples"/> entries of C (fixed positions), each against the dot product
    /// in double on the host, divided by the sum of |a·b| (the scale rounding errors grow with).
    /// </summary>
    private static double SampledError(Tensor a, Tensor b, Tensor c, int n)
    {
        var (ha, hb, hc) = (Host(a), Host(b), Host(c));
        var rng = new Random(7);
        double worst = 0;
        for (int s = 0; s < Samples; s++)
        {
            int i = rng.Next(n), j = rng.Next(n);
            double dot = 0, scale = 0;
            for (int k = 0; k < n; k++)
            {
                double p = ha[(long)i * n + k] * hb[(long)k * n + j];
                dot += p;
                scale += Math.Abs(p);
            }
            worst = Math.Max(worst, Math.Abs(hc[(long)i * n + j] - dot) / Math.Max(scale, double.Epsilon));
        }
        return worst;
    }

    private static double[] Host(Tensor t) => t.DType == DType.F64 ? t.ToArray<double>() : Array.ConvertAll(t.ToArray<float>(), v => (double)v);

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(double? x) => x is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";
}
