namespace Engine.Models.Training;

/// <summary>
/// Everything a training run depends on. The defaults are the recipe the backbones are trained with:
/// batch 128; AdamW (lr 2e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.05 on tensors of rank 2 or more);
/// linear warmup from 0.01·lr over 200 steps, then cosine to 1e-5 at the last step; cross-entropy with
/// label smoothing 0.1.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Model name (see <see cref="Zoo.ModelZoo"/>).</summary>
    public string Model { get; init; } = "vheat-nano";

    /// <summary>Dataset name (see <see cref="Data.DatasetCatalog"/>), or a folder with <c>train</c> and <c>val</c> image folders.</summary>
    public string Data { get; init; } = "fashion-mnist-small";

    /// <summary>Where datasets that need files find them.</summary>
    public string? DataDir { get; init; }

    /// <summary>Number of epochs.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Batch size; the last partial batch is kept.</summary>
    public int Batch { get; init; } = 128;

    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 2e-3;

    /// <summary>AdamW weight decay, applied to tensors of rank 2 or more.</summary>
    public double WeightDecay { get; init; } = 0.05;

    /// <summary>Warmup steps.</summary>
    public int WarmupSteps { get; init; } = 200;

    /// <summary>Warmup starts at this fraction of <see cref="Lr"/>.</summary>
    public double WarmupFactor { get; init; } = 0.01;

    /// <summary>Learning rate at the last step.</summary>
    public double MinLr { get; init; } = 1e-5;

    /// <summary>Label smoothing of the cross-entropy.</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Seed of initialisation, shuffling, augmentation and dropout.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// auto, cpu, cuda or cuda:N. <c>cuda</c> trains on the GPU or fails saying why, never on the CPU; <c>auto</c>
    /// takes cuda:0 when a real GPU is there and the model's forward and backward run on it (a probe step on a
    /// copy of the model), else the CPU, saying why (the CUDA emulator, a test tool, is never picked by auto).
    /// </summary>
    public string Device { get; init; } = "auto";

    /// <summary>f32 (the default) or f64: the dtype of the model, the optimizer state and the inputs.</summary>
    public string DType { get; init; } = "f32";

    /// <summary>
    /// Read the training loss and speed back from the device every this many steps (and at the first step and
    /// each epoch's last): one row of metrics per read, holding the mean loss since the previous one. Null: 1
    /// on the CPU (a read costs nothing there, so every step is logged) and 50 on a GPU (a read waits for it).
    /// </summary>
    public int? LogEvery { get; init; }

    /// <summary>
    /// cross-entropy (the fused operator; the default) or cross-entropy-composed (the same loss from core
    /// operations: logsumexp minus the target's logit, label smoothing included), for devices where the fused
    /// operator has no kernel yet.
    /// </summary>
    public string Loss { get; init; } = TrainingLoss.CrossEntropy;

    /// <summary>Clip the gradients' total 2-norm to this value (computed on the device and folded into AdamW's step); null: no clipping.</summary>
    public double? ClipGradNorm { get; init; }

    /// <summary>Run directory: logs, curves, checkpoints.</summary>
    public string Out { get; init; } = "runs/latest";

    /// <summary>Also save a checkpoint every this many steps (besides each epoch's end), so a killed run loses at most that many; null: only at epochs' ends.</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary>
    /// What a failed checkpoint write (a full disk, say) does: <c>stop</c> (the default) ends the run with an error
    /// naming the file; <c>continue</c> says so and trains on, trying again at the next checkpoint. Either way the
    /// previous checkpoint stays as it was.
    /// </summary>
    public string OnSaveError { get; init; } = "stop";

    /// <summary>Stop (with a checkpoint) after this many steps in this process: for tests of resuming.</summary>
    public long? StopAfterSteps { get; init; }

    /// <summary>Use only the first this-many training images (quick runs and tests); all when null.</summary>
    public int? LimitTrain { get; init; }

    /// <summary>Use only the first this-many test images; all when null.</summary>
    public int? LimitTest { get; init; }

    /// <summary>
    /// The side of the square images an image-folder dataset is cropped to (training: random resized crop;
    /// evaluation: resize to size / crop_pct and centre crop, crop_pct from <see cref="Data.Recipes.CropPct"/>).
    /// Null: 224. Not used by the bundled datasets, whose images have a fixed size.
    /// </summary>
    public int? ImageSize { get; init; }

    /// <summary>For image folders: leave out files that cannot be decoded, with a warning each, instead of stopping with an error.</summary>
    public bool SkipUnreadable { get; init; }

    /// <summary>
    /// In data-parallel training, BatchNorm statistics over the global batch of all ranks (SyncBatchNorm) instead of
    /// each rank's own batch (PyTorch DDP's default). No effect in one process.
    /// </summary>
    public bool SyncBatchNorm { get; init; }

    /// <summary>Augment the training images (random crop and flip).</summary>
    public bool Augment { get; init; } = true;
}
