using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Autograd;
using Engine.Backends;
using Engine.Distributed;
using Engine.Models.Data;
using Engine.Models.Distributed;
using Engine.Models.Nn;
using Engine.Models.Optim;
using Engine.Models.Serialization;
using Engine.Models.Zoo;
using Engine.Randomness;

namespace Engine.Models.Training;

/// <summary>
/// A training step as it happened, for progress displays. <see cref="Loss"/> and <see cref="ImagesPerSecond"/> are
/// those of the last window read back from the device (every <see cref="TrainOptions.LogEvery"/> steps; NaN and 0
/// before the first read); <see cref="Logged"/> says whether this step made that read (and a row of metrics).
/// </summary>
public sealed record StepReport(int Epoch, int Epochs, int BatchInEpoch, int BatchesPerEpoch, long Step, long TotalSteps, double Loss, double Lr, double ImagesPerSecond, bool Logged = false);

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
/// Runs epochs of training with evaluation, logs (metrics.csv, metrics.jsonl) and a checkpoint per epoch, and resumes exactly
/// (the command line draws the curves from the logs):
/// data order and augmentation are functions of (seed, epoch, index), and the checkpoint holds the model,
/// the optimizer, the schedule, the random generator and the position (epoch, batch, step).
/// </summary>
public sealed class Trainer
{
    /// <summary>File name of the checkpoint in the run directory.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    private readonly TrainOptions _options;
    private readonly ITrainingObserver _observer;
    private readonly ProcessGroup? _group;

