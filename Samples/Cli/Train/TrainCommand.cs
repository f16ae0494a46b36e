using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Engine.Models.Training;
using Engine.Samples.Cli.Charts;
using Engine.Samples.Cli.CommandLine;
using Spectre.Console;

namespace Engine.Samples.Cli.Train;

/// <summary>
/// <c>engine train</c>: trains a model with the recipe's defaults, showing a progress bar (or plain lines
/// when the output is not a terminal), writing logs, a checkpoint and the curves (drawn here by ScottPlot from
/// the logs: curves.png and curves.svg) per epoch into <c>--out</c>.
/// Ctrl+C or SIGTERM saves a checkpoint at the next step boundary and stops cleanly (exit code 0); <c>--resume DIR</c> continues exactly.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainOptions();
        var model = new Option<string>("--model") { Description = "Model to train.", DefaultValueFactory = _ => defaults.Model };
        var data = new Option<string>("--data") { Description = "fashion-mnist, fashion-mnist-small (embedded), mnist, cifar10, synthetic, or a folder DIR with DIR/train/CLASS/*.jpg and DIR/val/CLASS/*.jpg (docs/data.md).", DefaultValueFactory = _ => defaults.Data };
        var imageSize = new Option<int?>("--image-size") { Description = "For a folder of images: the side of the square crops the model sees (default 224)." };
        imageSize.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } v && v < 8) result.AddError($"--image-size must be at least 8, got {v}.");
        });
        var skipUnreadable = new Option<bool>("--skip-unreadable") { Description = "For a folder of images: leave out files that cannot be decoded (a warning each) instead of stopping." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory with dataset files (IDX, CIFAR-10 binary)." };
        var epochs = new Option<int>("--epochs") { Description = "Number of epochs.", DefaultValueFactory = _ => defaults.Epochs };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => defaults.Batch };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW).", DefaultValueFactory = _ => defaults.Lr };
        var wd = new Option<double>("--weight-decay") { Description = "AdamW weight decay on tensors of rank >= 2.", DefaultValueFactory = _ => defaults.WeightDecay };
        var warmup = new Option<int>("--warmup-steps") { Description = "Linear warmup steps.", DefaultValueFactory = _ => defaults.WarmupSteps };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing of the cross-entropy.", DefaultValueFactory = _ => defaults.LabelSmoothing };
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialisation, shuffling and augmentation.", DefaultValueFactory = _ => defaults.Seed };
        var device = new Option<string>("--device")
        {
            Description = "auto (a GPU when there is one and the model runs on it, else the CPU), cpu, cuda or cuda:N (that GPU, or an error; never the CPU).",
            DefaultValueFactory = _ => defaults.Device,
        };
        device.Validators.Add(result =>
        {
            var text = result.GetValueOrDefault<string>() ?? "";
            if (!Regex.IsMatch(text, "^(auto|cpu|cuda(:[0-9]+)?)$"))
                result.AddError($"--device must be auto, cpu, cuda or cuda:N, not '{text}'.");
        });
        var dtype = new Option<string>("--dtype") { Description = "f32 or f64: the dtype of the model, its optimizer state and the inputs.", DefaultValueFactory = _ => defaults.DType };
        dtype.AcceptOnlyFromAmong("f32", "f64");
        var logEvery = new Option<int?>("--log-every") { Description = "Read the loss back every N steps (default: every step on the CPU, every 50 on a GPU, where a read waits for the device)." };
        var loss = new Option<string>("--loss") { Description = "cross-entropy, or cross-entropy-composed (the same loss from core operations, for devices where the fused operator has no kernel yet).", DefaultValueFactory = _ => defaults.Loss };
        loss.AcceptOnlyFromAmong([.. TrainingLoss.Names]);
        var clip = new Option<double?>("--clip-grad-norm") { Description = "Clip the gradients' total norm to this value (computed on the device, folded into the step)." };
        var output = new Option<string>("--out") { Description = "Run directory for logs, curves and checkpoints.", DefaultValueFactory = _ => defaults.Out };
        var resume = new Option<string?>("--resume") { Description = "Continue the run saved in this directory, exactly." };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: all cores)." };
        var limitTrain = new Option<int?>("--limit-train") { Description = "Use only the first N training images (quick runs)." };
        var limitTest = new Option<int?>("--limit-test") { Description = "Use only the first N test images (quick runs)." };
        var distributed = new Option<string>("--distributed")
        {
            Description = "none (one process), mpi (data-parallel over the ranks mpirun started: mpirun -np N ... train --distributed mpi) or nccl (GPUs; rank and size from RANK, WORLD_SIZE, LOCAL_RANK as torchrun sets them). --batch is per rank.",
            DefaultValueFactory = _ => "none",
        };
        distributed.AcceptOnlyFromAmong("none", "mpi", "nccl");
        var stopAfter = new Option<long?>("--stop-after-steps") { Description = "Stop with a checkpoint after N steps of this process (continue with --resume)." };
        var syncBn = new Option<bool>("--sync-batchnorm") { Description = "With --distributed: BatchNorm statistics over the global batch of all ranks (default: each rank's own)." };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Also save a checkpoint every N steps (default: at each epoch's end only)." };
        var onSaveError = new Option<string>("--on-save-error") { Description = "stop (the default) or continue: what a failed checkpoint write (a full disk) does; the previous checkpoint stays intact.", DefaultValueFactory = _ => defaults.OnSaveError };
        onSaveError.AcceptOnlyFromAmong("stop", "continue");

        var command = new Command("train", "Train a model: progress, evaluation each epoch, logs, curves and checkpoints.")
        { model, data, imageSize, skipUnreadable, dataDir, epochs, batch, lr, wd, warmup, smoothing, seed, device, dtype, logEvery, loss, clip, output, resume, threads, limitTrain, limitTest, distributed, syncBn, stopAfter, checkpointEvery, onSaveError };
        command.SetAction(parse =>
        {
            if (parse.GetValue(threads) is { } t) Engine.Cpu.CpuParallel.ThreadCount = t;
            var resumeDir = parse.GetValue(resume);
            if (resumeDir is not null && !File.Exists(Path.Combine(resumeDir, Trainer.CheckpointFile)))
                throw new UsageException($"train --resume {resumeDir}: no {Trainer.CheckpointFile} there; give the --out directory of a run that saved one.");
            var options = resumeDir is not null
                ? ReadResumeOptions(resumeDir) with { StopAfterSteps = parse.GetValue(stopAfter) }
                : new TrainOptions
                {
                    Model = parse.GetValue(model)!, Data = parse.GetValue(data)!, DataDir = parse.GetValue(dataDir),
                    Epochs = parse.GetValue(epochs), Batch = parse.GetValue(batch), Lr = parse.GetValue(lr),
                    WeightDecay = parse.GetValue(wd), WarmupSteps = parse.GetValue(warmup), LabelSmoothing = parse.GetValue(smoothing),
                    Seed = parse.GetValue(seed), Device = parse.GetValue(device)!, DType = parse.GetValue(dtype)!,
                    LogEvery = parse.GetValue(logEvery), Loss = parse.GetValue(loss)!, ClipGradNorm = parse.GetValue(clip), Out = parse.GetValue(output)!,
                    LimitTrain = parse.GetValue(limitTrain), LimitTest = parse.GetValue(limitTest),
                    ImageSize = parse.GetValue(imageSize), SkipUnreadable = parse.GetValue(skipUnreadable),
                    SyncBatchNorm = parse.GetValue(syncBn), StopAfterSteps = parse.GetValue(stopAfter),
                    CheckpointEvery = parse.GetValue(checkpointEvery), OnSaveError = parse.GetValue(onSaveError)!,
                };
            CheckBeforeWork(options);
            return Run(options, resumeDir is not null, parse.GetValue(distributed)!);
        });
        return command;
    }

    /// <summary>The options saved in a run's checkpoint; a file that is not one is the user's mistake, said in one line.</summary>
    private static TrainOptions ReadResumeOptions(string runDirectory)
    {
        try { return Trainer.OptionsFromCheckpoint(runDirectory); }
        catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException)
        {
            throw new UsageException($"train --resume {runDirectory}: {e.Message}");
        }
    }

    /// <summary>
    /// Refuses, before any data is loaded, what cannot run: the option checks of <see cref="TrainOptionsCheck"/>, and
    /// a CUDA device asked for on a machine without one.
    /// </summary>
    private static void CheckBeforeWork(TrainOptions options)
    {
        var problems = TrainOptionsCheck.Problems(options).ToList();
        if (options.Device.StartsWith("cuda", StringComparison.Ordinal) && !Engine.Backends.Devices.CudaAvailable)
            problems.Add($"train --device {options.Device}: no CUDA device is available on this machine ({Engine.Cuda.Cuda.UnavailableReason ?? "no driver"}); accepted here: auto or cpu.");
        if (problems.Count > 0) throw new UsageException(string.Join(Environment.NewLine, problems));
    }

    private static int Run(TrainOptions options, bool resume, string distributed)
    {
        using var group = Engine.Distributed.ProcessGroups.Create(distributed);
        try { return Run(options, resume, group); }
        catch (Engine.Distributed.DistributedException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            group.Abort(1);
            return 1;
        }
    }

    private static int Run(TrainOptions options, bool resume, Engine.Distributed.ProcessGroup group)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // The first Ctrl+C asks for a clean stop (checkpoint, then exit); a second one is not intercepted.
            if (cancel.IsCancellationRequested) return;
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (a scheduler or `kill` ending the job) stops as the first Ctrl+C does: a checkpoint at the next
        // step boundary, then exit code 0. A second SIGTERM is left to the runtime, which ends the process.
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            if (cancel.IsCancellationRequested) return;
            context.Cancel = true;
            cancel.Cancel();
        });
        try
        {
            string title = $"{options.Model} on {(Directory.Exists(options.Data) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Data))) : options.Data)}";
            // Rank 0 reports and draws the curves; the other ranks train quietly.
            var trainer = new Trainer(options, group.IsMain ? CreateObserver(() => DrawCurves(options.Out, title)) : new QuietObserver(), group);
            var result = trainer.Run(resume, cancel.Token);
            if (!group.IsMain) return 0;
            DrawCurves(options.Out, title);
            string acc = result.LastTestAccuracy is { } a ? (100 * a).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
            Console.WriteLine(result.Completed
                ? $"done: {result.EpochsDone} epochs, {result.Steps} steps, test top-1 {acc}; logs, curves.png, curves.svg and {Path.GetFileName(result.CheckpointPath)} in {options.Out}"
                : $"interrupted after {result.Steps} steps; test top-1 so far {acc}");
            return 0;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FileNotFoundException or DirectoryNotFoundException)
        {
            // Bad input (a missing folder, an unreadable image, an unknown dataset): the message says which; no stack
            // trace. Other I/O failures (a full disk while saving) are not the user's mistake: they reach CliRunner (exit 1).
            Console.Error.WriteLine(e.Message.StartsWith("train", StringComparison.Ordinal) ? e.Message : $"train: {e.Message}");
            return 2;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Draws curves.png and curves.svg from the run's metrics; a chart that fails is reported and training goes on.</summary>
    private static void DrawCurves(string runDirectory, string title)
    {
        try { TrainingCharts.Write(runDirectory, title); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Any failure of the drawing (a full disk, Skia's native library missing: DllNotFoundException inside a
            // TypeInitializationException) must not stop the training, whose logs and checkpoint are already written.
            Console.Error.WriteLine($"train: could not draw the curves in {runDirectory}: {e.GetType().Name}: {e.GetBaseException().Message}");
        }
    }

    private static ITrainingObserver CreateObserver(Action afterEpoch) =>
        Console.IsOutputRedirected ? new PlainObserver(afterEpoch) : new BarObserver(afterEpoch);

    /// <summary>What ranks other than 0 show: nothing.</summary>
    private sealed class QuietObserver : ITrainingObserver
    {
        public void Message(string text) { }
        public void Step(StepReport report) { }
        public void Epoch(EpochReport report) { }
    }

    /// <summary>Plain lines: a step whose loss was read back, at least 20 steps after the last line, and every epoch. Used when the output is piped or logged.</summary>
    private sealed class PlainObserver(Action afterEpoch) : ITrainingObserver
    {
        private long _printed;

        public void Message(string text) => Console.WriteLine(text);

        public void Step(StepReport r)
        {
            if (!r.Logged || (r.Step - _printed < 20 && r.BatchInEpoch != r.BatchesPerEpoch)) return;
            _printed = r.Step;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch + 1}/{r.Epochs} step {r.BatchInEpoch}/{r.BatchesPerEpoch} loss {r.Loss:0.0000} lr {r.Lr:0.00e+00} {r.ImagesPerSecond:0} img/s"));
        }

        public void Epoch(EpochReport r)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch + 1}/{r.Epochs}: train loss {r.TrainLoss:0.0000}, test loss {r.TestLoss:0.0000}, test top-1 {100 * r.TestAccuracy:0.00}% ({r.Seconds:0.0} s)"));
            afterEpoch();
        }
    }

    /// <summary>A Spectre.Console progress bar per epoch with loss, lr, img/s and ETA; epoch results as lines above it.</summary>
    private sealed class BarObserver(Action afterEpoch) : ITrainingObserver
    {
        private readonly BlockingProgress _progress = new();

        public void Message(string text) => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");

        public void Step(StepReport r) => _progress.Update(r);

        public void Epoch(EpochReport r)
        {
            _progress.Finish();
            AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch + 1}/{r.Epochs}: train loss {r.TrainLoss:0.0000}, test loss {r.TestLoss:0.0000}, [bold]test top-1 {100 * r.TestAccuracy:0.00}%[/] ({r.Seconds:0.0} s)"));
            afterEpoch();
        }
    }

    /// <summary>
    /// Drives a Spectre live progress display from the training thread: the display runs on its own thread
    /// and reads the latest report, so the trainer never waits for the terminal.
    /// </summary>
    private sealed class BlockingProgress
    {
        private StepReport? _latest;
        private Task? _display;
        private volatile bool _done;

        public void Update(StepReport r)
        {
            _latest = r;
            if (_display is null)
            {
                _done = false;
                _display = Task.Run(Show);
            }
        }

        public void Finish()
        {
            _done = true;
            _display?.Wait();
            _display = null;
        }

        private void Show()
        {
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var first = _latest!;
                    var task = ctx.AddTask($"epoch {first.Epoch + 1}/{first.Epochs}", maxValue: first.BatchesPerEpoch);
                    while (!_done)
                    {
                        var r = _latest!;
                        task.Value = r.BatchInEpoch;
                        task.Description = string.Create(CultureInfo.InvariantCulture,
                            $"epoch {r.Epoch + 1}/{r.Epochs} step {r.BatchInEpoch}/{r.BatchesPerEpoch} loss {r.Loss:0.0000} lr {r.Lr:0.0e+00} {r.ImagesPerSecond:0} img/s");
                        Thread.Sleep(100);
                    }
                    task.Value = task.MaxValue;
                });
        }
    }
}
