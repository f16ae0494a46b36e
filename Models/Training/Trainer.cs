using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Autograd;
using Engine.Models.Data;
using Engine.Models.Nn;
using Engine.Models.Optim;
using Engine.Models.Serialization;
using Engine.Models.Zoo;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Training;

/// <summary>A training step as it happened, for progress displays.</summary>
public sealed record StepReport(int Epoch, int Epochs, int BatchInEpoch, int BatchesPerEpoch, long Step, long TotalSteps, double Loss, double Lr, double ImagesPerSecond);

/// <summary>The evaluation at the end of an epoch.</summary>
public sealed record EpochReport(int Epoch, int Epochs, double TestAccuracy, double TestLoss, double TrainLoss, double Seconds);

/// <summary>How a run ended.</summary>
public sealed record TrainResult(bool Completed, int EpochsDone, long Steps, double? LastTestAccuracy, string CheckpointPath);

/// <summary>What the trainer tells its caller while it runs.</summary>
public interface ITrainingObserver
{
    /// <summary>A line for the person watching (device, dataset, resume point, ...).</summary>
    void Message(string text);

    /// <summary>After every optimizer step.</summary>
    void Step(StepReport report);

    /// <summary>After every end-of-epoch evaluation.</summary>
    void Epoch(EpochReport report);
}

/// <summary>
/// Runs epochs of training with evaluation, logs, curves and a checkpoint per epoch, and resumes exactly:
/// data order and augmentation are functions of (seed, epoch, index), and the checkpoint holds the model,
/// the optimizer, the schedule, the random generator and the position (epoch, batch, step).
/// </summary>
public sealed class Trainer
{
    /// <summary>File name of the checkpoint in the run directory.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    private readonly TrainOptions _options;
    private readonly ITrainingObserver _observer;

    /// <summary>Creates a trainer for a new run.</summary>
    public Trainer(TrainOptions options, ITrainingObserver observer)
    {
        _options = options;
        _observer = observer;
    }

    /// <summary>Options of the run saved in <paramref name="runDirectory"/>'s checkpoint, to resume it.</summary>
    public static TrainOptions OptionsFromCheckpoint(string runDirectory)
    {
        var path = Path.Combine(runDirectory, CheckpointFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"train --resume: no checkpoint at {path}.", path);
        using var ckpt = Checkpoint.Load(path);
        if (!ckpt.Metadata.TryGetValue("train_options", out var json))
            throw new InvalidDataException($"train --resume: {path} has no 'train_options' metadata; it was not written by the trainer.");
        return JsonSerializer.Deserialize<TrainOptions>(json)! with { Out = runDirectory };
    }

    /// <summary>
    /// The recipe's optimizer for <paramref name="model"/>: AdamW (betas 0.9/0.999, eps 1e-8) at
    /// <see cref="TrainOptions.Lr"/>, with <see cref="TrainOptions.WeightDecay"/> on tensors of rank 2 or more
    /// and none on biases and norm scales.
    /// </summary>
    public static AdamW CreateOptimizer(Module model, TrainOptions o)
    {
        var parameters = model.NamedParameters().Select(p => p.Parameter).ToList();
        return new AdamW(
            [new ParamGroup(parameters.Where(p => p.Rank >= 2), weightDecay: o.WeightDecay),
             new ParamGroup(parameters.Where(p => p.Rank < 2), weightDecay: 0)],
            lr: o.Lr, betas: (0.9, 0.999), eps: 1e-8, weightDecay: o.WeightDecay);
    }