    /// <summary>
    /// Creates a trainer for a new run. With a <paramref name="group"/> of several ranks it trains data-parallel
    /// (<see cref="DistributedDataParallel"/>): each rank takes its <see cref="DistributedSampler"/> shard of each
    /// epoch, batches of <see cref="TrainOptions.Batch"/> per rank (a global batch of Batch × world size),
    /// gradients averaged over the ranks; evaluation splits the test set and sums the counts of all ranks; rank 0
    /// alone writes logs, curves and checkpoints (every rank reads the checkpoint to resume, so the run directory
    /// must be shared between machines). Without a group, or with a world of one, it is the single-process trainer.
    /// </summary>
    public Trainer(TrainOptions options, ITrainingObserver observer, ProcessGroup? group = null)
    {
        _options = options;
        _observer = observer;
        _group = group is { WorldSize: > 1 } ? group : null;
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

    /// <summary>
    /// Trains (or continues, when <paramref name="resume"/>) until the last epoch or until <paramref name="cancel"/>
    /// fires. On a GPU the model, the optimizer state and the batches live on the device, the loss is summed
    /// there, and the host reads it back only every <see cref="TrainOptions.LogEvery"/> steps and at each
    /// epoch's end; evaluation counts its correct answers on the device too.
    /// </summary>
    public TrainResult Run(bool resume = false, CancellationToken cancel = default)
    {
        var o = _options;
        TrainOptionsCheck.ThrowIfInvalid(o);
        var dtype = ParseDType(o.DType);
        bool folder = DatasetCatalog.IsImageFolder(o.Data);
        var (trainSet, testSet) = folder
            ? DatasetCatalog.LoadImageFolders(o.Data, o.SkipUnreadable ? Data.Images.UnreadableImages.Skip : Data.Images.UnreadableImages.Error, _observer.Message)
            : DatasetCatalog.Load(o.Data, o.DataDir, _observer.Message);
        if (o.LimitTrain is { } lt) trainSet = new SubsetDataset(trainSet, lt);
        if (o.LimitTest is { } le) testSet = new SubsetDataset(testSet, le);
        var recipe = folder ? Recipes.ImageNet(o.ImageSize ?? 224, Recipes.CropPct(o.Model), o.Augment) : Recipes.FashionMnist(augment: o.Augment);
        var shape = recipe.InputShape with { Channels = 3 };
        int classes = trainSet.ClassNames.Count;
        var group = _group;
        bool isMain = group is null || group.IsMain;
        var trainLoader = group is null
            ? new DataLoader(trainSet, o.Batch, shuffle: true, seed: o.Seed, transform: recipe.Train)
            : new DataLoader(trainSet, o.Batch, seed: o.Seed, transform: recipe.Train,
                sampler: new DistributedSampler(trainSet.Count, group.WorldSize, group.Rank, shuffle: true, seed: o.Seed));
        var testLoader = group is null
            ? new DataLoader(testSet, o.Batch, transform: recipe.Eval)
            : new DataLoader(testSet, o.Batch, transform: recipe.Eval, sampler: new EvaluationShard(testSet.Count, group.WorldSize, group.Rank));
        _observer.Message($"data: {o.Data}, {trainSet.Count} train / {testSet.Count} test images, {classes} classes" +
            (folder ? $", {shape.Height}x{shape.Width} crops (evaluation: resize to {Recipes.EvalResize(shape.Height, Recipes.CropPct(o.Model))}, crop_pct {Recipes.CropPct(o.Model):0.###})" : ""));
        if (group is not null)
            _observer.Message($"distributed: {group.Backend}, {group.WorldSize} ranks, batch {o.Batch} per rank ({o.Batch * group.WorldSize} global), {trainLoader.BatchesPerEpoch} steps per epoch");

        // Data-parallel ranks on one machine take one GPU each: plain "cuda" means the rank's local GPU.
        string deviceName = group is not null && o.Device.Trim() == "cuda" ? $"cuda:{group.LocalRank}" : o.Device;
        var (device, deviceLine) = TrainingDevice.Resolve(deviceName, TrainingDevice.Facts.Current, d => Probe(d, shape, classes, dtype));
        _observer.Message(deviceLine);
        var init = new Generator(o.Seed);
        using var model = ModelZoo.Create(o.Model, shape, classes, init);
        // As torch.manual_seed(seed) before building the model: dropout's masks (drawn from the default generator)
        // continue the stream the initialisation drew from, so a run depends on its seed alone, never on what the
        // process drew before it. A resumed run restores the default generator from its checkpoint instead.
        if (!resume) GeneratorState.Of(init).RestoreTo(Generator.Default);
        if (dtype != DType.F32) model.ToDType(dtype);
        model.ToDevice(device);
        if (group is not null && o.SyncBatchNorm) SyncBatchNorm.ConvertSyncBatchNorm(model, group);
        _observer.Message($"model: {o.Model}, {model.ParameterCount():N0} parameters, {dtype.TorchName()}{(group is not null && o.SyncBatchNorm ? ", SyncBatchNorm" : "")}");
        using var optimizer = CreateOptimizer(model, o);
        using var loss = new TrainingLoss(o.Loss, classes, device);
        long totalSteps = (long)o.Epochs * trainLoader.BatchesPerEpoch;
        // The cosine ends at the last step taken (t = totalSteps - 1), where the lr is exactly MinLr.
        var schedule = new WarmupCosine(o.Lr, o.WarmupSteps, o.WarmupFactor * o.Lr, o.MinLr, Math.Max(o.WarmupSteps + 1, totalSteps - 1));
        int logEvery = o.LogEvery ?? (device.Type == DeviceType.Cpu ? 1 : 50);
        if (logEvery < 1) throw new ArgumentException($"train: --log-every must be at least 1, got {logEvery}.");
        var parameters = model.Parameters().ToList();

        Directory.CreateDirectory(o.Out);
        string checkpointPath = Path.Combine(o.Out, CheckpointFile);
        RemoveUnfinishedCheckpoints(o.Out);
        int startEpoch = 0, startBatch = 0;
        long step = 0;
        RunningLoss.Saved? sums = null;
        if (resume)
        {
            int savedWorld;
            (startEpoch, startBatch, step, sums, savedWorld) = Restore(checkpointPath, model, optimizer, schedule);
            int world = group?.WorldSize ?? 1;
            if (savedWorld != world && startBatch > 0)
            {
                // The same number of examples seen in the epoch, in batches of the new world's global size.
                int converted = (int)Math.Min(trainLoader.BatchesPerEpoch, (long)startBatch * savedWorld / world);
                _observer.Message($"the run was saved by {savedWorld} ranks and resumes on {world}: batch {startBatch} of the epoch becomes batch {converted}");
                (startBatch, sums) = (converted, null);
            }
            _observer.Message($"resumed from {checkpointPath}: epoch {startEpoch + 1}, batch {startBatch}, step {step}");
        }
        // Every rank starts from rank 0's parameters and buffers; gradients are averaged in buckets during the backward.
        using var ddp = group is null ? null : new DistributedDataParallel(model, group);

        using var log = isMain ? new MetricsLog(o.Out, resume ? step : null) : null;
        using var running = new RunningLoss(device, sums);
        if (device.Type == DeviceType.Cuda) Devices.ResetPeakMemory(device);
        var clock = Stopwatch.StartNew();
        double elapsedBefore = log is { Rows.Count: > 0 } ? log.Rows[^1].ElapsedSeconds : 0;
        double? lastAccuracy = log?.Rows.LastOrDefault(r => r.Kind == "eval")?.TestAccuracy;
        var last = new RunningLoss.Reading(double.NaN, double.NaN, 0);
        long stepsThisProcess = 0;

        for (int epoch = startEpoch; epoch < o.Epochs; epoch++)
        {
            model.Train();
            var epochClock = Stopwatch.StartNew();
            int first = epoch == startEpoch ? startBatch : 0;
            running.StartEpoch(resumedMidway: first > 0);
            bool readThisEpoch = false;
            foreach (var batch in trainLoader.Epoch(epoch, first, device))
            {
                double lr;
                using (var scope = Tensor.Scope())
                using (batch)
                {
                    var images = dtype == batch.Images.DType ? batch.Images : batch.Images.ToDType(dtype);
                    var lossTensor = loss.Compute(ddp is null ? model.Call(images) : ddp.Call(images), batch.Labels, o.LabelSmoothing);
                    lossTensor.Backward();
                    ddp?.FinishGradientSync();
                    TrainingFaults.At("step");
                    lr = schedule.Step(optimizer);
                    if (o.ClipGradNorm is { } maxNorm)
                    {
                        using var clip = GradientClipping.ComputeScale(parameters, maxNorm);
                        optimizer.Step(clip.Scale);
                    }
                    else optimizer.Step();
                    optimizer.ZeroGrad(setToNone: true);
                    running.Add(lossTensor, batch.Size);
                }
                step++;
                stepsThisProcess++;
                bool read = step == 1 || step % logEvery == 0 || batch.Index + 1 == trainLoader.BatchesPerEpoch;
                if (read)
                {
                    last = running.Read();
                    readThisEpoch = true;
                    log?.Add(Row("train", epoch, step, last.WindowMean, lr, last.ImagesPerSecond, null, null, device, elapsedBefore + clock.Elapsed.TotalSeconds));
                    TrainingFaults.At("log");
                }
                _observer.Step(new StepReport(epoch, o.Epochs, batch.Index + 1, trainLoader.BatchesPerEpoch, step, totalSteps, last.WindowMean, lr, last.ImagesPerSecond, read));

                bool stopHere = cancel.IsCancellationRequested || (o.StopAfterSteps is { } limit && stepsThisProcess >= limit);
                // Ranks stop together: one that stopped alone would leave the others waiting in the next all-reduce.
                if (group is not null) stopHere = AnyRank(group, stopHere);
                if (stopHere)
                {
                    // The position is saved as it is: after an epoch's last batch the resumed run finds no
                    // batch left in that epoch and goes straight to its evaluation. A stop asked for must leave a
                    // checkpoint, so a failed write is an error here whatever OnSaveError says.
                    if (isMain)
                    {
                        Save(checkpointPath, model, optimizer, schedule, epoch, batch.Index + 1, step, running.Snapshot(), mayContinue: false);
                        _observer.Message($"stopped at step {step}; checkpoint saved to {checkpointPath} (resume with --resume {o.Out})");
                    }
                    group?.Barrier();
                    return new TrainResult(false, epoch, step, lastAccuracy, checkpointPath);
                }
                if (isMain && o.CheckpointEvery is { } every && step % every == 0)
                    Save(checkpointPath, model, optimizer, schedule, epoch, batch.Index + 1, step, running.Snapshot());
            }

            // A run resumed right after an epoch's last batch took no step in it: its sums came with the checkpoint.
            if (!readThisEpoch) last = running.Read();
            var (accuracy, testLoss) = Evaluate(model, testLoader, o.Loss, group);
            lastAccuracy = accuracy;
            double trainLoss = last.EpochMean;
            log?.Add(Row("eval", epoch, step, trainLoss, optimizer.ParamGroups[0].Lr, 0, accuracy, testLoss, device, elapsedBefore + clock.Elapsed.TotalSeconds));
            _observer.Epoch(new EpochReport(epoch, o.Epochs, accuracy, testLoss, trainLoss, epochClock.Elapsed.TotalSeconds));
            TrainingFaults.At("log");
            if (isMain) Save(checkpointPath, model, optimizer, schedule, epoch + 1, 0, step, running.Snapshot());
        }
        // No rank leaves (and finalises MPI) before rank 0 has written its last checkpoint.
        group?.Barrier();
        return new TrainResult(true, o.Epochs, step, lastAccuracy, checkpointPath);
    }

    private static DType ParseDType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "f32" or "float32" => DType.F32,
        "f64" or "float64" => DType.F64,
        _ => throw new ArgumentException($"train: unknown dtype '{text}'; use f32 or f64."),
    };

