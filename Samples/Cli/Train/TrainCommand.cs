using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Engine.Models.Training;
using Engine.Samples.Cli.CommandLine;
using Spectre.Console;

namespace Engine.Samples.Cli.Train;

/// <summary>
/// <c>engine train</c>: trains a model with the recipe's defaults, showing a progress bar (or plain lines
/// when the output is not a terminal), writing logs, curves and a checkpoint per epoch into <c>--out</c>.
/// Ctrl+C or SIGTERM saves a checkpoint at the next step boundary and stops cleanly (exit code 0); <c>--resume DIR</c> continues exactly.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainOptions();
        var model = new Option<string>("--model") { Description = "Model to train.", DefaultValueFactory = _ => defaults.Model };
        var data = new Option<string>("--data") { Description = "fashion-mnist, fashion-mnist-small (embedded), mnist, cifar10 or synthetic.", DefaultValueFactory = _ => defaults.Data };
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
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Also save a checkpoint every N steps (default: at each epoch's end only)." };
        var onSaveError = new Option<string>("--on-save-error") { Description = "stop (the default) or continue: what a failed checkpoint write (a full disk) does; the previous checkpoint stays intact.", DefaultValueFactory = _ => defaults.OnSaveError };
        onSaveError.AcceptOnlyFromAmong("stop", "continue");

        var command = new Command("train", "Train a model: progress, evaluation each epoch, logs, curves and checkpoints.")
        { model, data, dataDir, epochs, batch, lr, wd, warmup, smoothing, seed, device, dtype, logEvery, loss, clip, output, resume, threads, limitTrain, limitTest, checkpointEvery, onSaveError };
        command.SetAction(parse =>
        {
            if (parse.GetValue(threads) is { } t) Engine.Cpu.CpuParallel.ThreadCount = t;
            var resumeDir = parse.GetValue(resume);
            if (resumeDir is not null && !File.Exists(Path.Combine(resumeDir, Trainer.CheckpointFile)))
                throw new UsageException($"train --resume {resumeDir}: no {Trainer.CheckpointFile} there; give the --out directory of a run that saved one.");
            var options = resumeDir is not null
                ? ReadResumeOptions(resumeDir)
                : new TrainOptions
                {
                    Model = parse.GetValue(model)!, Data = parse.GetValue(data)!, DataDir = parse.GetValue(dataDir),
                    Epochs = parse.GetValue(epochs), Batch = parse.GetValue(batch), Lr = parse.GetValue(lr),
                    WeightDecay = parse.GetValue(wd), WarmupSteps = parse.GetValue(warmup), LabelSmoothing = parse.GetValue(smoothing),
                    Seed = parse.GetValue(seed), Device = parse.GetValue(device)!, DType = parse.GetValue(dtype)!,
                    LogEvery = parse.GetValue(logEvery), Loss = parse.GetValue(loss)!, ClipGradNorm = parse.GetValue(clip), Out = parse.GetValue(output)!,
                    LimitTrain = parse.GetValue(limitTrain), LimitTest = parse.GetValue(limitTest),
                    CheckpointEvery = parse.GetValue(checkpointEvery), OnSaveError = parse.GetValue(onSaveError)!,
                };
            CheckBeforeWork(options);
            return Run(options, resumeDir is not null);
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

    private static int Run(TrainOptions options, bool resume)
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
            var trainer = new Trainer(options, CreateObserver());
            var result = trainer.Run(resume, cancel.Token);
            string acc = result.LastTestAccuracy is { } a ? (100 * a).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
            Console.WriteLine(result.Completed
                ? $"done: {result.EpochsDone} epochs, {result.Steps} steps, test top-1 {acc}; logs, curves.svg and {Path.GetFileName(result.CheckpointPath)} in {options.Out}"
                : $"interrupted after {result.Steps} steps; test top-1 so far {acc}");
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static ITrainingObserver CreateObserver() =>
        Console.IsOutputRedirected ? new PlainObserver() : new BarObserver();

    /// <summary>Plain lines: a step whose loss was read back, at least 20 steps after the last line, and every epoch. Used when the output is piped or logged.</summary>
    private sealed class PlainObserver : ITrainingObserver
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

        public void Epoch(EpochReport r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {r.Epoch + 1}/{r.Epochs}: train loss {r.TrainLoss:0.0000}, test loss {r.TestLoss:0.0000}, test top-1 {100 * r.TestAccuracy:0.00}% ({r.Seconds:0.0} s)"));
    }

    /// <summary>A Spectre.Console progress bar per epoch with loss, lr, img/s and ETA; epoch results as lines above it.</summary>
    private sealed class BarObserver : ITrainingObserver
    {
        private readonly BlockingProgress _progress = new();

        public void Message(string text) => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");

        public void Step(StepReport r) => _progress.Update(r);

        public void Epoch(EpochReport r)
        {
            _progress.Finish();
            AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch + 1}/{r.Epochs}: train loss {r.TrainLoss:0.0000}, test loss {r.TestLoss:0.0000}, [bold]test top-1 {100 * r.TestAccuracy:0.00}%[/] ({r.Seconds:0.0} s)"));
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
