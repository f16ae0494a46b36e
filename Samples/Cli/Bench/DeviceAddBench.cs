using System.Globalization;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench add --device cuda</c>: z = x + y of N floats on the device beside a device-to-device copy
/// of N floats, timed on the device's clock, the sum checked element by element on the host, and with
/// <c>--torch</c> beside PyTorch's add and <c>copy_</c> on the same GPU (Samples/bench/add_torch.py). The add
/// moves 12 bytes per element and the copy 8, so bandwidth (bytes moved per second) compares them.
/// </summary>
internal static class DeviceAddBench
{
    /// <summary>The issue's target on a GPU: the add's bandwidth at least this fraction of a device-to-device copy's.</summary>
    public const double Target = 0.90;

    public static int Run(BenchDevice device, int n, int repeat, bool torch)
    {
        DeviceBench.Title($"elementwise add of {n:N0} floats, repeat={repeat}", device);
        var figures = new Dictionary<string, object?> { ["count"] = n, ["repeat"] = repeat };
        double gb = n * 4.0 / 1e9;
        (double Best, double Median, int Inner) copy, add, addInPlace;
        try
        {
            using var x = DeviceGemmBench.Input([n], DType.F32, 1, device.Device);
            using var y = DeviceGemmBench.Input([n], DType.F32, 2, device.Device);
            using var dst = Tensor.Empty([n], DType.F32, device.Device);
            // The copy first: it needs no kernel of the engine's own (cuMemcpyDtoDAsync), so its figure is there even when the add fails.
            copy = DeviceBench.Time(device.Device, 3, repeat, () => dst.CopyFrom(x));
            figures["engine_copy_gbs"] = Math.Round(2 * gb / (copy.Best * 1e-3), 1);
            add = DeviceBench.Time(device.Device, 3, repeat, () => { using var z = x + y; });
            using (var z = x + y)
                if (FirstWrong(x, y, z) is { } wrong) throw new InvalidDataException(wrong);
            addInPlace = DeviceBench.Time(device.Device, 3, repeat, () => x.AddInPlace(y));
        }
        catch (Exception e)
        {
            return DeviceBench.Fail("add", device, e, figures);
        }

        double Gbs(double ms, int arrays) => arrays * gb / (ms * 1e-3);
        double addGbs = Gbs(add.Best, 3), inPlaceGbs = Gbs(addInPlace.Best, 3), copyGbs = Gbs(copy.Best, 2);
        string note = "not asked for (--torch)";
        double? torchAdd = null, torchCopy = null;
        if (torch && device.Emulated) note = "not run: the CUDA emulator is not a GPU PyTorch can use";
        else if (torch)
        {
            using var twin = TorchTwin.Run("add_torch.py", ["--device", device.Device.ToString(), "--count", Str(n), "--repeat", Str(repeat)], out note);
            if (twin is not null)
            {
                torchAdd = twin.RootElement.GetProperty("add_gbs").GetDouble();
                torchCopy = twin.RootElement.GetProperty("copy_gbs").GetDouble();
                note = $"torch {twin.RootElement.GetProperty("torch").GetString()} on {twin.RootElement.GetProperty("device_name").GetString()}";
            }
        }
        // The yardstick is PyTorch's copy_ when it ran, else the engine's own device-to-device copy.
        double baseline = torchCopy ?? copyGbs;
        double ratio = addGbs / baseline;
        bool? met = device.Emulated ? null : ratio >= Target;

        var table = new Table().AddColumns("operation", "best ms", "median ms", "GB/s moved (best)", "vs copy bandwidth");
        void Row(string name, (double Best, double Median, int Inner) t, double gbs) => table.AddRow(Markup.Escape(name),
            t.Best.ToString("0.000", CultureInfo.InvariantCulture), t.Median.ToString("0.000", CultureInfo.InvariantCulture),
            gbs.ToString("0.0", CultureInfo.InvariantCulture), DeviceBench.Percent(gbs / baseline));
        Row("engine: device-to-device copy", copy, copyGbs);
        Row("engine: z = x + y", add, addGbs);
        Row("engine: x += y", addInPlace, inPlaceGbs);
        if (torchAdd is { } ta) table.AddRow("torch: x + y", "", "", ta.ToString("0.0", CultureInfo.InvariantCulture), DeviceBench.Percent(ta / baseline));
        if (torchCopy is { } tc) table.AddRow("torch: copy_", "", "", tc.ToString("0.0", CultureInfo.InvariantCulture), DeviceBench.Percent(tc / baseline));
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"torch: {note}; bandwidth compared with {(torchCopy is null ? "the engine's copy" : "torch's copy_")}");
        if (met is { } ok) AnsiConsole.MarkupLine(ok ? $"[green]target met[/]: add at least {Target:P0} of copy bandwidth" : $"[red]target missed[/]: add below {Target:P0} of copy bandwidth");

        figures["bench"] = "add";
        figures["device"] = device.Device.ToString();
        figures["device_name"] = device.Name;
        figures["emulated"] = device.Emulated;
        figures["engine_add_gbs"] = Math.Round(addGbs, 1);
        figures["engine_add_inplace_gbs"] = Math.Round(inPlaceGbs, 1);
        figures["engine_add_ms"] = Math.Round(add.Best, 4);
        figures["engine_copy_ms"] = Math.Round(copy.Best, 4);
        figures["torch_add_gbs"] = torchAdd is { } a2 ? Math.Round(a2, 1) : null;
        figures["torch_copy_gbs"] = torchCopy is { } c2 ? Math.Round(c2, 1) : null;
        figures["torch"] = torchCopy is null ? note : null;
        figures["baseline"] = torchCopy is null ? "engine_copy" : "torch_copy";
        figures["ratio"] = Math.Round(ratio, 4);
        figures["target"] = Target;
        figures["target_met"] = met;
        figures["summary"] = $"add {addGbs:F0} GB/s = {ratio:P0} of {(torchCopy is null ? "engine" : "torch")} copy (target {Target:P0})"
            + (device.Emulated ? " [emulated: times meaningless]" : "");
        DeviceBench.WriteJson(figures);
        return 0;
    }

    /// <summary>The first element where z is not exactly x + y (float sums are correctly rounded on both sides), or null.</summary>
    private static string? FirstWrong(Tensor x, Tensor y, Tensor z)
    {
        var (hx, hy, hz) = (x.ToArray<float>(), y.ToArray<float>(), z.ToArray<float>());
        for (int i = 0; i < hz.Length; i++)
            if (hz[i] != hx[i] + hy[i] && !(float.IsNaN(hz[i]) && float.IsNaN(hx[i] + hy[i])))
                return $"wrong result: z[{i}] = {hz[i]} but x + y = {hx[i] + hy[i]}";
        return null;
    }

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);
}