    /// <summary>A metrics row with the device's memory: allocated, reserved (allocated + the allocator's cache) and the peak.</summary>
    private static MetricsRow Row(string kind, int epoch, long step, double loss, double lr, double imagesPerSecond, double? accuracy, double? testLoss, Device device, double elapsed)
    {
        var memory = Devices.Memory(device);
        return new MetricsRow(kind, epoch, step, loss, lr, imagesPerSecond, accuracy, testLoss, memory.Allocated, elapsed, memory.Reserved, memory.Peak);
    }

    /// <summary>
    /// For <c>auto</c>: a forward and backward of the loss, on a copy of the model on <paramref name="device"/>
    /// with two blank images; null when it ran, else why not (the operator without a kernel). The default
    /// generator is put back, so the probe changes nothing the run depends on.
    /// </summary>
    internal string? Probe(Device device, ImageShape shape, int classes, DType dtype)
    {
        var rng = GeneratorState.Of(Generator.Default);
        try
        {
            using var scope = Tensor.Scope();
            using var copy = ModelZoo.Create(_options.Model, shape, classes, new Generator(_options.Seed));
            copy.ToDType(dtype).ToDevice(device);
            using var loss = new TrainingLoss(_options.Loss, classes, device);
            var images = Tensor.Zeros([2, shape.Channels, shape.Height, shape.Width], dtype, device);
            loss.Compute(copy.Call(images), Tensor.Zeros([2], DType.I64, device), _options.LabelSmoothing).Backward();
            return null;
        }
        catch (NotSupportedException e) { return e.Message; }
        finally { rng.RestoreTo(Generator.Default); }
    }

