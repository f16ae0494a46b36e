using System.Text.Json;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine bench model</c> as the device script runs it: the built command line in its own process, on a
/// Nano at batch 2, ending with the JSON line of figures and, on CUDA, the counts of one step.
/// </summary>
public class ModelBenchTests
{
    private static (int ExitCode, JsonElement Json, string Stderr) Engine(params string[] args)
    {
        var (code, stdout, stderr) = EngineProcess.Run(args);
        return (code, EngineProcess.LastJsonLine(stdout), stderr);
    }

    [CliBuiltFact]
    public void On_cuda_a_train_step_reports_its_launches_no_host_sync_and_no_new_allocation()
    {
        var (code, json, stderr) = Engine("bench", "model", "--device", "cuda", "--model", "vheat-nano", "--batch", "2", "--image-size", "32",
            "--steps", "1", "--warmup", "2", "--threads", "1", "--torch");
        if (!global::Engine.Backends.Devices.CudaAvailable)
        {
            Assert.Equal(2, code);
            Assert.Contains("not available", json.GetProperty("skipped").GetString());
            return;
        }
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Equal("cuda:0", json.GetProperty("device").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("device_name").GetString()));
        Assert.False(json.GetProperty("tf32").GetBoolean());
        Assert.Equal(32, json.GetProperty("image_size").GetInt32());
        var engine = json.GetProperty("engine");
        Assert.True(engine.GetProperty("train_img_s").GetDouble() > 0);
        Assert.True(engine.GetProperty("infer_img_s").GetDouble() > 0);
        // The peaks include the weights (436,554 F32 parameters: 1.7 MB); training also holds activations, gradients and AdamW's state.
        long trainPeak = engine.GetProperty("train_peak_bytes").GetInt64(), inferPeak = engine.GetProperty("infer_peak_bytes").GetInt64();
        Assert.True(inferPeak > 436_554 * 4, $"inference peak {inferPeak}");
        Assert.True(trainPeak > inferPeak, $"train peak {trainPeak}, inference peak {inferPeak}");

        var train = json.GetProperty("train_step_counts");
        var infer = json.GetProperty("inference_counts");
        Assert.True(train.GetProperty("kernel_launches").GetInt64() > infer.GetProperty("kernel_launches").GetInt64());
        Assert.True(infer.GetProperty("kernel_launches").GetInt64() > 0);
        Assert.True(train.GetProperty("library_calls").GetInt64() > 0);      // the GEMMs and the DCTs' matrix products
        // Measured on the emulator (docs/benchmarks.md): a warmed-up step waits for nothing and takes every block from the cache.
        foreach (var counts in new[] { train, infer })
        {
            Assert.Equal(0, counts.GetProperty("host_syncs").GetInt64());
            Assert.Equal(0, counts.GetProperty("device_to_host").GetInt64());
            Assert.Equal(0, counts.GetProperty("device_allocations").GetInt64());
            Assert.Equal(counts.GetProperty("allocator_requests").GetInt64(), counts.GetProperty("cache_hits").GetInt64());
            Assert.True(counts.GetProperty("allocator_requests").GetInt64() > 0);
        }
        if (json.GetProperty("emulated").GetBoolean())
            Assert.Contains("emulator", json.GetProperty("torch").GetProperty("skipped").GetString());
    }

    [CliBuiltFact]
    public void On_the_cpu_size_is_an_alias_phase_infer_skips_training_and_tf32_is_refused()
    {
        var (code, json, stderr) = Engine("bench", "model", "--model", "mlp", "--batch", "2", "--size", "32", "--steps", "1", "--warmup", "0", "--threads", "1");
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Equal("cpu", json.GetProperty("device").GetString());
        Assert.Equal(32, json.GetProperty("image_size").GetInt32());
        Assert.Equal(0, json.GetProperty("warmup").GetInt32());
        Assert.True(json.GetProperty("engine_train_img_s").GetDouble() > 0);
        Assert.False(json.TryGetProperty("train_step_counts", out _));
        var (inferOnly, inferJson, inferErr) = Engine("bench", "model", "--model", "mlp", "--batch", "2", "--steps", "1", "--warmup", "1", "--threads", "1", "--phase", "infer");
        Assert.True(inferOnly == 0, $"exit {inferOnly}: {inferErr}");
        Assert.Equal(JsonValueKind.Null, inferJson.GetProperty("engine").GetProperty("train_img_s").ValueKind);
        Assert.True(inferJson.GetProperty("engine").GetProperty("infer_img_s").GetDouble() > 0);
        var (refused, _, error) = EngineProcess.Run("bench", "model", "--model", "mlp", "--tf32");
        Assert.Equal(2, refused);
        Assert.Contains("--tf32 applies to CUDA devices only", error);
    }
}
