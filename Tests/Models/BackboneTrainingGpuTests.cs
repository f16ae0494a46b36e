using System.Diagnostics;
using System.Globalization;
using Engine.Cuda.Native;
using Engine.Models.Serialization;
using Engine.Models.Training;
using Engine.Tests.Samples;
using Engine.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Engine.Tests.Models;

/// <summary>
/// The four backbones' Nanos trained through the <see cref="Trainer"/> on CUDA (the emulator here) and on the CPU
/// with the same options, in float64 with the fused cross-entropy: the per-step losses, the evaluation and the
/// final model and AdamW state agree to 1e-10. Here the Nanos without dropout (affnet-nano, dualvit-nano), a step's
/// host waits, and <c>engine train</c> as a process; those whose masks come from the process-wide default generator
/// run alone in <see cref="BackboneDropoutTrainingGpuTests"/>.
/// </summary>
public class BackboneTrainingGpuTests(ITestOutputHelper output)
{
    internal sealed class Recorder(Action<StepReport>? onStep = null) : ITrainingObserver
    {
        public List<string> Messages { get; } = [];
        public void Message(string text) => Messages.Add(text);
        public void Step(StepReport report) => onStep?.Invoke(report);
        public void Epoch(EpochReport report) { }
    }

    /// <summary>
    /// Three steps of four images (the epoch's 12 training images), an evaluation of four: small enough for the
    /// emulator, and enough steps that AdamW's second step onward (moments already non-zero) is compared.
    /// </summary>
    internal static TrainOptions Tiny(string model, string dir, string device) => new()
    {
        Model = model, Data = "fashion-mnist-small", Loss = TrainingLoss.CrossEntropy, Device = device, DType = "f64",
        Epochs = 1, Batch = 4, LimitTrain = 12, LimitTest = 4, WarmupSteps = 1, LogEvery = 1, ClipGradNorm = 1.0,
        Out = dir, Seed = 11,
    };

    internal static string TempDir() => TrainingRunFiles.TempDir("engine-backbone-gpu-");

    internal static string[][] Rows(string dir, string kind) => TrainingRunFiles.Rows(dir, kind);

    internal static double Number(string text) => TrainingRunFiles.Number(text);

    private static Dictionary<string, double[]> CheckpointTensors(string dir) => TrainingRunFiles.CheckpointTensors(dir);

