using System.Globalization;
using Engine.Cuda.Native;
using Engine.Models.Serialization;
using Engine.Models.Training;
using Engine.Randomness;
using Engine.Tests.Samples;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// The trainer on CUDA (the emulator here), with the zoo's <c>mlp</c> and the composed cross-entropy (small and
/// quick on the emulator): a run equal to the CPU's, exact resume, host reads only every N steps, the device
/// choice, and <c>engine train --device cuda</c> as a process. The backbones' runs on the device are
/// <c>BackboneTrainingGpuTests</c>'.
/// </summary>
public class TrainerGpuTests
{
    internal sealed class Recorder(Action<StepReport>? onStep = null) : ITrainingObserver
    {
        public List<string> Messages { get; } = [];
        public List<EpochReport> Epochs { get; } = [];
        public void Message(string text) => Messages.Add(text);
        public void Step(StepReport report) => onStep?.Invoke(report);
        public void Epoch(EpochReport report) => Epochs.Add(report);
    }

    internal static TrainOptions Tiny(string dir, string device) => new()
    {
        Model = "mlp", Data = "fashion-mnist-small", Loss = TrainingLoss.ComposedCrossEntropy, Device = device,
        Epochs = 1, Batch = 16, LimitTrain = 48, LimitTest = 32, WarmupSteps = 1, Out = dir, Seed = 5,
    };

    private static string TempDir() => TrainingRunFiles.TempDir("engine-trainer-gpu-");

    private static string[][] Rows(string dir, string kind) => TrainingRunFiles.Rows(dir, kind);

    private static double Number(string text) => TrainingRunFiles.Number(text);

    private static Dictionary<string, double[]> CheckpointTensors(string dir) => TrainingRunFiles.CheckpointTensors(dir);

    private static void AssertClose(double expected, double actual, double tol, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tol * (1 + Math.Abs(expected)), $"{what}: GPU {actual:R}, CPU {expected:R}");

    /// <summary>Three steps in float64 with clipping folded into AdamW, then the evaluation: the GPU run equals the CPU run to 1e-10.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Three_steps_on_the_GPU_equal_the_same_run_on_the_CPU_in_f64()
    {
        string cpuDir = TempDir(), gpuDir = TempDir();
        try
        {
            TrainOptions Options(string dir, string device) => Tiny(dir, device) with { DType = "f64", LogEvery = 1, ClipGradNorm = 0.5 };
            new Trainer(Options(cpuDir, "cpu"), new Recorder()).Run();
            var observer = new Recorder();
            var gpu = new Trainer(Options(gpuDir, "cuda"), observer).Run();
            Assert.Contains("device: cuda:0", observer.Messages[1]);
            Assert.Equal(3, gpu.Steps);

            var (cpuTrain, gpuTrain) = (Rows(cpuDir, "train"), Rows(gpuDir, "train"));
            Assert.Equal(3, gpuTrain.Length);
            for (int i = 0; i < 3; i++) AssertClose(Number(cpuTrain[i][3]), Number(gpuTrain[i][3]), 1e-10, $"loss of step {i + 1}");
            var (cpuEval, gpuEval) = (Rows(cpuDir, "eval").Single(), Rows(gpuDir, "eval").Single());
            Assert.Equal(cpuEval[6], gpuEval[6]);                                  // accuracy: the same count of correct answers
            AssertClose(Number(cpuEval[7]), Number(gpuEval[7]), 1e-10, "test loss");
            AssertClose(Number(cpuEval[3]), Number(gpuEval[3]), 1e-10, "epoch train loss");

            var (cpuState, gpuState) = (CheckpointTensors(cpuDir), CheckpointTensors(gpuDir));
            Assert.Equal(cpuState.Keys.Order(), gpuState.Keys.Order());
            foreach (var (name, expected) in cpuState)
                for (int i = 0; i < expected.Length; i++) AssertClose(expected[i], gpuState[name][i], 1e-10, $"{name}[{i}]");
            Assert.True(Number(gpuTrain[0][8]) > 0, "the memory column comes from the device's allocator");
            Assert.True(Number(gpuTrain[0][10]) >= Number(gpuTrain[0][8]), "the peak is at least what is allocated");
        }
        finally
        {
            Directory.Delete(cpuDir, true);
            Directory.Delete(gpuDir, true);
        }
    }

