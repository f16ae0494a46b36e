using System.CommandLine;
using Engine.Autograd;
using Engine.Backends;
using Engine.Models.Data;
using Engine.Models.Training;
using Engine.Models.Zoo;
using Engine.Ops;

namespace Engine.Samples.Cli.Bench;

/// <summary>What one side measured: median milliseconds of a train step and of an inference batch, the peak memory of each, and (engine) the counts of one step.</summary>
/// <param name="TrainMs">Median milliseconds of a train step, on the device's clock (null when not measured: <c>--phase infer</c>).</param>
/// <param name="InferMs">Median milliseconds of an inference batch (null with <c>--phase train</c>).</param>
/// <param name="Parameters">The model's parameter count.</param>
/// <param name="TrainPeakBytes">Peak memory allocated during the train steps (device memory on CUDA, tensor memory on the CPU).</param>
/// <param name="InferPeakBytes">Peak memory allocated during inference, the peak reset in between.</param>
/// <param name="TrainStep">The engine's counts over one train step after warm-up (null for the twin).</param>
/// <param name="Inference">The engine's counts over one inference batch after warm-up.</param>
/// <param name="TrainKernels">With <c>--profile</c> on CUDA: the launches of each kernel ("unit/kernel") in the counted train step.</param>
internal sealed record ModelTiming(double? TrainMs, double? InferMs, long Parameters, long? TrainPeakBytes, long? InferPeakBytes,
    DeviceCounters? TrainStep = null, DeviceCounters? Inference = null, IReadOnlyDictionary<string, long>? TrainKernels = null);

/// <summary>The settings of one <c>bench model</c> run.</summary>
internal sealed record ModelBenchSettings(string Model, int Batch, int Threads, int Steps, int ImageSize, DType DType, bool Tf32, bool Torch,
    bool Profile = false, string Phase = "both", double MaxLoad = LoadGuard.DefaultThreshold, bool RefuseLoaded = false, int Warmup = ModelBench.DefaultWarmup)
{
    /// <summary>Whether the train step is measured.</summary>
    public bool Train => Phase != "infer";

    /// <summary>Whether inference is measured.</summary>
    public bool Infer => Phase != "train";
}

/// <summary>
/// <c>engine bench model</c>: images per second of one model's training step (forward, cross-entropy with
/// label smoothing 0.1, backward, AdamW) and of inference on random inputs, on the CPU or a CUDA device, with
/// the peak memory of each and, on CUDA, the kernel launches, host synchronisations and allocations of one
/// step (<see cref="Devices.Counters"/>); beside the PyTorch twin of the same model on the same device in the
/// same run (<c>--torch</c>, through <c>Samples/bench/model_torch.py</c>).
/// </summary>
internal static class ModelBench
{
    /// <summary>
    /// Untimed steps before the counted and timed ones by default: kernels compile, the allocator's cache fills,
    /// the optimizer makes its state, and .NET's JIT recompiles the hot methods with full optimisation (after
    /// about 30 calls; with 2 warm-up steps vHeat-Nano's first ten timed steps ran at 60% of its later speed).
    /// </summary>
    public const int DefaultWarmup = 50;

