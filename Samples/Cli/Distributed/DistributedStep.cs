using System.CommandLine;
using System.Globalization;
using Engine.Distributed;
using Engine.Models.Data;
using Engine.Models.Distributed;
using Engine.Models.Nn;
using Engine.Models.Serialization;
using Engine.Models.Training;
using Engine.Randomness;

namespace Engine.Samples.Cli.Distributed;

/// <summary>
/// <c>engine distributed step</c>: one data-parallel training step (forward, backward, gradient all-reduce, AdamW)
/// of a Nano backbone without stochastic depth on the first <c>--images</c> training images of the embedded set,
/// each rank taking its <see cref="DistributedSampler"/> shard of one global batch. Rank 0 writes the averaged
/// gradients and the updated parameters to <c>--out</c> (safetensors, <c>grad.NAME</c> and <c>param.NAME</c>), so a
/// run of N ranks can be compared with a run of one process on the same global batch.
/// </summary>
internal static class DistributedStep
{
    public static Command Create()
    {
        var backend = new Option<string>("--distributed") { Description = "mpi, or single (world size 1).", DefaultValueFactory = _ => "mpi" };
        backend.AcceptOnlyFromAmong("mpi", "single");
        var model = new Option<string>("--model") { Description = "vheat-nano or affnet-nano.", DefaultValueFactory = _ => "vheat-nano" };
        model.AcceptOnlyFromAmong("vheat-nano", "affnet-nano");
        var images = new Option<int>("--images") { Description = "Global batch: the first N training images, split over the ranks.", DefaultValueFactory = _ => 64 };
        var dtype = new Option<string>("--dtype") { Description = "f64 or f32.", DefaultValueFactory = _ => "f64" };
        dtype.AcceptOnlyFromAmong("f32", "f64");
        var syncBn = new Option<bool>("--sync-batchnorm") { Description = "Convert BatchNorm layers to SyncBatchNorm (statistics over the global batch)." };
        var bucket = new Option<double>("--bucket-mb") { Description = "Gradient bucket size in MiB.", DefaultValueFactory = _ => 25 };
        var output = new Option<string?>("--out") { Description = "Rank 0 writes gradients and parameters here (safetensors)." };
        var die = new Option<int?>("--die-rank") { Description = "This rank kills itself after its forward (a rank lost mid-step)." };
        var timeout = new Option<double?>("--timeout") { Description = "Seconds a collective waits for the others before failing." };
        var optimizerName = new Option<string>("--optimizer")
        {
            Description = "adamw (the recipe's) or sgd (lr 0.1, momentum 0.9: linear in the gradient, so parameters compare as tightly as gradients; AdamW's first step divides a gradient by its own size, magnifying round-off in near-zero ones).",
            DefaultValueFactory = _ => "adamw",
        };
        optimizerName.AcceptOnlyFromAmong("adamw", "sgd");
        var command = new Command("step", "One data-parallel training step; rank 0 writes the averaged gradients and updated parameters.")
        { backend, model, images, dtype, syncBn, bucket, output, die, timeout, optimizerName };
        command.SetAction(parse =>
        {
            using var group = ProcessGroups.Create(parse.GetValue(backend)!);
            if (parse.GetValue(timeout) is { } t) group.Timeout = TimeSpan.FromSeconds(t);
            return DistributedCommand.Run(group, () => Step(group, parse.GetValue(model)!, parse.GetValue(images), parse.GetValue(dtype) == "f64" ? DType.F64 : DType.F32,
                parse.GetValue(syncBn), (long)(parse.GetValue(bucket) * 1024 * 1024), parse.GetValue(output), parse.GetValue(die), parse.GetValue(optimizerName)!));
        });
        return command;
    }

    private static int Step(ProcessGroup group, string modelName, int images, DType dtype, bool syncBn, long bucketBytes, string? output, int? die, string optimizerName)
    {
        if (images % group.WorldSize != 0)
            throw new ArgumentException($"distributed step: --images {images} does not divide among {group.WorldSize} ranks.");
        const ulong seed = 7;
        var (train, _) = DatasetCatalog.Load("fashion-mnist-small");
        var subset = new SubsetDataset(train, images);
        var recipe = Recipes.FashionMnist(augment: true);
        var sampler = new DistributedSampler(subset.Count, group.WorldSize, group.Rank, shuffle: true, seed: seed);
        var loader = new DataLoader(subset, images / group.WorldSize, seed: seed, transform: recipe.Train, prefetch: 0, sampler: sampler);
        var shape = recipe.InputShape with { Channels = 3 };
        using Module<Tensor, Tensor> model = modelName == "vheat-nano"
            ? new Models.Backbones.VHeat.VHeat(Models.Backbones.VHeat.VHeatConfig.Nano(10, shape.Height, shape.Width, 0.0) with { InChans = 3 }, generator: new Generator(seed))
            : new Models.Backbones.AffNet.AffNet(Models.Backbones.AffNet.AffNetConfig.Nano(10) with { InChannels = 3 }, new Generator(seed));
        model.ToDType(dtype);
        if (syncBn) SyncBatchNorm.ConvertSyncBatchNorm(model, group);
        using var ddp = new DistributedDataParallel(model, group, bucketBytes);
        using Models.Optim.Optimizer optimizer = optimizerName == "sgd"
            ? new Models.Optim.Sgd(model.Parameters(), lr: 0.1, momentum: 0.9)
            : Trainer.CreateOptimizer(model, new TrainOptions());
        using var loss = new TrainingLoss(TrainingLoss.CrossEntropy, 10, Device.Cpu);
        using var scope = Tensor.Scope();
        var batch = loader.Epoch(0).Single();
        var logits = ddp.Call(batch.Images.ToDType(dtype));
        if (die == group.Rank)
        {
            Console.Error.WriteLine($"rank {group.Rank}: killing myself mid-step (--die-rank)");
            Console.Error.Flush();
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
        var lossValue = loss.Compute(logits, batch.Labels, 0.1);
        lossValue.Backward();
        ddp.FinishGradientSync();
        var named = model.NamedParameters().ToList();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, p) in named) tensors.Add(new("grad." + name, p.Grad!.Clone()));
        optimizer.Step();
        foreach (var (name, p) in named) tensors.Add(new("param." + name, p.Clone()));
        if (group.IsMain && output is not null) SafeTensors.Write(output, tensors);
        group.Barrier();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"rank\":{group.Rank},\"world_size\":{group.WorldSize},\"local_batch\":{batch.Size},\"buckets\":{ddp.BucketSizes.Count},\"launched_during_backward\":{ddp.BucketsLaunchedDuringBackward},\"loss\":{lossValue.Item():R}}}"));
        return 0;
    }
}
