using System.Text.Json;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine bench gemm|add --device</c> as the device script runs them: the built command line in its own
/// process at tiny sizes, ending with the JSON line whose <c>summary</c>, <c>skipped</c> or <c>error</c> the
/// script's table shows.
/// </summary>
public class DeviceBenchTests
{
    private static (int ExitCode, JsonElement Json, string Stderr) Engine(params string[] args)
    {
        var (code, stdout, stderr) = EngineProcess.Run(args);
        return (code, EngineProcess.LastJsonLine(stdout), stderr);
    }

    [CliBuiltFact]
    public void OnTheCpuGemmAndAddEndWithAJsonSummary()
    {
        var (gemm, gemmJson, _) = Engine("bench", "gemm", "--device", "cpu", "--size", "32", "--repeat", "1", "--threads", "1");
        Assert.Equal(0, gemm);
        Assert.Contains("GFLOP/s", gemmJson.GetProperty("summary").GetString());
        var (add, addJson, _) = Engine("bench", "add", "--device", "cpu", "--count", "1000", "--repeat", "1", "--threads", "1");
        Assert.Equal(0, add);
        Assert.Contains("copy", addJson.GetProperty("summary").GetString());
    }

    [CliBuiltFact]
    public void OnCudaGemmRunsWhereADeviceIsAndIsSkippedWithTheReasonWhereNone()
    {
        var (code, json, stderr) = Engine("bench", "gemm", "--device", "cuda", "--size", "16", "--repeat", "1");
        if (global::Engine.Backends.Devices.CudaAvailable)
        {
            // A device (the emulator here): it ran, or failed saying why (a missing kernel), and says whether it is emulated.
            Assert.True(code is 0 or 1, $"exit {code}: {stderr}");
            Assert.True(json.TryGetProperty("emulated", out _));
            if (code == 1) Assert.False(string.IsNullOrEmpty(json.GetProperty("error").GetString()));
        }
        else
        {
            Assert.Equal(2, code);
            Assert.Contains("not available", json.GetProperty("skipped").GetString());
            Assert.Contains("not available", stderr);
        }
    }

    [CliBuiltFact]
    public void Tf32IsRefusedOnTheCpu()
    {
        var (code, _, stderr) = EngineProcess.Run("bench", "gemm", "--device", "cpu", "--tf32", "--size", "8");
        Assert.Equal(2, code);
        Assert.Contains("--tf32 applies to CUDA devices only", stderr);
    }
}
