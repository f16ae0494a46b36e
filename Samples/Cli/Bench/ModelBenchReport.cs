using System.Globalization;
using Engine.Backends;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>The table and the JSON line of <c>bench model</c>, and the run of its PyTorch twin.</summary>
internal static class ModelBenchReport
{
    /// <summary>The settings as JSON fields (also on the failure line).</summary>
    public static Dictionary<string, object?> Settings(ModelBenchSettings s) => new()
    {
        ["model"] = s.Model, ["batch"] = s.Batch, ["image_size"] = s.ImageSize, ["threads"] = s.Threads, ["steps"] = s.Steps, ["warmup"] = s.Warmup,
        ["dtype"] = s.DType.ShortName(), ["tf32"] = s.Tf32, ["phase"] = s.Phase,
    };

    /// <summary>Runs model_torch.py on the same device with the same settings; null and why when it cannot.</summary>
    public static ModelTiming? RunTorch(ModelBenchSettings s, Device device, out string? note)
    {
        string[] args = ["--model", s.Model, "--batch", Str(s.Batch), "--threads", Str(s.Threads), "--steps", Str(s.Steps), "--warmup", Str(s.Warmup),
            "--size", Str(s.ImageSize), "--device", device.ToString(), "--dtype", s.DType.ShortName(), "--phase", s.Phase, .. s.Tf32 ? new[] { "--tf32" } : []];
        using var doc = TorchTwin.Run("model_torch.py", args, out var why);
        if (doc is null)
        {
            note = "PyTorch twin " + why;
            return null;
        }
        var root = doc.RootElement;
        note = root.TryGetProperty("torch", out var version)
            ? $"torch {version.GetString()} on {root.GetProperty("device_name").GetString()}" + (device.Type == DeviceType.Cuda ? $", TF32 {(root.GetProperty("tf32").GetBoolean() ? "allowed" : "off")}" : "")
            : null;
        static long? Bytes(System.Text.Json.JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number ? v.GetInt64() : null;
        static double? Ms(System.Text.Json.JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number ? v.GetDouble() * 1e3 : null;
        return new ModelTiming(Ms(root, "train_s"), Ms(root, "infer_s"), root.GetProperty("params").GetInt64(),
            Bytes(root, "train_peak_bytes"), Bytes(root, "infer_peak_bytes"));
    }

    public static void Print(ModelBenchSettings s, BenchDevice on, ModelTiming engine, ModelTiming? torch, string? note, LoadGuard guard)
    {
        bool cuda = on.Device.Type == DeviceType.Cuda;
        string precision = s.DType == DType.F64 ? "F64" : cuda ? (s.Tf32 ? "F32, TF32 allowed on both sides" : "F32, TF32 off on both sides") : "F32";
        string where = cuda ? on.Device.ToString() : $"{s.Threads} threads";
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
        AnsiConsole.MarkupLine(Markup.Escape($"bench model {s.Model}: batch {s.Batch}, {s.ImageSize}x{s.ImageSize}, {precision}, {where}; median of {s.Steps} timed steps after {s.Warmup} warm-up"));
        var table = new Table().AddColumns("", "parameters", "train step img/s", "inference img/s", "train peak", "inference peak");
        table.AddRow("engine", Count(engine.Parameters), Rate(s.Batch, engine.TrainMs), Rate(s.Batch, engine.InferMs), Mib(engine.TrainPeakBytes), Mib(engine.InferPeakBytes));
        if (torch is not null)
        {
            table.AddRow("pytorch", Count(torch.Parameters), Rate(s.Batch, torch.TrainMs), Rate(s.Batch, torch.InferMs), Mib(torch.TrainPeakBytes), Mib(torch.InferPeakBytes));
            table.AddRow("engine / pytorch", "", Ratio(Speedup(torch.TrainMs, engine.TrainMs)), Ratio(Speedup(torch.InferMs, engine.InferMs)), "", "");
        }
        AnsiConsole.Write(table);
        if (cuda && engine.TrainStep is { } t && engine.Inference is { } i)
        {
            var counts = new Table().Title("engine, per step after warm-up (device-independent)")
                .AddColumns("", "kernel launches", "cuBLAS/cuFFT calls", "memsets+copies", "host syncs", "allocator requests", "new device allocations");
            counts.AddRow("train step", Count(t.KernelLaunches), Count(t.LibraryCalls), Count(t.MemoryOperations), Count(t.HostSyncs), Count(t.AllocatorRequests), Count(t.DeviceAllocations));
            counts.AddRow("inference", Count(i.KernelLaunches), Count(i.LibraryCalls), Count(i.MemoryOperations), Count(i.HostSyncs), Count(i.AllocatorRequests), Count(i.DeviceAllocations));
            AnsiConsole.Write(counts);
        }
        if (engine.TrainKernels is { } kernels)
        {
            var top = new Table().Title("kernels launched in one train step, most launched first").AddColumns("kernel", "launches");
            foreach (var (name, n) in kernels.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
                top.AddRow(Markup.Escape(name), Count(n));
            AnsiConsole.Write(top);
        }
        if (note is not null) AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(note)}[/]");
        if (on.Emulated) AnsiConsole.MarkupLine("[yellow]emulated: the times and rates mean nothing; the counts are the same as on a GPU[/]");
        AnsiConsole.MarkupLine(Markup.Escape(guard.Line));
        var json = Json(s, on, engine, torch, note);
        if (guard.Loaded) json["summary"] += " [loaded]";
        guard.AddTo(json);
        DeviceBench.WriteJson(json);
    }

    private static Dictionary<string, object?> Json(ModelBenchSettings s, BenchDevice on, ModelTiming engine, ModelTiming? torch, string? note)
    {
        var json = new Dictionary<string, object?> { ["bench"] = "model", ["device"] = on.Device.ToString(), ["device_name"] = on.Name, ["emulated"] = on.Emulated };
        foreach (var (k, v) in Settings(s)) json[k] = v;
        json["parameters"] = engine.Parameters;
        json["engine"] = Figures(s.Batch, engine);
        if (engine.TrainStep is { } t && on.Device.Type == DeviceType.Cuda) json["train_step_counts"] = Counts(t);
        if (engine.Inference is { } i && on.Device.Type == DeviceType.Cuda) json["inference_counts"] = Counts(i);
        if (engine.TrainKernels is { } byKernel) json["train_step_kernels"] = byKernel;
        // Flat figures kept from the CPU-only version, for scripts that read them.
        json["engine_train_img_s"] = ImgS(s.Batch, engine.TrainMs);
        json["engine_infer_img_s"] = ImgS(s.Batch, engine.InferMs);
        if (s.Torch)
        {
            json["torch"] = torch is null ? new Dictionary<string, object?> { ["skipped"] = note } : Figures(s.Batch, torch);
            if (torch is not null)
            {
                json["torch_note"] = note;
                json["torch_train_img_s"] = ImgS(s.Batch, torch.TrainMs);
                json["torch_infer_img_s"] = ImgS(s.Batch, torch.InferMs);
                json["ratio"] = new Dictionary<string, double?> { ["train"] = Speedup(torch.TrainMs, engine.TrainMs), ["infer"] = Speedup(torch.InferMs, engine.InferMs) };
            }
        }
        var parts = new List<string>();
        if (engine.TrainMs is not null) parts.Add($"train {Rate(s.Batch, engine.TrainMs)} img/s" + (torch is null ? "" : $" ({Ratio(Speedup(torch.TrainMs, engine.TrainMs))} PyTorch's rate)"));
        if (engine.InferMs is not null) parts.Add($"inference {Rate(s.Batch, engine.InferMs)} img/s" + (torch is null ? "" : $" ({Ratio(Speedup(torch.InferMs, engine.InferMs))} PyTorch's rate)"));
        string rates = string.Join(", ", parts);
        string counts = engine.TrainStep is { } c && on.Device.Type == DeviceType.Cuda
            ? $"; per train step {c.KernelLaunches} launches, {c.LibraryCalls} library calls, {c.HostSyncs} host syncs, {c.DeviceAllocations} new allocations" : "";
        json["summary"] = $"{s.Model} b{s.Batch} {s.ImageSize}px {s.DType.ShortName()}{(s.Tf32 ? " tf32" : "")}: {rates}{counts}" + (on.Emulated ? " [emulated: times meaningless]" : "");
        return json;
    }

    private static Dictionary<string, object?> Figures(int batch, ModelTiming t) => new()
    {
        ["train_ms"] = t.TrainMs is { } tm ? Math.Round(tm, 4) : null, ["infer_ms"] = t.InferMs is { } im ? Math.Round(im, 4) : null,
        ["train_img_s"] = ImgS(batch, t.TrainMs) is { } tr ? Math.Round(tr, 2) : null, ["infer_img_s"] = ImgS(batch, t.InferMs) is { } ir ? Math.Round(ir, 2) : null,
        ["train_peak_bytes"] = t.TrainPeakBytes, ["infer_peak_bytes"] = t.InferPeakBytes, ["parameters"] = t.Parameters,
    };

    private static Dictionary<string, long> Counts(DeviceCounters c) => new()
    {
        ["kernel_launches"] = c.KernelLaunches, ["library_calls"] = c.LibraryCalls, ["memory_ops"] = c.MemoryOperations,
        ["host_syncs"] = c.HostSyncs, ["device_to_host"] = c.DeviceToHostCopies, ["host_to_device"] = c.HostToDeviceCopies,
        ["allocator_requests"] = c.AllocatorRequests, ["cache_hits"] = c.CacheHits, ["device_allocations"] = c.DeviceAllocations,
    };

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Count(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string Mib(long? bytes) => bytes is { } b ? (b / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB" : "-";

    private static double? ImgS(int batch, double? ms) => ms is { } m ? batch / (m / 1e3) : null;

    /// <summary>How many times faster the engine is: PyTorch's time over the engine's.</summary>
    private static double? Speedup(double? torchMs, double? engineMs) => torchMs is { } t && engineMs is { } e && e > 0 ? Math.Round(t / e, 3) : null;

    private static string Rate(int batch, double? ms) => ImgS(batch, ms) is { } r ? r.ToString("0.0", CultureInfo.InvariantCulture) : "-";

    private static string Ratio(double? r) => r is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";
}