    /// <summary>A GPU run stopped mid-epoch and resumed from its checkpoint equals the uninterrupted GPU run bit for bit.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_GPU_run_stopped_and_resumed_equals_the_uninterrupted_GPU_run_bit_for_bit()
    {
        string straight = TempDir(), split = TempDir();
        try
        {
            var options = Tiny(straight, "cuda") with { Epochs = 2, LogEvery = 2 };
            var full = new Trainer(options, new Recorder()).Run();
            Assert.Equal(6, full.Steps);
            var first = new Trainer(options with { Out = split, StopAfterSteps = 5 }, new Recorder()).Run();   // inside a window of the loss (read at 4 and 6)
            Assert.False(first.Completed);
            var resumed = Trainer.OptionsFromCheckpoint(split) with { StopAfterSteps = null };
            Assert.Equal("cuda", resumed.Device);
            var second = new Trainer(resumed, new Recorder()).Run(resume: true);
            Assert.True(second.Completed);

            // Rows at the same steps with the same losses ("R": every bit), the same evaluations.
            Assert.Equal(Rows(straight, "train").Select(r => (r[2], r[3])), Rows(split, "train").Select(r => (r[2], r[3])));
            Assert.Equal(Rows(straight, "eval").Select(r => (r[2], r[3], r[6], r[7])), Rows(split, "eval").Select(r => (r[2], r[3], r[6], r[7])));
            var (a, b) = (CheckpointTensors(straight), CheckpointTensors(split));
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            foreach (var (name, values) in a) Assert.Equal(values, b[name]);
        }
        finally
        {
            Directory.Delete(straight, true);
            Directory.Delete(split, true);
        }
    }

    /// <summary>
    /// The training thread waits for the device only when it reads the loss: every N steps and at the epoch's
    /// last step, two waits (the window timer's event and one copy of the two loss sums), and none in between.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_host_reads_the_device_only_every_N_steps()
    {
        string dir = TempDir();
        try
        {
            var waits = new List<(int Batch, long Waits, bool Logged)>();
            var observer = new Recorder(r => waits.Add((r.BatchInEpoch, Driver.HostWaitsOnThisThread, r.Logged)));
            new Trainer(Tiny(dir, "cuda") with { LimitTrain = 112, LogEvery = 3 }, observer).Run();
            Assert.Equal(7, waits.Count);
            var perStep = waits.Zip(waits.Skip(1), (before, after) => (after.Batch, Waits: after.Waits - before.Waits, after.Logged)).ToList();
            // Steps 2..7; the loss is read at steps 1, 3, 6 and 7 (the epoch's last).
            Assert.Equal([(2, 0L, false), (3, 2L, true), (4, 0L, false), (5, 0L, false), (6, 2L, true), (7, 2L, true)], perStep);
            Assert.Equal(4, Rows(dir, "train").Length);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void The_device_is_chosen_as_documented()
    {
        string? Runs(Device d) => null;
        string? Fails(Device d) => $"no CUDA kernel for conv2d (input [2, 3, 32, 32] float32 on {d}).";
        var none = new TrainingDevice.Facts(CudaAvailable: false, Emulated: false);
        var emulated = new TrainingDevice.Facts(CudaAvailable: true, Emulated: true);
        var real = new TrainingDevice.Facts(CudaAvailable: true, Emulated: false);

        Assert.Equal(Device.Cpu, TrainingDevice.Resolve("cpu", real, Runs).Device);
        Assert.Equal((Device.Cpu, "device: cpu (auto: no CUDA device)"), TrainingDevice.Resolve("auto", none, Runs));
        Assert.Equal(Device.Cpu, TrainingDevice.Resolve("auto", emulated, Runs).Device);
        Assert.Contains("emulator", TrainingDevice.Resolve("auto", emulated, Runs).Message);
        Assert.Equal((Device.Cuda(0), "device: cuda:0 (auto)"), TrainingDevice.Resolve("auto", real, Runs));
        var fallback = TrainingDevice.Resolve("auto", real, Fails);
        Assert.Equal(Device.Cpu, fallback.Device);
        Assert.Contains("no CUDA kernel for conv2d", fallback.Message);
        // cuda never falls back to the CPU: without a device it is an error saying so.
        Assert.Contains("no CUDA device is available", Assert.Throws<NotSupportedException>(() => TrainingDevice.Resolve("cuda", none, Runs)).Message);
        Assert.Contains("unknown device 'gpu'", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("gpu", real, Runs)).Message);
        Assert.Contains("unknown device 'cuda:x'", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("cuda:x", real, Runs)).Message);
    }