    public static Command CreateCommand()
    {
        var model = new Option<string>("--model") { Description = "Model name (see `train --model`).", DefaultValueFactory = _ => "cnn" };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "Threads for the engine (and for PyTorch).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed steps (after the warm-up steps); the median is reported.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first, on both sides (the JIT's recompilation and the caches settle).", DefaultValueFactory = _ => DefaultWarmup };
        var size = new Option<int>("--image-size", "--size") { Description = "Input height and width.", DefaultValueFactory = _ => 32 };
        var dtype = new Option<string>("--dtype") { Description = "f32 or f64.", DefaultValueFactory = _ => "f32" };
        var tf32 = new Option<bool>("--tf32") { Description = "Allow TF32 in F32 matrix products on CUDA, on both sides (PyTorch's allow_tf32)." };
        var torch = new Option<bool>("--torch") { Description = "Also run the PyTorch twin (Samples/bench/model_torch.py) on the same device in this run." };
        var phase = new Option<string>("--phase") { Description = "both, train or infer: what to measure (infer alone for sizes whose training would not fit).", DefaultValueFactory = _ => "both" };
        var profile = new Option<bool>("--profile") { Description = "On CUDA: also list the launches of each kernel in one train step." };
        var device = DeviceBench.Option();
        var maxLoad = BenchLoad.MaxLoadOption();
        var refuse = BenchLoad.RefuseOption();
        var command = new Command("model", "Train-step and inference images per second of a model, beside its PyTorch twin.")
            { model, batch, threads, steps, warmup, size, dtype, tf32, torch, phase, profile, device, maxLoad, refuse };
        command.SetAction(parse =>
        {
            var (b, t, n, s) = (parse.GetValue(batch), parse.GetValue(threads), parse.GetValue(steps), parse.GetValue(size));
            if (b < 1 || n < 1 || t < 1 || s < 1)
            {
                Console.Error.WriteLine($"bench model: --batch, --steps, --threads and --image-size must be positive (got {b}, {n}, {t}, {s}).");
                return 2;
            }
            DType? dt = parse.GetValue(dtype) switch { "f32" => DType.F32, "f64" => DType.F64, _ => null };
            if (dt is null)
            {
                Console.Error.WriteLine($"bench model: --dtype must be f32 or f64, not '{parse.GetValue(dtype)}'.");
                return 2;
            }
            var what = parse.GetValue(phase)!;
            if (what is not ("both" or "train" or "infer"))
            {
                Console.Error.WriteLine($"bench model: --phase must be both, train or infer, not '{what}'.");
                return 2;
            }
            if (DeviceBench.Resolve("model", parse.GetValue(device)!) is not { } on) return 2;
            bool allowTf32 = parse.GetValue(tf32);
            if (allowTf32 && on.Device.Type != DeviceType.Cuda)
            {
                Console.Error.WriteLine("bench model: --tf32 applies to CUDA devices only.");
                return 2;
            }
            Engine.Cpu.CpuParallel.ThreadCount = t;
            return Run(new ModelBenchSettings(parse.GetValue(model)!, b, t, n, s, dt.Value, allowTf32, parse.GetValue(torch), parse.GetValue(profile), what,
                parse.GetValue(maxLoad), parse.GetValue(refuse), parse.GetValue(warmup)), on);
        });
        return command;
    }

    /// <summary>Measures the engine, then the twin when asked, prints the table and the JSON line; the exit code.</summary>
    internal static int Run(ModelBenchSettings settings, BenchDevice on)
    {
        if (!ModelZoo.Names.Contains(settings.Model))
        {
            Console.Error.WriteLine($"bench model: unknown model '{settings.Model}'; known models: {string.Join(", ", ModelZoo.Names)}.");
            return 2;
        }
        if (on.Device.Type == DeviceType.Cuda) DeviceBench.Title($"bench model {settings.Model} on {on.Device}", on);
        if (BenchLoad.Start("model", settings.MaxLoad, settings.RefuseLoaded) is not { } guard) return LoadGuard.LoadedExitCode;
        ModelTiming engine;
        bool previous = Engine.Cuda.Cuda.AllowTf32;
        Engine.Cuda.Cuda.AllowTf32 = settings.Tf32;
        try { engine = Measure(settings, on.Device); }
        catch (Exception e) when (on.Device.Type == DeviceType.Cuda)
        {
            return DeviceBench.Fail("model", on, e, ModelBenchReport.Settings(settings));
        }
        finally { Engine.Cuda.Cuda.AllowTf32 = previous; }
        string? note = null;
        ModelTiming? twin = null;
        if (settings.Torch && on.Emulated) note = "not run: the CUDA emulator is not a GPU PyTorch can use";
        else if (settings.Torch)
        {
            // The twin shares the GPU: give it back the blocks this process's allocator keeps cached.
            if (on.Device.Type == DeviceType.Cuda) Devices.EmptyCache(on.Device);
            twin = ModelBenchReport.RunTorch(settings, on.Device, out note);
        }
        guard = guard.Finish();
        ModelBenchReport.Print(settings, on, engine, twin, note, guard);
        return guard.ExitCode(settings.RefuseLoaded, 0);
    }

    /// <summary>The engine's figures: warm-up, one counted step, the timed steps (device timers), the same for inference.</summary>
    internal static ModelTiming Measure(ModelBenchSettings s, Device device)
    {
        var generator = new Engine.Randomness.Generator(0);
        using var model = ModelZoo.Create(s.Model, new ImageShape(3, s.ImageSize, s.ImageSize), 10, generator);
        if (s.DType != DType.F32) model.ToDType(s.DType);
        model.ToDevice(device);
        using var optimizer = Trainer.CreateOptimizer(model, new TrainOptions());
        using var cpuImages = Tensor.Randn([s.Batch, 3, s.ImageSize, s.ImageSize], s.DType, Device.Cpu, generator);
        using var cpuLabels = Tensor.RandInt(0, 10, [s.Batch], DType.I64, Device.Cpu, generator);
        // On the CPU these are the same tensors (disposing twice is harmless); on CUDA, copies made once, outside the steps.
        using var images = cpuImages.ToDevice(device);
        using var labels = cpuLabels.ToDevice(device);

        void Train()
        {
            using var scope = Tensor.Scope();
            var loss = Functional.CrossEntropy(model.Call(images), labels, labelSmoothing: 0.1);
            loss.Backward();
            optimizer.Step();
            optimizer.ZeroGrad(setToNone: true);
        }
        void Infer()
        {
            using var scope = Tensor.Scope();
            using var noGrad = Tape.NoGrad();
            model.Call(images);
        }

        Dictionary<string, long>? kernels = null;
        double? trainMs = null, inferMs = null;
        long? trainPeak = null, inferPeak = null;
        DeviceCounters? trainStep = null, inference = null;
        if (s.Train)
        {
            model.Train();
            Devices.Synchronize(device);
            Devices.ResetPeakMemory(device);
            (trainMs, trainStep) = Time(device, s.Warmup, s.Steps, Train, counted =>
            {
                if (!s.Profile || device.Type != DeviceType.Cuda) { counted(); return; }
                var cuda = Engine.Cuda.Runtime.CudaDevice.For(device);
                var before = cuda.LaunchesByKernel();
                counted();
                kernels = cuda.LaunchesByKernel().Select(kv => (kv.Key, kv.Value - before.GetValueOrDefault(kv.Key)))
                    .Where(kv => kv.Item2 > 0).ToDictionary(kv => kv.Key, kv => kv.Item2);
            });
            trainPeak = Devices.Memory(device).Peak;
        }
        if (s.Infer)
        {
            model.Eval();
            Devices.Synchronize(device);
            Devices.ResetPeakMemory(device);
            (inferMs, inference) = Time(device, s.Warmup, s.Steps, Infer, counted => counted());
            inferPeak = Devices.Memory(device).Peak;
        }
        return new ModelTiming(trainMs, inferMs, model.ParameterCount(), trainPeak, inferPeak, trainStep, inference, kernels);
    }

    /// <summary>
    /// <paramref name="warmup"/> untimed runs of <paramref name="body"/>, one counted run (nothing waits around
    /// it, so its host syncs are the body's own; <paramref name="around"/> may read more around it), then
    /// <paramref name="steps"/> runs each timed on the device's clock; the median milliseconds and the counts.
    /// </summary>
    private static (double? Ms, DeviceCounters? Counts) Time(Device device, int warmup, int steps, Action body, Action<Action> around)
    {
        for (int i = 0; i < warmup; i++) body();
        var counts = default(DeviceCounters);
        around(() =>
        {
            var before = Devices.Counters(device);
            body();
            counts = Devices.Counters(device) - before;
        });
        var times = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            using var timer = Devices.StartTimer(device);
            body();
            times[i] = timer.Stop();
        }
        Array.Sort(times);
        return (times[steps / 2], counts);
    }
}
