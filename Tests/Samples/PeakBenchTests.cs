using System.Runtime.Intrinsics.X86;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine bench peak</c> and the honest-measuring options of the CPU benchmarks (<c>--max-load</c>,
/// <c>--refuse-loaded</c>), through the built command line. Timings are not checked, only that the figures
/// are there, positive and labelled, and that the options are parsed and obeyed.
/// </summary>
public class PeakBenchTests
{
    [CliBuiltFact]
    public void Peak_ListsEachWidthTypeAndThreadCount_WithTheLoad()
    {
        var (code, stdout, stderr) = EngineProcess.Run("bench", "peak", "--threads", "2", "--max-load", "100000");
        Assert.True(code == 0, stderr);
        var json = EngineProcess.LastJsonLine(stdout);
        var peaks = json.GetProperty("peaks").EnumerateArray()
            .Select(p => (Isa: p.GetProperty("isa").GetString(), DType: p.GetProperty("dtype").GetString(), Threads: p.GetProperty("threads").GetInt32(), Gflops: p.GetProperty("gflops").GetDouble()))
            .ToList();
        var widths = new List<string>();
        if (Fma.IsSupported && Avx2.IsSupported) widths.Add("AVX2");
        if (Avx512F.IsSupported) widths.Add("AVX-512");
        foreach (var isa in widths)
            foreach (var dtype in new[] { "f32", "f64" })
                foreach (int threads in new[] { 1, 2 })
                    Assert.Contains(peaks, p => p.Isa == isa && p.DType == dtype && p.Threads == threads && p.Gflops > 0);
        Assert.Equal(widths.Count * 4, peaks.Count);
        Assert.Contains("FMA peak", stdout);
        Assert.Contains("load average (1 min): before", stdout);
        Assert.False(json.GetProperty("loaded").GetBoolean());
        Assert.Equal(100000, json.GetProperty("max_load").GetDouble());
    }

    [CliBuiltFact]
    public void Gemm_ReportsItsShareOfThePeakMeasuredInTheSameRun()
    {
        var (code, stdout, stderr) = EngineProcess.Run("bench", "gemm", "--size", "64", "--repeat", "1", "--threads", "1", "--max-load", "100000");
        Assert.True(code == 0, stderr);
        var json = EngineProcess.LastJsonLine(stdout);
        Assert.Contains("% of FMA peak", stdout);
        Assert.Contains("load average (1 min)", stdout);
        if (Fma.IsSupported)
        {
            double peak = json.GetProperty("peak_gflops").GetDouble(), engine = json.GetProperty("engine_gflops").GetDouble();
            Assert.True(peak > 0);
            Assert.Equal(engine / peak, json.GetProperty("engine_peak_fraction").GetDouble(), 2);
        }
        Assert.Equal(Avx512F.IsSupported ? "AVX-512" : Fma.IsSupported ? "AVX2+FMA" : "portable", json.GetProperty("kernel").GetString());
        Assert.True(json.TryGetProperty("load_before", out _));
    }

    [CliBuiltFact]
    public void CompareAvx2_TimesBothKernelsInTurns_WhereTheProcessHasAvx512()
    {
        var (code, stdout, stderr) = EngineProcess.Run("bench", "gemm", "--size", "96", "--repeat", "3", "--threads", "1", "--compare-avx2", "--max-load", "100000");
        Assert.True(code == 0, stderr);
        var json = EngineProcess.LastJsonLine(stdout);
        var avx2 = json.GetProperty("engine_avx2_gflops");
        if (Avx512F.IsSupported)
        {
            // Both sides timed, and each run went through its own kernel: the AVX-512 one is restored after every AVX2 run.
            Assert.Equal("AVX-512", json.GetProperty("kernel").GetString());
            Assert.True(avx2.GetDouble() > 0);
            Assert.True(json.GetProperty("engine_gflops").GetDouble() > 0);
            Assert.True(json.GetProperty("engine_avx2_cpu_gflops").GetDouble() > 0);
            Assert.Contains("AVX-512 / AVX2", stdout);
        }
        else
            Assert.Equal(System.Text.Json.JsonValueKind.Null, avx2.ValueKind);
    }

    [CliBuiltFact]
    public void ItemsPerWorker_TimesTheOtherSplitInTurns_WithTheSameBits_InEitherOrderWithOpenBlas()
    {
        // 200^3 on two threads: a multi-threaded product, so the split is really changed (CpuGemm.ItemsPerWorker).
        var (code, stdout, stderr) = EngineProcess.Run("bench", "gemm", "--size", "200", "--repeat", "3", "--threads", "2",
            "--items-per-worker", "9", "--max-load", "100000");
        Assert.True(code == 0, stderr);
        var json = EngineProcess.LastJsonLine(stdout);
        Assert.Equal(9, json.GetProperty("items_per_worker").GetInt32());
        Assert.True(json.GetProperty("engine_items_gflops").GetDouble() > 0);
        Assert.True(json.GetProperty("items_same_bits").GetBoolean(), "the split changed the result's bits");
        Assert.Contains("9 items per worker", stdout);

        foreach (var bad in new[] { "0", "65" })
        {
            var (badCode, _, badErr) = EngineProcess.Run("bench", "gemm", "--size", "64", "--items-per-worker", bad);
            Assert.NotEqual(0, badCode);
            Assert.Contains("--items-per-worker must be between 1 and 64", badErr);
        }
        var (firstCode, firstOut, firstErr) = EngineProcess.Run("bench", "gemm", "--size", "200", "--repeat", "3", "--threads", "2",
            "--items-per-worker", "9", "--openblas-first", "--max-load", "100000");
        Assert.True(firstCode == 0, firstErr);
        var first = EngineProcess.LastJsonLine(firstOut);
        Assert.Equal("openblas_first", first.GetProperty("order").GetString());
        Assert.Equal("engine_first", json.GetProperty("order").GetString());
        Assert.True(first.GetProperty("items_same_bits").GetBoolean(), "the split changed the result's bits (OpenBLAS first)");

        var (bothCode, _, bothErr) = EngineProcess.Run("bench", "gemm", "--size", "64", "--items-per-worker", "8", "--compare-avx2");
        Assert.Equal(2, bothCode);
        Assert.Contains("ask for one at a time", bothErr);
    }

    [CliBuiltFact]
    public void ComparePipeline_TimesThePipelinedKBlocksInTurns_WithTheSameBits()
    {
        // f64 1300^3 on two threads: past 2^31 multiply-adds, three k blocks, rows split: a product the pipeline changes.
        var (code, stdout, stderr) = EngineProcess.Run("bench", "gemm", "--size", "1300", "--dtype", "f64", "--repeat", "1", "--threads", "2",
            "--compare-pipeline", "--max-load", "100000");
        Assert.True(code == 0, stderr);
        var json = EngineProcess.LastJsonLine(stdout);
        Assert.True(json.GetProperty("engine_pipeline_gflops").GetDouble() > 0);
        Assert.True(json.GetProperty("engine_fork_per_block_gflops").GetDouble() > 0);
        Assert.True(json.GetProperty("pipeline_same_bits").GetBoolean(), "the pipelined k blocks changed the result's bits");
        Assert.Contains("pipelined", stdout);

        var (bothCode, _, bothErr) = EngineProcess.Run("bench", "gemm", "--size", "64", "--compare-pipeline", "--items-per-worker", "8");
        Assert.Equal(2, bothCode);
        Assert.Contains("ask for one at a time", bothErr);
    }

    [CliBuiltFact]
    public void NegativeMaxLoad_IsRejected()
    {
        foreach (var bench in new[] { "peak", "gemm", "ops", "model" })
        {
            var (code, _, stderr) = EngineProcess.Run("bench", bench, "--max-load", "-1");
            Assert.NotEqual(0, code);
            Assert.Contains("--max-load must be a number >= 0", stderr);
        }
    }

    [CliBuiltFact]
    public void RefuseLoaded_RefusesAboveTheThreshold_AndMeasuresBelowIt()
    {
        // A threshold of 0 refuses whenever the machine does anything at all; a test run always does something,
        // but the 1-minute average may still read 0.00 on an idle machine: then the run must go ahead.
        var (code, stdout, stderr) = EngineProcess.Run("bench", "gemm", "--size", "32", "--repeat", "1", "--threads", "1", "--max-load", "0", "--refuse-loaded");
        var json = EngineProcess.LastJsonLine(stdout);
        if (json.GetProperty("load_before").GetDouble() > 0)
        {
            Assert.Equal(3, code);
            Assert.Contains("refused", stderr);
            Assert.Contains("above 0.00", json.GetProperty("refused").GetString());
            Assert.False(json.TryGetProperty("engine_gflops", out _));
        }
        else
            Assert.True(json.TryGetProperty("engine_gflops", out _));

        (code, stdout, stderr) = EngineProcess.Run("bench", "gemm", "--size", "32", "--repeat", "1", "--threads", "1", "--max-load", "100000", "--refuse-loaded");
        Assert.True(code == 0, stderr);
        Assert.False(EngineProcess.LastJsonLine(stdout).GetProperty("loaded").GetBoolean());
    }
}