    [NoCudaFact]
    public void Cuda_without_a_device_is_an_error_never_the_CPU()
    {
        string dir = TempDir();
        try
        {
            var e = Assert.Throws<NotSupportedException>(() => new Trainer(Tiny(dir, "cuda"), new Recorder()).Run());
            Assert.Contains("no CUDA device is available", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>The composed cross-entropy (core operations only) equals the fused operator, value and gradient, with and without label smoothing.</summary>
    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.1, false)]
    [InlineData(0.1, true)]
    public void The_composed_cross_entropy_equals_the_fused_operator(double smoothing, bool sum)
    {
        using var scope = Tensor.Scope();
        var labels = Tensor.FromArray(new long[] { 0, 4, 2, 2, 1, 3 });
        double[] Run(string name, out double value)
        {
            var logits = Tensor.Randn([6, 5], DType.F64, generator: new Generator(8)).Mul(3).RequiresGradInPlace();
            using var loss = new TrainingLoss(name, 5, Device.Cpu);
            var l = loss.Compute(logits, labels, smoothing, sum);
            value = l.Item();
            l.Backward();
            return logits.Grad!.ToArray<double>();
        }
        var fusedGrad = Run(TrainingLoss.CrossEntropy, out double fused);
        var composedGrad = Run(TrainingLoss.ComposedCrossEntropy, out double composed);
        AssertClose(fused, composed, 1e-14, "loss");
        for (int i = 0; i < fusedGrad.Length; i++) AssertClose(fusedGrad[i], composedGrad[i], 1e-14, $"gradient {i}");
    }

    /// <summary>
    /// A classifier whose forward uses an operator with no kernel on CUDA. Every operator the zoo's models use has
    /// CUDA kernels now, so the missing one is made here: it fails exactly as <see cref="Engine.Backends.Kernel.Missing"/>
    /// makes every dispatch fail, which is what the trainer must pass on rather than fall back to the CPU.
    /// </summary>
    private sealed class WithoutCudaKernel : global::Engine.Models.Nn.Module<Tensor, Tensor>
    {
        private readonly global::Engine.Models.Nn.Linear _head;

        public WithoutCudaKernel(global::Engine.Models.Data.ImageShape shape, int classes, Generator g) =>
            _head = RegisterModule("head", new global::Engine.Models.Nn.Linear(shape.Size, classes, generator: g));

        public override Tensor Forward(Tensor x)
        {
            if (x.Device.Type == DeviceType.Cuda) throw global::Engine.Backends.Kernel.Missing("cpu_only_test_op", x);
            return _head.Call(x.Reshape(x.Shape[0], -1));
        }
    }

    internal static IDisposable RegisterWithoutCudaKernel(string name) =>
        global::Engine.Models.Zoo.ModelZoo.Register(name, (shape, classes, g) => new WithoutCudaKernel(shape, classes, g));

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Cuda_runs_on_the_device_and_says_so_and_a_model_without_kernels_fails_naming_the_operator()
    {
        var emulated = TrainingDevice.Facts.Current;
        Assert.Equal(Device.Cuda(0), TrainingDevice.Resolve("cuda", emulated, _ => "not asked").Device);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("cuda:7", emulated, _ => null)).Message);
        string dir = TempDir();
        using var registration = RegisterWithoutCudaKernel("no-cuda-kernel-run");
        try
        {
            // The run fails at the operator, naming it and the device: it does not go on on the CPU.
            var e = Assert.Throws<NotSupportedException>(() => new Trainer(Tiny(dir, "cuda") with { Model = "no-cuda-kernel-run" }, new Recorder()).Run());
            Assert.Contains("cpu_only_test_op", e.Message);
            Assert.Contains("on cuda:0", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary><c>engine train --device cuda</c> as a user runs it: the built command line in its own process (on the emulator, which the test process hands down).</summary>
    [CliGpuFact]
    public void Train_with_device_cuda_runs_as_a_process()
    {
        string dir = TempDir();
        try
        {
            var (code, stdout, stderr) = Engine("train", "--model", "mlp", "--device", "cuda", "--loss", "cross-entropy-composed", "--epochs", "1",
                "--batch", "16", "--limit-train", "32", "--limit-test", "16", "--log-every", "1", "--out", dir);
            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            Assert.Contains("device: cuda:0", stdout);
            Assert.Contains("done: 1 epochs, 2 steps", stdout);
            Assert.Equal(2, Rows(dir, "train").Length);
            Assert.True(File.Exists(Path.Combine(dir, Trainer.CheckpointFile)));

            var (bad, _, why) = Engine("train", "--device", "gpu", "--out", dir);
            Assert.NotEqual(0, bad);
            Assert.Contains("--device must be auto, cpu, cuda or cuda:N", why);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static (int ExitCode, string Stdout, string Stderr) Engine(params string[] args) => EngineProcess.Run(args);
}

/// <summary>A test of the built command line on CUDA: skipped, with the reason, without either.</summary>
public sealed class CliGpuFactAttribute : FactAttribute
{
    /// <summary>Skips where the command line is not built or CUDA cannot run.</summary>
    public CliGpuFactAttribute()
    {
        Skip = new CliBuiltFactAttribute().Skip ?? GpuFactAttribute.SkipReason(GpuNeeds.TensorBackend);
    }
}

/// <summary>
/// auto's probe. It checks that the probe leaves the default generator as it was, so it runs in the serial
/// collection: any test running beside it that draws from <see cref="Generator.Default"/> would move the state
/// (a clean clone's CI failed this way once: offset 13,120,370 before, 13,145,010 after).
/// </summary>
[Collection(SerialCollection.Name)]
public class TrainerProbeTests
{
    /// <summary>auto's probe: a step of a copy of the model on the device; it leaves the default generator as it was.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_auto_probe_runs_a_step_on_a_copy_and_names_what_is_missing()
    {
        var before = GeneratorState.Of(Generator.Default);
        var shape = new global::Engine.Models.Data.ImageShape(1, 28, 28);
        Assert.Null(new Trainer(TrainerGpuTests.Tiny("unused", "auto"), new TrainerGpuTests.Recorder()).Probe(Device.Cuda(0), shape, 10, DType.F32));
        // The convolutional model's operators (conv, pooling, BatchNorm, the fused loss) all have CUDA kernels.
        Assert.Null(new Trainer(TrainerGpuTests.Tiny("unused", "auto") with { Model = "cnn", Loss = TrainingLoss.CrossEntropy }, new TrainerGpuTests.Recorder()).Probe(Device.Cuda(0), shape, 10, DType.F32));
        using var registration = TrainerGpuTests.RegisterWithoutCudaKernel("no-cuda-kernel-probe");
        var missing = new Trainer(TrainerGpuTests.Tiny("unused", "auto") with { Model = "no-cuda-kernel-probe" }, new TrainerGpuTests.Recorder()).Probe(Device.Cuda(0), shape, 10, DType.F32);
        Assert.Contains("no CUDA kernel for cpu_only_test_op", missing);
        Assert.Contains("on cuda:0", missing);
        Assert.Equal(before, GeneratorState.Of(Generator.Default));
    }
}