    /// <summary>
    /// Top-1 accuracy and mean loss (without label smoothing) on <paramref name="loader"/>, in evaluation mode, on
    /// the model's device: the correct answers and the loss are summed there and read once at the end.
    /// <paramref name="loss"/> names a <see cref="TrainingLoss"/>.
    /// </summary>
    /// <remarks>With a <paramref name="group"/>, each rank evaluates its loader's shard and the correct answers, loss sums and counts of all ranks are summed.</remarks>
    public static (double Accuracy, double Loss) Evaluate(Module<Tensor, Tensor> model, DataLoader loader, string loss = TrainingLoss.CrossEntropy, ProcessGroup? group = null)
    {
        var first = model.Parameters().First();
        var (device, dtype) = (first.Device, first.DType);
        model.Eval();
        long count = 0;
        using var criterion = new TrainingLoss(loss, loader.Dataset.ClassNames.Count, device);
        using var correct = Tensor.Zeros([], DType.F64, device).DetachFromScope();
        using var lossSum = Tensor.Zeros([], DType.F64, device).DetachFromScope();
        using (Tape.NoGrad())
        {
            foreach (var batch in loader.Epoch(0, 0, device))
            {
                using var scope = Tensor.Scope();
                using (batch)
                {
                    var images = dtype == batch.Images.DType ? batch.Images : batch.Images.ToDType(dtype);
                    var logits = model.Call(images);
                    lossSum.AddInPlace(criterion.Compute(logits, batch.Labels, sum: true).ToDType(DType.F64));
                    correct.AddInPlace(logits.ArgMax(1).Eq(batch.Labels).ToDType(DType.F64).Sum());
                    count += batch.Size;
                    TrainingFaults.At("eval");
                }
            }
        }
        model.Train();
        if (group is not null)
        {
            using var totals = Tensor.FromArray(new[] { correct.Item(), lossSum.Item(), count });
            group.AllReduce(totals);
            var t = totals.ToArray<double>();
            return (t[2] == 0 ? 0 : t[0] / t[2], t[2] == 0 ? 0 : t[1] / t[2]);
        }
        return (count == 0 ? 0 : correct.Item() / count, count == 0 ? 0 : lossSum.Item() / count);
    }

