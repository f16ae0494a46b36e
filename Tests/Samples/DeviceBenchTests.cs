using System.Diagnostics;
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
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliBuiltFactAttribute.EngineDll!);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        return (process.ExitCode, JsonDocument.Parse(last).RootElement.Clone(), stderr.Result);
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
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { CliBuiltFactAttribute.EngineDll!, "bench", "gemm", "--device", "cpu", "--tf32", "--size", "8" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--tf32 applies to CUDA devices only", stderr);
    }
}