    /// <summary>|a - b| / (1 + |a|): relative for large values, absolute near zero (where a relative figure means nothing).</summary>
    private static double Difference(double expected, double actual) => Math.Abs(expected - actual) / (1 + Math.Abs(expected));

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData("affnet-nano")]
    [InlineData("dualvit-nano")]
    public void A_Nano_trained_on_the_GPU_equals_the_same_run_on_the_CPU_in_f64(string model) => _ = TrainOnBothDevices(model, output);

    /// <summary>Trains <paramref name="model"/> on the CPU and on CUDA, compares the runs, and returns the CPU's losses.</summary>
    internal static double[] TrainOnBothDevices(string model, ITestOutputHelper output)
    {
        const double Tolerance = 1e-10;
        string cpuDir = TempDir(), gpuDir = TempDir();
        try
        {
            var clock = Stopwatch.StartNew();
            new Trainer(Tiny(model, cpuDir, "cpu"), new Recorder()).Run();
            var cpuSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var observer = new Recorder();
            var gpu = new Trainer(Tiny(model, gpuDir, "cuda"), observer).Run();
            var gpuSeconds = clock.Elapsed.TotalSeconds;
            Assert.Contains(observer.Messages, m => m.StartsWith("device: cuda:0", StringComparison.Ordinal));
            Assert.True(gpu.Completed);
            Assert.Equal(3, gpu.Steps);

            double worst = 0, worstLoss = 0;
            string worstWhere = "";
            void Check(double expected, double actual, string what)
            {
                double d = Difference(expected, actual);
                Assert.True(d <= Tolerance, $"{model} {what}: GPU {actual:R}, CPU {expected:R}");   // false for NaN too
                if (d > worst) (worst, worstWhere) = (d, what);
                if (what.Contains("loss", StringComparison.Ordinal)) worstLoss = Math.Max(worstLoss, d);
            }

            var (cpuTrain, gpuTrain) = (Rows(cpuDir, "train"), Rows(gpuDir, "train"));
            Assert.Equal(3, cpuTrain.Length);
            Assert.Equal(3, gpuTrain.Length);
            for (int i = 0; i < 3; i++)
            {
                Assert.True(double.IsFinite(Number(cpuTrain[i][3])), $"{model}: the CPU's loss of step {i + 1} is {cpuTrain[i][3]}");
                Check(Number(cpuTrain[i][3]), Number(gpuTrain[i][3]), $"loss of step {i + 1}");
            }
            var (cpuEval, gpuEval) = (Rows(cpuDir, "eval").Single(), Rows(gpuDir, "eval").Single());
            Assert.Equal(cpuEval[6], gpuEval[6]);                                  // accuracy: the same count of correct answers
            Check(Number(cpuEval[7]), Number(gpuEval[7]), "test loss");

            var (cpuState, gpuState) = (CheckpointTensors(cpuDir), CheckpointTensors(gpuDir));
            Assert.Equal(cpuState.Keys.Order(), gpuState.Keys.Order());
            Assert.Contains(cpuState.Keys, k => k.StartsWith("optimizer.", StringComparison.Ordinal) && k.EndsWith("exp_avg_sq", StringComparison.Ordinal));
            foreach (var (name, expected) in cpuState)
            {
                Assert.Equal(expected.Length, gpuState[name].Length);
                for (int i = 0; i < expected.Length; i++) Check(expected[i], gpuState[name][i], $"{name}[{i}]");
            }
            // The steps changed the model: a run that trained nothing would agree trivially.
            using (var start = global::Engine.Models.Zoo.ModelZoo.Create(model, new global::Engine.Models.Data.ImageShape(3, 32, 32), 10, new global::Engine.Randomness.Generator(11)))
            {
                double moved = 0;
                foreach (var (name, tensor) in start.StateDict())
                {
                    var before = tensor.ToDType(DType.F64).ToArray<double>();
                    var after = gpuState["model." + name];
                    for (int i = 0; i < before.Length; i++) moved = Math.Max(moved, Math.Abs(before[i] - after[i]));
                }
                Assert.True(moved > 1e-4, $"{model}: the GPU run's parameters moved at most {moved:E2} from their initial values");
            }
            output.WriteLine($"{model}: max difference {worst:E2} ({worstWhere}), of the losses {worstLoss:E2}; {cpuState.Count} tensors; CPU run {cpuSeconds:F1} s, emulated GPU run {gpuSeconds:F1} s");
            return cpuTrain.Select(r => Number(r[3])).ToArray();
        }
        finally
        {
            Directory.Delete(cpuDir, true);
            Directory.Delete(gpuDir, true);
        }
    }

    /// <summary>
    /// A backbone's step waits for the device only when the trainer reads the loss (every N steps and at the epoch's
    /// last): two waits then (the window timer's event and one copy of the loss sums), none in between. A forward or
    /// backward that read a device value on the host (an <c>Item()</c>, a shape taken from data) would add a wait to
    /// every step.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_vheat_nano_step_waits_for_the_device_only_when_the_loss_is_read() => WaitsOnlyWhenTheLossIsRead("vheat-nano");

    /// <summary>The same for the other Nanos (a few seconds each on the emulator).</summary>
    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [Trait("Category", "Slow")]
    [InlineData("affnet-nano")]
    [InlineData("sequencer-nano")]
    [InlineData("dualvit-nano")]
    public void A_Nano_step_waits_for_the_device_only_when_the_loss_is_read(string model) => WaitsOnlyWhenTheLossIsRead(model);

    private static void WaitsOnlyWhenTheLossIsRead(string model)
    {
        string dir = TempDir();
        try
        {
            var waits = new List<(int Batch, long Waits, bool Logged)>();
            var observer = new Recorder(r => waits.Add((r.BatchInEpoch, Driver.HostWaitsOnThisThread, r.Logged)));
            new Trainer(Tiny(model, dir, "cuda") with { LimitTrain = 20, LimitTest = 1, LogEvery = 3 }, observer).Run();
            Assert.Equal(5, waits.Count);
            var perStep = waits.Zip(waits.Skip(1), (before, after) => (after.Batch, Waits: after.Waits - before.Waits, after.Logged)).ToList();
            // Steps 2..5; the loss is read at steps 1, 3 and 5 (the epoch's last). The fused loss's check of the
            // labels is read in the same wait as the loss sums.
            Assert.Equal([(2, 0L, false), (3, 2L, true), (4, 0L, false), (5, 2L, true)], perStep);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>
    /// <c>engine train --model vheat-nano --device cuda</c> as a user runs it: the built command line in its own
    /// process (on the emulator, which the test process hands down), float32 and the default fused loss.
    /// </summary>
    [CliGpuFact]
    public void Train_a_Nano_with_device_cuda_runs_as_a_process()
    {
        string dir = TempDir();
        try
        {
            var (code, stdout, stderr) = EngineProcess.Run("train", "--model", "vheat-nano", "--device", "cuda", "--epochs", "1", "--batch", "8",
                "--limit-train", "16", "--limit-test", "8", "--log-every", "1", "--out", dir);
            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            Assert.Contains("device: cuda:0", stdout);
            Assert.Contains("model: vheat-nano", stdout);
            Assert.Contains("done: 1 epochs, 2 steps", stdout);
            var train = Rows(dir, "train");
            Assert.Equal(2, train.Length);
            Assert.All(train, r => Assert.True(double.IsFinite(Number(r[3])), $"loss {r[3]}"));
            Assert.True(Number(train[0][8]) > 0, "the memory column comes from the device's allocator");
            Assert.True(File.Exists(Path.Combine(dir, Trainer.CheckpointFile)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>
/// The Nanos whose dropout is on (vheat-nano's and sequencer-nano's stochastic depth; heavier variants too) trained on
/// CUDA and on the CPU, as in <see cref="BackboneTrainingGpuTests"/>. Their masks come from the default generator,
/// which is process-wide (as PyTorch's is): another test drawing from it in parallel would change a run's masks, so
/// these run alone. The masks are drawn on each device from the same Philox stream, and the runs agree only if the
/// device's masks are the CPU's bit for bit.
/// </summary>
[Collection(SerialCollection.Name)]
public class BackboneDropoutTrainingGpuTests(ITestOutputHelper output)
{
    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData("vheat-nano")]
    [InlineData("sequencer-nano")]
    public void A_Nano_trained_on_the_GPU_equals_the_same_run_on_the_CPU_in_f64(string model) =>
        _ = BackboneTrainingGpuTests.TrainOnBothDevices(model, output);

    /// <summary>
    /// The zoo's rates drop few paths in three steps of four images; these variants drop many (the Sequencer's MLP
    /// dropout as well), so the masks, drawn on each device from the same Philox stream, surely matter. That they
    /// do is checked too: the dropped variant's second CPU loss differs from the zoo model's, from the same weights and
    /// batches (the second: the Sequencer's head starts at zero, so its first loss is ln 10 whatever was dropped).
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_sequencer_Nano_with_heavy_dropout_trained_on_the_GPU_equals_the_same_run_on_the_CPU_in_f64() =>
        HeavyDropout("sequencer-nano");

    /// <summary>The same for vHeat's Nano (stochastic depth only, the operator the Sequencer case checks too).</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_vheat_Nano_with_heavy_stochastic_depth_trained_on_the_GPU_equals_the_same_run_on_the_CPU_in_f64() =>
        HeavyDropout("vheat-nano");

    private void HeavyDropout(string zooModel)
    {
        string model = zooModel + "-dropped";
        using var registration = global::Engine.Models.Zoo.ModelZoo.Register(model, (shape, classes, g) => zooModel switch
        {
            "sequencer-nano" => new global::Engine.Models.Backbones.Sequencer.Sequencer2d(
                global::Engine.Models.Backbones.Sequencer.SequencerConfig.Nano(classes, shape.Channels) with { DropRate = 0.2, DropPathRate = 0.5 }, generator: g),
            _ => new global::Engine.Models.Backbones.VHeat.VHeat(
                global::Engine.Models.Backbones.VHeat.VHeatConfig.Nano(classes, shape.Height, shape.Width, dropPathRate: 0.5) with { InChans = shape.Channels }, generator: g),
        });
        double dropped = BackboneTrainingGpuTests.TrainOnBothDevices(model, output)[1];

        string dir = BackboneTrainingGpuTests.TempDir();
        try
        {
            new Trainer(BackboneTrainingGpuTests.Tiny(zooModel, dir, "cpu") with { StopAfterSteps = 2 }, new BackboneTrainingGpuTests.Recorder()).Run();   // the same batches
            double zoo = BackboneTrainingGpuTests.Number(BackboneTrainingGpuTests.Rows(dir, "train")[1][3]);
            Assert.True(Math.Abs(zoo - dropped) > 1e-9, $"{model}: the second loss {dropped:R} is the zoo model's ({zoo:R}): nothing was dropped");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
