using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench gemm</c>: square C = A*B through <see cref="CpuGemm"/> and, in the same process and
/// on the same inputs, through OpenBLAS when it can be loaded (and torch.matmul with <c>--torch</c>).
/// Prints a table, then a single JSON object as the last line of stdout so scripts can read the figures.
/// <c>--device cuda</c> runs <see cref="DeviceGemmBench"/> instead.
/// </summary>
internal static class GemmBench
{
    public static Command CreateCommand()
    {
        var size = new Option<int>("--size") { Description = "Matrix size N (C = A*B with N x N matrices).", DefaultValueFactory = _ => 1024 };
        var threads = new Option<int>("--threads") { Description = "Threads for both the engine and OpenBLAS.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dtype = new Option<string>("--dtype") { Description = "Element type: f32 or f64.", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "f64");
        var repeat = new Option<int>("--repeat") { Description = "Timed runs after warm-up; best and median are reported.", DefaultValueFactory = _ => 10 };
        var device = DeviceBench.Option();
        var tf32 = new Option<bool>("--tf32") { Description = "On CUDA, let F32 products use TF32 tensor cores (Cuda.AllowTf32; torch.backends.cuda.matmul.allow_tf32 for the twin)." };
        var torch = new Option<bool>("--torch") { Description = "Also time torch.matmul on the same device in this run (Samples/bench/gemm_torch.py)." };
        var avx2 = new Option<bool>("--compare-avx2") { Description = "On an AVX-512 machine, also time the engine's AVX2 kernel in this run, in turns with the AVX-512 one (same-process ratio)." };
        var items = new Option<int?>("--items-per-worker")
        {
            Description = $"Also time the engine with its products cut into about this many work items per worker (CpuGemm.ItemsPerWorker, default {CpuGemm.DefaultItemsPerWorker}), in turns with the default (same-process ratio).",
        };
        items.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } v && (v < 1 || v > 64)) result.AddError("--items-per-worker must be between 1 and 64.");
        });
        var pipeline = new Option<bool>("--compare-pipeline")
        {
            Description = "Also time the engine's other schedule of the k blocks (pipelined in one fork or one fork per block, whichever CpuGemm.PipelineKBlocks is not), in turns with the default (same-process ratio).",
        };
        var blasFirst = new Option<bool>("--openblas-first") { Description = "Time OpenBLAS before the engine instead of after it (then pause a second): run both orders to see whether the order moves the ratio." };
        var maxLoad = BenchLoad.MaxLoadOption();
        var refuse = BenchLoad.RefuseOption();

        var command = new Command("gemm", "GEMM throughput: on the CPU engine vs OpenBLAS and the FMA peak, on CUDA engine vs torch.matmul.")
            { size, threads, dtype, repeat, device, tf32, torch, avx2, items, pipeline, blasFirst, maxLoad, refuse };
        foreach (var option in new[] { size, threads, repeat })
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<int>() < 1) result.AddError($"{option.Name} must be at least 1.");
            });
        }
        command.SetAction(parse =>
        {
            int n = parse.GetValue(size), t = parse.GetValue(threads), r = parse.GetValue(repeat);
            bool f64 = parse.GetValue(dtype) == "f64", withTorch = parse.GetValue(torch);
            if (DeviceBench.Resolve("gemm", parse.GetValue(device)!) is not { } on) return 2;
            if (on.Device.Type == DeviceType.Cuda) return DeviceGemmBench.Run(on, n, f64 ? DType.F64 : DType.F32, parse.GetValue(tf32), r, withTorch);
            if (parse.GetValue(tf32))
            {
                Console.Error.WriteLine("bench gemm: --tf32 applies to CUDA devices only.");
                return 2;
            }
            if ((parse.GetValue(items) is not null ? 1 : 0) + (parse.GetValue(avx2) ? 1 : 0) + (parse.GetValue(pipeline) ? 1 : 0) > 1)
            {
                Console.Error.WriteLine("bench gemm: --items-per-worker, --compare-avx2 and --compare-pipeline each time a second engine variant; ask for one at a time.");
                return 2;
            }
            var settings = new Settings(n, t, r, withTorch, parse.GetValue(avx2), parse.GetValue(refuse), parse.GetValue(items), parse.GetValue(blasFirst), parse.GetValue(pipeline));
            if (BenchLoad.Start("gemm", parse.GetValue(maxLoad), settings.Refuse) is not { } guard) return LoadGuard.LoadedExitCode;
            return f64 ? Run<double>(settings, guard) : Run<float>(settings, guard);
        });
        return command;
    }

    /// <summary>Wall-clock best and median; <paramref name="BestCpuSeconds"/>: the least CPU time of the calling thread (null where unknown).</summary>
    private readonly record struct Timing(double BestSeconds, double MedianSeconds, double? BestCpuSeconds = null);

    private sealed record Settings(int N, int Threads, int Repeat, bool Torch, bool CompareAvx2, bool Refuse, int? ItemsPerWorker, bool OpenBlasFirst, bool ComparePipeline = false);

    private static unsafe int Run<T>(Settings s, LoadGuard guard) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (n, threads, repeat, withTorch) = (s.N, s.Threads, s.Repeat, s.Torch);
        string dtypeName = typeof(T) == typeof(float) ? "f32" : "f64";
        long count = (long)n * n;
        T* a = Alloc<T>(count), b = Alloc<T>(count), cEngine = Alloc<T>(count), cBlas = Alloc<T>(count);
        try
        {
            var rng = new Random(1234);
            for (long i = 0; i < count; i++)
            {
                a[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
                b[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
            }

            // With --openblas-first, OpenBLAS is timed before the engine (then left a second for its threads to stop
            // spinning), to show whether the order of the two blocks, not the code, moves the ratio.
            OpenBlas? blas = null;
            string blasReason = "";
            Timing? reference = null;
            if (s.OpenBlasFirst)
            {
                blas = OpenBlas.TryLoad(out blasReason);
                blas?.SetThreads(threads);
                reference = blas is null ? null : TimeRuns(repeat, () => BlasGemm(blas, n, a, b, cBlas));
                Thread.Sleep(1000);
            }

            CpuParallel.ThreadCount = threads;
            Timing engine;
            Timing? engineAvx2 = null, engineItems = null, enginePipeline = null;
            bool? itemsSameBits = null, pipelineSameBits = null;
            bool defaultPipelined = CpuGemm.PipelineKBlocks;
            if (s.CompareAvx2 && CpuGemm.AllowAvx512 && CpuGemm.KernelName.StartsWith("AVX-512", StringComparison.Ordinal))
            {
                (engine, var avx2) = TimeAlternately(repeat, () => EngineGemm(n, a, b, cEngine), () =>
                {
                    CpuGemm.AllowAvx512 = false;
                    try { EngineGemm(n, a, b, cBlas); }
                    finally { CpuGemm.AllowAvx512 = true; }
                });
                engineAvx2 = avx2;
            }
            else if (s.ItemsPerWorker is { } perWorker)
            {
                (engine, var split) = TimeAlternately(repeat, () => EngineGemm(n, a, b, cEngine), () =>
                {
                    CpuGemm.ItemsPerWorker = perWorker;
                    try { EngineGemm(n, a, b, cBlas); }
                    finally { CpuGemm.ItemsPerWorker = CpuGemm.DefaultItemsPerWorker; }
                });
                engineItems = split;
                // The split must not change a bit (C of the default run is in cEngine, of the other in cBlas until OpenBLAS overwrites it).
                itemsSameBits = new ReadOnlySpan<byte>(cEngine, (int)Math.Min(int.MaxValue, count * sizeof(T)))
                    .SequenceEqual(new ReadOnlySpan<byte>(cBlas, (int)Math.Min(int.MaxValue, count * sizeof(T))));
            }
            else if (s.ComparePipeline)
            {
                // The default schedule against the other one (whichever CpuGemm.PipelineKBlocks is not).
                (engine, var other) = TimeAlternately(repeat, () => EngineGemm(n, a, b, cEngine), () =>
                {
                    CpuGemm.PipelineKBlocks = !defaultPipelined;
                    try { EngineGemm(n, a, b, cBlas); }
                    finally { CpuGemm.PipelineKBlocks = defaultPipelined; }
                });
                enginePipeline = other;
                pipelineSameBits = new ReadOnlySpan<byte>(cEngine, (int)Math.Min(int.MaxValue, count * sizeof(T)))
                    .SequenceEqual(new ReadOnlySpan<byte>(cBlas, (int)Math.Min(int.MaxValue, count * sizeof(T))));
            }
            else engine = TimeRuns(repeat, () => EngineGemm(n, a, b, cEngine));
            string kernel = CpuGemm.KernelName;

            // The ceiling, in this run: the widest FMA this process has, on the same number of threads.
            bool f64 = typeof(T) == typeof(double);
            FmaIsa? isa = FmaPeak.Widest;
            double? peak = isa is { } w ? FmaPeak.Measure(w, f64, threads) : null;

            // Loaded only now by default: OpenBLAS starts its threads when told their number, and they spin
            // for a while, which would take cores from the engine's runs.
            if (!s.OpenBlasFirst)
            {
                blas = OpenBlas.TryLoad(out blasReason);
                blas?.SetThreads(threads);
                reference = blas is null ? null : TimeRuns(repeat, () => BlasGemm(blas, n, a, b, cBlas));
            }
            else if (blas is not null && (engineAvx2 is not null || engineItems is not null || enginePipeline is not null))
                BlasGemm(blas, n, a, b, cBlas); // the engine's second variant wrote its C there: OpenBLAS's again, untimed

            double sampleError = SampledError(n, a, b, cEngine);
            double? maxDiff = null;
            if (blas != null)
            {
                double d = 0;
                for (long i = 0; i < count; i++)
                    d = Math.Max(d, Math.Abs(double.CreateTruncating(cEngine[i]) - double.CreateTruncating(cBlas[i])));
                maxDiff = d;
            }

            double flops = 2.0 * n * n * n;
            double engineBest = flops / engine.BestSeconds / 1e9, engineMedian = flops / engine.MedianSeconds / 1e9;
            double? blasBest = reference is { } rb ? flops / rb.BestSeconds / 1e9 : null;
            double? blasMedian = reference is { } rm ? flops / rm.MedianSeconds / 1e9 : null;
            double? ratio = blasBest is { } bb ? engineBest / bb : null;

            string torchNote = "not asked for (--torch)";
            double? torchGflops = null;
            if (withTorch)
            {
                using var twin = TorchTwin.Run("gemm_torch.py", ["--device", "cpu", "--threads", threads.ToString(CultureInfo.InvariantCulture),
                    "--size", n.ToString(CultureInfo.InvariantCulture), "--dtype", dtypeName, "--repeat", repeat.ToString(CultureInfo.InvariantCulture)], out torchNote);
                if (twin is not null)
                {
                    torchGflops = twin.RootElement.GetProperty("tflops").GetDouble() * 1e3;
                    torchNote = $"{torchGflops.Value.ToString("F1", CultureInfo.InvariantCulture)} GFLOP/s (best), engine / torch = {Ratio(engineBest / torchGflops)}";
                }
            }

            guard = guard.Finish();
            double? avx2Best = engineAvx2 is { } ea ? flops / ea.BestSeconds / 1e9 : null;
            string peakName = isa is { } pi ? $"{PeakBench.IsaName(pi)} {dtypeName} FMA peak, {threads} thread(s): {F(peak)} GFLOP/s (measured in this run)" : "FMA peak: not available (no FMA)";
            AnsiConsole.MarkupLine($"[bold]GEMM[/] {dtypeName}  N={n}  threads={threads}  repeat={repeat}  engine kernel: {kernel}");
            AnsiConsole.MarkupLine(blas != null ? $"reference: {Markup.Escape(blas.Config)}" : $"reference: OpenBLAS {blasReason}");
            AnsiConsole.MarkupLine(Markup.Escape(peakName));

            var table = new Table().AddColumn("").AddColumn(new TableColumn("engine").RightAligned())
                .AddColumn(new TableColumn("OpenBLAS").RightAligned()).AddColumn(new TableColumn("engine / OpenBLAS").RightAligned());
            table.AddRow($"GFLOP/s (best of {repeat})", F(engineBest), F(blasBest), Ratio(ratio));
            table.AddRow("GFLOP/s (median)", F(engineMedian), F(blasMedian), Ratio(engineMedian / blasMedian));
            table.AddRow("% of FMA peak (best)", Ratio(engineBest / peak), Ratio(blasBest / peak), "");
            table.AddRow("best time (ms)", Ms(engine.BestSeconds), Ms(reference?.BestSeconds), "");
            double? itemsBest = engineItems is { } ei ? flops / ei.BestSeconds / 1e9 : null;
            if (itemsBest is { } ib)
                table.AddRow($"engine, {s.ItemsPerWorker} items per worker, GFLOP/s (best)", F(ib), "",
                    $"/ default {CpuGemm.DefaultItemsPerWorker} = {Ratio(ib / engineBest)}" + (itemsSameBits == true ? ", same bits" : ", BITS DIFFER"));
            double? otherBest = enginePipeline is { } ep ? flops / ep.BestSeconds / 1e9 : null;
            double? pipelineBest = otherBest is null ? null : defaultPipelined ? engineBest : otherBest;
            double? forkBest = otherBest is null ? null : defaultPipelined ? otherBest : engineBest;
            if (pipelineBest is { } pb && forkBest is { } fb)
                table.AddRow("engine k blocks pipelined / forked, GFLOP/s", $"{F(pb)} / {F(fb)}", "",
                    $"pipelined / forked = {Ratio(pb / fb)}" + (pipelineSameBits == true ? ", same bits" : ", BITS DIFFER"));
            if (avx2Best is { } a2)
                table.AddRow("engine AVX2 kernel, GFLOP/s (best)", F(a2), "", $"AVX-512 / AVX2 = {Ratio(engineBest / a2)}");
            // On one thread the work runs on the calling thread, so its CPU time excludes the slices other
            // processes took: a figure that survives a loaded machine better than wall time (caches still suffer).
            double? cpuBest = threads == 1 && engine.BestCpuSeconds is { } ec ? flops / ec / 1e9 : null;
            double? cpuAvx2 = threads == 1 && engineAvx2?.BestCpuSeconds is { } ac ? flops / ac / 1e9 : null;
            double? cpuBlas = threads == 1 && reference?.BestCpuSeconds is { } rc ? flops / rc / 1e9 : null;
            if (cpuBest is { } cb)
                table.AddRow("GFLOP/s per CPU second of the thread", F(cb), cpuBlas is { } cbl ? F(cbl) : "", Ratio(cb / cpuBlas)
                    + (cpuAvx2 is { } ca ? $"; engine AVX2 kernel {F(ca)}, AVX-512 / AVX2 = {Ratio(cb / ca)}" : ""));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine(Markup.Escape(guard.Line));
            AnsiConsole.WriteLine(maxDiff is { } md
                ? $"max |engine - OpenBLAS| = {md.ToString("G3", CultureInfo.InvariantCulture)}"
                : "max |engine - OpenBLAS| = not available");
            AnsiConsole.WriteLine($"torch.matmul: {torchNote}");
            AnsiConsole.WriteLine($"engine vs a float64 dot product on {Samples} sampled elements: max error {sampleError.ToString("G3", CultureInfo.InvariantCulture)} (relative to the sum of |products|)");

            var json = new Dictionary<string, object?>
            {
                ["bench"] = "gemm", ["size"] = n, ["threads"] = threads, ["dtype"] = dtypeName, ["repeat"] = repeat,
                ["engine_gflops"] = Round(engineBest), ["engine_median_gflops"] = Round(engineMedian),
                ["openblas_gflops"] = Round(blasBest), ["openblas_median_gflops"] = Round(blasMedian),
                ["ratio"] = Round(ratio), ["max_abs_diff"] = maxDiff, ["sample_max_rel_err"] = sampleError,
                ["torch_gflops"] = Round(torchGflops), ["torch_ratio"] = Round(torchGflops is { } tg ? engineBest / tg : null),
                ["kernel"] = kernel, ["peak_isa"] = isa is { } ji ? PeakBench.IsaName(ji) : null, ["peak_gflops"] = Round(peak),
                ["engine_peak_fraction"] = Round4(engineBest / peak), ["openblas_peak_fraction"] = Round4(blasBest / peak),
                ["engine_avx2_gflops"] = Round(avx2Best),
                ["order"] = s.OpenBlasFirst ? "openblas_first" : "engine_first",
                ["items_per_worker"] = s.ItemsPerWorker, ["engine_items_gflops"] = Round(itemsBest), ["items_same_bits"] = itemsSameBits,
                ["engine_pipeline_gflops"] = Round(pipelineBest), ["engine_fork_per_block_gflops"] = Round(forkBest),
                ["pipeline_default"] = defaultPipelined, ["pipeline_same_bits"] = pipelineSameBits,
                ["engine_cpu_gflops"] = Round(threads == 1 && engine.BestCpuSeconds is { } jc ? flops / jc / 1e9 : null),
                ["openblas_cpu_gflops"] = Round(threads == 1 && reference?.BestCpuSeconds is { } jrc ? flops / jrc / 1e9 : null),
                ["engine_avx2_cpu_gflops"] = Round(threads == 1 && engineAvx2?.BestCpuSeconds is { } jac ? flops / jac / 1e9 : null),
                ["summary"] = $"{F(engineBest)} GFLOP/s" + (peak is not null ? $" ({Ratio(engineBest / peak)} of FMA peak)" : "")
                    + (ratio is { } rs ? $", {Ratio(rs)} of OpenBLAS" : "") + (guard.Loaded ? " [loaded]" : ""),
            };
            guard.AddTo(json);
            DeviceBench.WriteJson(json);
            return guard.ExitCode(s.Refuse, 0);
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(cEngine);
            NativeMemory.AlignedFree(cBlas);
        }
    }

    private const int Samples = 64;

    // The engine's result checked without any library: a float64 dot product for a spread of elements,
    // the error divided by the sum of the products' magnitudes (the scale a rounding error is relative to).
    private static unsafe double SampledError<T>(int n, T* a, T* b, T* c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double worst = 0;
        var rng = new Random(99);
        for (int s = 0; s < Samples; s++)
        {
            int i = s == 0 ? 0 : s == 1 ? n - 1 : rng.Next(n), j = s == 0 ? 0 : s == 1 ? n - 1 : rng.Next(n);
            double dot = 0, scale = 0;
            for (int p = 0; p < n; p++)
            {
                double x = double.CreateTruncating(a[(long)i * n + p]) * double.CreateTruncating(b[(long)p * n + j]);
                dot += x;
                scale += Math.Abs(x);
            }
            worst = Math.Max(worst, Math.Abs(double.CreateTruncating(c[(long)i * n + j]) - dot) / Math.Max(scale, double.Epsilon));
        }
        return worst;
    }

    // Warm-up until the JIT has settled on optimised code (at least 3 runs and half a second), then
    // time `repeat` runs. Best-of is the figure of merit; the median shows the noise. The two sides
    // are timed in separate blocks, not alternately: both keep idle worker threads spinning for a
    // while after a call, and alternating would make each side's spinners steal the other's cores.
    private static Timing TimeRuns(int repeat, Action run)
    {
        WarmUp(run);
        var seconds = new double[repeat];
        double? cpu = null;
        for (int i = 0; i < repeat; i++)
        {
            double? c0 = ThreadCpuTime.Seconds();
            seconds[i] = Time(run);
            if (c0 is { } start && ThreadCpuTime.Seconds() is { } end) cpu = Math.Min(cpu ?? double.MaxValue, end - start);
        }
        return Summarise(seconds) with { BestCpuSeconds = cpu };
    }

    // The engine's two kernels, timed run by run in turns (A B, then B A, ...) after both warmed up. Timed one block
    // after the other, only the first block met whatever the process's start left (the worker thread's placement,
    // the JIT's later tiers): on the quiet Zen 4 the AVX-512 f64 kernel, timed first, was 8-18 % behind the AVX2 one
    // at 2048 and 14 % ahead at 4096, which an order effect would explain as well as the kernels. Both use the
    // engine's own threads, so the spinning of one does not steal cores from the other (unlike OpenBLAS's).
    private static (Timing First, Timing Second) TimeAlternately(int repeat, Action first, Action second)
    {
        WarmUp(first);
        WarmUp(second);
        var s1 = new double[repeat];
        var s2 = new double[repeat];
        double? cpu1 = null, cpu2 = null;
        for (int i = 0; i < repeat; i++)
        {
            if (i % 2 == 0)
            {
                (s1[i], cpu1) = TimeOne(first, cpu1);
                (s2[i], cpu2) = TimeOne(second, cpu2);
            }
            else
            {
                (s2[i], cpu2) = TimeOne(second, cpu2);
                (s1[i], cpu1) = TimeOne(first, cpu1);
            }
        }
        return (Summarise(s1) with { BestCpuSeconds = cpu1 }, Summarise(s2) with { BestCpuSeconds = cpu2 });
    }

    // One timed run: wall seconds, and the least CPU time of the calling thread so far (null where unknown).
    private static (double Seconds, double? BestCpu) TimeOne(Action run, double? bestCpu)
    {
        double? c0 = ThreadCpuTime.Seconds();
        double seconds = Time(run);
        if (c0 is { } start && ThreadCpuTime.Seconds() is { } end) bestCpu = Math.Min(bestCpu ?? double.MaxValue, end - start);
        return (seconds, bestCpu);
    }

    private static void WarmUp(Action run)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 3 || Stopwatch.GetElapsedTime(start).TotalSeconds < 0.5; i++) run();
    }

    private static double Time(Action run)
    {
        long t0 = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static Timing Summarise(double[] seconds)
    {
        Array.Sort(seconds);
        int r = seconds.Length;
        double median = r % 2 == 1 ? seconds[r / 2] : (seconds[r / 2 - 1] + seconds[r / 2]) / 2;
        return new Timing(seconds[0], median);
    }

    private static unsafe void EngineGemm<T>(int n, T* a, T* b, T* c) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            CpuGemm.Gemm(n, n, n, 1f, (float*)a, n, 1, (float*)b, n, 1, 0f, (float*)c, n);
        else
            CpuGemm.Gemm(n, n, n, 1d, (double*)a, n, 1, (double*)b, n, 1, 0d, (double*)c, n);
    }

    private static unsafe void BlasGemm<T>(OpenBlas blas, int n, T* a, T* b, T* c) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            blas.Sgemm(n, n, n, 1f, (float*)a, n, (float*)b, n, 0f, (float*)c, n);
        else
            blas.Dgemm(n, n, n, 1d, (double*)a, n, (double*)b, n, 0d, (double*)c, n);
    }

    private static unsafe T* Alloc<T>(long count) where T : unmanaged =>
        (T*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(T)), 64);

    private static string F(double? x) => x is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "not available";

    private static string Ms(double? seconds) => seconds is { } v ? (v * 1e3).ToString("G3", CultureInfo.InvariantCulture) : "not available";

    private static string Ratio(double? x) => x is { } v ? v.ToString("P0", CultureInfo.InvariantCulture) : "not available";

    private static double? Round(double? x) => x is { } v ? Math.Round(v, 2) : null;

    private static double? Round4(double? x) => x is { } v ? Math.Round(v, 4) : null;
}