    /// <summary>
    /// Writes the checkpoint atomically (the previous one stays whole until the new one is complete). A failed
    /// write (a full disk) is an <see cref="IOException"/> naming the file, or, when <see cref="TrainOptions.OnSaveError"/>
    /// is <c>continue</c> and <paramref name="mayContinue"/>, a message and the run goes on.
    /// </summary>
    private void Save(string path, Module model, Optimizer optimizer, LrSchedule schedule, int epoch, int nextBatch, long step, RunningLoss.Saved sums, bool mayContinue = true)
    {
        var metadata = new Dictionary<string, string>(sums.ToMetadata())
        {
            ["train_options"] = JsonSerializer.Serialize(_options),
            ["next_batch"] = nextBatch.ToString(CultureInfo.InvariantCulture),
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            ["world_size"] = (_group?.WorldSize ?? 1).ToString(CultureInfo.InvariantCulture),
        };
        var checkpoint = new Checkpoint
        {
            Model = model.StateDict(), Optimizer = optimizer.StateDict(), Schedule = schedule.StateDict(),
            Rng = GeneratorState.Of(Generator.Default), Epoch = epoch, Metadata = metadata,
        };
        try
        {
            AtomicFile.Write(path, stream => Checkpoint.Save(TrainingFaults.CheckpointStream(stream), checkpoint));
        }
        catch (IOException e)
        {
            string what = $"train: could not write the checkpoint {path} at step {step} ({e.Message}); the previous checkpoint there is unchanged";
            if (!mayContinue || _options.OnSaveError != "continue") throw new IOException(what + ".", e);
            _observer.Message(what + "; training goes on (--on-save-error continue).");
        }
    }

    /// <summary>Temporary files of checkpoints whose writing was cut short (the process was killed): never read, so removed.</summary>
    private static void RemoveUnfinishedCheckpoints(string runDirectory)
    {
        foreach (var temp in Directory.EnumerateFiles(runDirectory, CheckpointFile + ".*" + AtomicFile.TempSuffix))
        {
            try { File.Delete(temp); }
            catch (IOException) { }                     // another process's write in progress: not ours to remove
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>True on every rank when <paramref name="flag"/> is true on any.</summary>
    private static bool AnyRank(ProcessGroup group, bool flag)
    {
        using var t = Tensor.FromArray(new[] { flag });
        group.AllReduce(t);
        return t.ToArray<bool>()[0];
    }

    private static (int Epoch, int Batch, long Step, RunningLoss.Saved? Sums, int WorldSize) Restore(string path, Module model, Optimizer optimizer, LrSchedule schedule)
    {
        using var ckpt = Checkpoint.Load(path);
        model.LoadStateDict(ckpt.Model);
        if (ckpt.Optimizer is { } state) optimizer.LoadStateDict(state);
        if (ckpt.Schedule is { } s) schedule.LoadStateDict(s);
        ckpt.Rng?.RestoreTo(Generator.Default);
        int batch = int.Parse(ckpt.Metadata["next_batch"], CultureInfo.InvariantCulture);
        long step = long.Parse(ckpt.Metadata["step"], CultureInfo.InvariantCulture);
        int world = ckpt.Metadata.TryGetValue("world_size", out var w) ? int.Parse(w, CultureInfo.InvariantCulture) : 1;
        return ((int)ckpt.Epoch, batch, step, RunningLoss.Saved.FromMetadata(ckpt.Metadata), world);
    }
}