    /// <summary>Trains (or continues, when <paramref name="resume"/>) until the last epoch or until <paramref name="cancel"/> fires.</summary>
    public TrainResult Run(bool resume = false, CancellationToken cancel = default)
    {
        var o = _options;
        ResolveDevice(o.Device);
        var (trainSet, testSet) = DatasetCatalog.Load(o.Data, o.DataDir, _observer.Message);
        if (o.LimitTrain is { } lt) trainSet = new SubsetDataset(trainSet, lt);
        if (o.LimitTest is { } le) testSet = new SubsetDataset(testSet, le);
        var recipe = Recipes.FashionMnist(augment: o.Augment);
        var shape = recipe.InputShape with { Channels = 3 };
        int classes = trainSet.ClassNames.Count;
        var trainLoader = new DataLoader(trainSet, o.Batch, shuffle: true, seed: o.Seed, transform: recipe.Train);
        var testLoader = new DataLoader(testSet, o.Batch, transform: recipe.Eval);
        _observer.Message($"data: {o.Data}, {trainSet.Count} train / {testSet.Count} test images, {classes} classes");

        using var model = ModelZoo.Create(o.Model, shape, classes, new Generator(o.Seed));
        _observer.Message($"model: {o.Model}, {model.ParameterCount():N0} parameters");
        using var optimizer = CreateOptimizer(model, o);
        long totalSteps = (long)o.Epochs * trainLoader.BatchesPerEpoch;
        // The cosine ends at the last step taken (t = totalSteps - 1), where the lr is exactly MinLr.
        var schedule = new WarmupCosine(o.Lr, o.WarmupSteps, o.WarmupFactor * o.Lr, o.MinLr, Math.Max(o.WarmupSteps + 1, totalSteps - 1));

        Directory.CreateDirectory(o.Out);
        string checkpointPath = Path.Combine(o.Out, CheckpointFile);
        int startEpoch = 0, startBatch = 0;
        long step = 0;
        if (resume)
        {
            (startEpoch, startBatch, step) = Restore(checkpointPath, model, optimizer, schedule);
            _observer.Message($"resumed from {checkpointPath}: epoch {startEpoch + 1}, batch {startBatch}, step {step}");
        }

        using var log = new MetricsLog(o.Out, resume ? step : null);
        var clock = Stopwatch.StartNew();
        double elapsedBefore = log.Rows.Count > 0 ? log.Rows[^1].ElapsedSeconds : 0;
        double? lastAccuracy = log.Rows.LastOrDefault(r => r.Kind == "eval")?.TestAccuracy;
        long stepsThisProcess = 0;

        for (int epoch = startEpoch; epoch < o.Epochs; epoch++)
        {
            model.Train();
            var epochClock = Stopwatch.StartNew();
            double lossSum = 0;
            int lossCount = 0;
            foreach (var batch in trainLoader.Epoch(epoch, epoch == startEpoch ? startBatch : 0))
            {
                long t0 = Stopwatch.GetTimestamp();
                double loss, lr;
                using (var scope = Tensor.Scope())
                using (batch)
                {
                    var logits = model.Call(batch.Images);
                    var lossTensor = Functional.CrossEntropy(logits, batch.Labels, labelSmoothing: o.LabelSmoothing);
                    loss = lossTensor.Item();
                    lossTensor.Backward();
                    lr = schedule.Step(optimizer);
                    optimizer.Step();
                    optimizer.ZeroGrad(setToNone: true);
                }
                step++;
                stepsThisProcess++;
                lossSum += loss;
                lossCount++;
                double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                double imagesPerSecond = batch.Size / Math.Max(seconds, 1e-9);
                log.Add(new MetricsRow("train", epoch, step, loss, lr, imagesPerSecond, null, null, CpuStorage.LiveBytes, elapsedBefore + clock.Elapsed.TotalSeconds));
                _observer.Step(new StepReport(epoch, o.Epochs, batch.Index + 1, trainLoader.BatchesPerEpoch, step, totalSteps, loss, lr, imagesPerSecond));

                bool stopHere = cancel.IsCancellationRequested || (o.StopAfterSteps is { } limit && stepsThisProcess >= limit);
                if (stopHere)
                {
                    // The position is saved as it is: after an epoch's last batch the resumed run finds no
                    // batch left in that epoch and goes straight to its evaluation.
                    Save(checkpointPath, model, optimizer, schedule, epoch, batch.Index + 1, step);
                    _observer.Message($"stopped at step {step}; checkpoint saved to {checkpointPath} (resume with --resume {o.Out})");
                    CurvePlot.WriteSvg(Path.Combine(o.Out, "curves.svg"), log.Rows, $"{o.Model} on {o.Data}");
                    return new TrainResult(false, epoch, step, lastAccuracy, checkpointPath);
                }
            }

            var (accuracy, testLoss) = Evaluate(model, testLoader);
            lastAccuracy = accuracy;
            log.Add(new MetricsRow("eval", epoch, step, lossSum / Math.Max(1, lossCount), optimizer.ParamGroups[0].Lr, 0, accuracy, testLoss, CpuStorage.LiveBytes, elapsedBefore + clock.Elapsed.TotalSeconds));
            _observer.Epoch(new EpochReport(epoch, o.Epochs, accuracy, testLoss, lossSum / Math.Max(1, lossCount), epochClock.Elapsed.TotalSeconds));
            Save(checkpointPath, model, optimizer, schedule, epoch + 1, 0, step);
            CurvePlot.WriteSvg(Path.Combine(o.Out, "curves.svg"), log.Rows, $"{o.Model} on {o.Data}");
        }
        return new TrainResult(true, o.Epochs, step, lastAccuracy, checkpointPath);
    }

    private void ResolveDevice(string device)
    {
        switch (device)
        {
            case "cpu":
                _observer.Message("device: cpu");
                break;
            case "auto":
                // The operators' CUDA kernels are not all written yet, so auto stays on the CPU even where CUDA is there.
                _observer.Message(Backends.Devices.CudaAvailable ? "device: cpu (auto: the trainer does not run on CUDA yet)" : "device: cpu (auto: no CUDA device)");
                break;
            case "cuda":
                throw new NotSupportedException(Backends.Devices.CudaAvailable
                    ? "train --device cuda: the trainer does not run on CUDA yet (the operator families have no CUDA kernels)."
                    : "train --device cuda: no CUDA device is available to this build.");
            default:
                throw new ArgumentException($"train: unknown device '{device}'; use auto, cpu or cuda.");
        }
    }

    /// <summary>Top-1 accuracy and mean loss (without label smoothing) on <paramref name="loader"/>, in evaluation mode.</summary>
    public static (double Accuracy, double Loss) Evaluate(Module<Tensor, Tensor> model, DataLoader loader)
    {
        model.Eval();
        long correct = 0, count = 0;
        double lossSum = 0;
        using (Tape.NoGrad())
        {
            foreach (var batch in loader.Epoch(0))
            {
                using var scope = Tensor.Scope();
                using (batch)
                {
                    var logits = model.Call(batch.Images);
                    lossSum += Functional.CrossEntropy(logits, batch.Labels, reduction: "sum").Item();
                    var predicted = logits.ArgMax(1).ToArray<long>();
                    var labels = batch.Labels.ToArray<long>();
                    for (int i = 0; i < labels.Length; i++) if (predicted[i] == labels[i]) correct++;
                    count += labels.Length;
                }
            }
        }
        model.Train();
        return (count == 0 ? 0 : (double)correct / count, count == 0 ? 0 : lossSum / count);
    }

    private void Save(string path, Module model, Optimizer optimizer, LrSchedule schedule, int epoch, int nextBatch, long step)
    {
        var metadata = new Dictionary<string, string>
        {
            ["train_options"] = JsonSerializer.Serialize(_options),
            ["next_batch"] = nextBatch.ToString(CultureInfo.InvariantCulture),
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
        };
        Checkpoint.Save(path, model.StateDict(), optimizer.StateDict(), schedule.StateDict(), GeneratorState.Of(Generator.Default), epoch, metadata);
    }

    private static (int Epoch, int Batch, long Step) Restore(string path, Module model, Optimizer optimizer, LrSchedule schedule)
    {
        using var ckpt = Checkpoint.Load(path);
        model.LoadStateDict(ckpt.Model);
        if (ckpt.Optimizer is { } state) optimizer.LoadStateDict(state);
        if (ckpt.Schedule is { } s) schedule.LoadStateDict(s);
        ckpt.Rng?.RestoreTo(Generator.Default);
        int batch = int.Parse(ckpt.Metadata["next_batch"], CultureInfo.InvariantCulture);
        long step = long.Parse(ckpt.Metadata["step"], CultureInfo.InvariantCulture);
        return ((int)ckpt.Epoch, batch, step);
    }
}
