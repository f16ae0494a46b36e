namespace Engine.Models.Data;

/// <summary>
/// Batches of a dataset, as PyTorch's <c>DataLoader</c>, made deterministic: an epoch's batches are a pure
/// function of (dataset, seed, epoch), whatever the prefetching and however the epoch is resumed.
/// <list type="bullet">
/// <item>Order: with <c>shuffle</c>, a permutation drawn from (seed, epoch), so each epoch has its own order and
/// epoch k is the same whenever it runs; without, dataset order.</item>
/// <item>Batches of <c>batchSize</c>, the last one smaller unless <c>dropLast</c>.</item>
/// <item>Per-example <c>transform</c> with randomness from (seed, epoch, dataset index); optional
/// <c>batchTransform</c> (mixup, CutMix) with randomness from (seed, epoch, batch position), which turns the
/// labels into soft targets.</item>
/// <item>Prefetch: with <c>prefetch</c> &gt; 0 a background thread prepares up to that many batches ahead
/// (as arrays; the tensors are made on the enumerating thread). Its exceptions are rethrown to the enumerating
/// thread at the batch where they happened; leaving the loop early (or disposing the enumerator) stops it.</item>
/// </list>
/// Enumerate one epoch with <see cref="Epoch(int, int)"/>; each <see cref="Batch"/> is owned by the caller.
/// </summary>
public sealed class DataLoader
{
    /// <summary>Creates a loader; nothing is read until an epoch is enumerated.</summary>
    public DataLoader(IDataset dataset, int batchSize, bool shuffle = false, ulong seed = 0, bool dropLast = false,
        ITransform? transform = null, int prefetch = 2, IBatchTransform? batchTransform = null, ISampler? sampler = null)
    {
        if (sampler is not null && shuffle)
            throw new ArgumentException("data_loader: sampler option is mutually exclusive with shuffle (the sampler decides the order).", nameof(sampler));
        Sampler = sampler;
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"data_loader: batch_size must be positive, got {batchSize}.");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), $"data_loader: prefetch must not be negative, got {prefetch}.");
        (Dataset, BatchSize, Shuffle, Seed, DropLast, Transform, Prefetch, BatchTransform) =
            (dataset, batchSize, shuffle, seed, dropLast, transform, prefetch, batchTransform);
        ImageShape = transform?.OutputShape(dataset.Shape) ?? dataset.Shape;
        if (ImageShape.Height == 0 || ImageShape.Width == 0)
            throw new ArgumentException($"data_loader: {dataset.Name} has images of any size; give a transform with a fixed output size (RandomResizedCrop, or Resize and CenterCrop) so that they batch.");
    }

    /// <summary>The dataset read.</summary>
    public IDataset Dataset { get; }
    /// <summary>Examples per batch (the last batch may have fewer, see <see cref="DropLast"/>).</summary>
    public int BatchSize { get; }
    /// <summary>Whether each epoch visits the examples in its own random order.</summary>
    public bool Shuffle { get; }
    /// <summary>The seed of the order and of the transforms' randomness.</summary>
    public ulong Seed { get; }
    /// <summary>Whether a last batch smaller than <see cref="BatchSize"/> is dropped.</summary>
    public bool DropLast { get; }
    /// <summary>The per-example transform, if any.</summary>
    public ITransform? Transform { get; }
    /// <summary>The batch transform, if any; when set, batches carry soft targets.</summary>
    public IBatchTransform? BatchTransform { get; }
    /// <summary>How many batches the background thread prepares ahead (0: none, batches are prepared when asked for).</summary>
    public int Prefetch { get; }
    /// <summary>The sampler that picks each epoch's examples (a rank's shard, say), or null for the whole dataset.</summary>
    public ISampler? Sampler { get; }
    /// <summary>The shape of each image in a batch (after the transform).</summary>
    public ImageShape ImageShape { get; }

    /// <summary>Number of batches in an epoch.</summary>
    public int BatchesPerEpoch => DropLast ? ExamplesPerEpoch / BatchSize : (ExamplesPerEpoch + BatchSize - 1) / BatchSize;

    /// <summary>Examples visited per epoch: the sampler's count, else the dataset's.</summary>
    public int ExamplesPerEpoch => Sampler?.Count ?? Dataset.Count;

    /// <summary>The order in which epoch <paramref name="epoch"/> visits the dataset (before dropping a last partial batch).</summary>
    public int[] Order(int epoch)
    {
        CheckEpoch(epoch);
        if (Sampler is not null) return Sampler.Indices(epoch);
        if (!Shuffle) return Enumerable.Range(0, Dataset.Count).ToArray();
        return new SampleRandom(Seed, SampleRandom.Streams.Shuffle, (uint)epoch, 0).Permutation(Dataset.Count);
    }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>, from batch <paramref name="startBatch"/> on (to resume
    /// inside an epoch). Enumerating it again gives the same batches.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0)
    {
        CheckEpoch(epoch);
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), $"data_loader: start batch {startBatch} is outside 0..{BatchesPerEpoch}.");
        return Prefetch == 0 ? Direct(epoch, startBatch) : Prefetched(epoch, startBatch);
    }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/> as tensors on <paramref name="device"/>. On the CPU these are
    /// <see cref="Epoch(int, int)"/>'s. On a CUDA device a background thread prepares each batch straight into a
    /// ring of pinned host slots (<see cref="Prefetch"/> + 2 of them), and each batch is copied to the device
    /// asynchronously on the compute stream: the enumerating thread never waits for a copy, and a slot is refilled
    /// only after the device has read it. The batches are the same as on the CPU, bit for bit.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, int startBatch, Device device)
    {
        if (device.Type == DeviceType.Cpu) return Epoch(epoch, startBatch);
        Backends.Devices.Check(device, "data_loader");
        CheckEpoch(epoch);
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), $"data_loader: start batch {startBatch} is outside 0..{BatchesPerEpoch}.");
        return Staged(epoch, startBatch, () => new CudaBatchStaging(device, Prefetch + 2, SlotBytes));
    }

    /// <summary>Where a slot's targets start: after the images of a full batch, aligned for int64.</summary>
    private int TargetOffset => checked((BatchSize * ImageShape.Size * sizeof(float) + 7) / 8 * 8);

    /// <summary>The bytes of one staging slot: a full batch's images, then its targets (int64 labels or float32 soft targets).</summary>
    internal long SlotBytes => TargetOffset + (long)BatchSize * Math.Max(sizeof(long), BatchTransform is null ? 0 : Dataset.ClassNames.Count * sizeof(float));

    /// <summary>The batches of an epoch through <paramref name="createStaging"/>'s slots (made when enumeration starts, disposed when it ends).</summary>
    internal IEnumerable<Batch> Staged(int epoch, int startBatch, Func<IBatchStaging> createStaging)
    {
        using var staging = createStaging();
        using var ring = new StagingRing<PreparedBatch>(staging, startBatch, BatchesPerEpoch, FillFor(epoch));
        while (ring.TryTake(out int slot, out var prepared))
        {
            int size = prepared.Indices.Length;
            int[] targetShape = prepared.Soft is null ? [size] : [size, prepared.Classes];
            var (images, targets) = staging.Upload(slot, [size, ImageShape.Channels, ImageShape.Height, ImageShape.Width], TargetOffset, targetShape,
                prepared.Soft is null ? DType.I64 : DType.F32);
            ring.Release(slot);
            yield return new Batch(images, targets, prepared.Indices, prepared.Epoch, prepared.Index);
        }
    }

    /// <summary>The producer's work: prepare a batch (as for the CPU) and lay it out in the slot; the arrays are not kept.</summary>
    private SlotFiller<PreparedBatch> FillFor(int epoch)
    {
        var prepare = PrepareFor(epoch);
        int targetOffset = TargetOffset;
        return (b, slot) =>
        {
            var p = prepare(b);
            p.Images.AsSpan().CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(slot));
            var targets = slot[targetOffset..];
            if (p.Soft is null) p.Labels.AsSpan().CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(targets));
            else p.Soft.AsSpan().CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(targets));
            return p with { Images = [], Labels = [], Soft = p.Soft is null ? null : [] };
        };
    }

    private IEnumerable<Batch> Direct(int epoch, int startBatch)
    {
        var order = Order(epoch);
        for (int b = startBatch; b < BatchesPerEpoch; b++) yield return Prepare(order, epoch, b).ToBatch();
    }

    private IEnumerable<Batch> Prefetched(int epoch, int startBatch)
    {
        using var prefetcher = new Prefetcher<PreparedBatch>(Prefetch, startBatch, BatchesPerEpoch, PrepareFor(epoch));
        while (prefetcher.TryTake(out var prepared)) yield return prepared.ToBatch();
    }

    private Func<int, PreparedBatch> PrepareFor(int epoch)
    {
        int[]? order = null; // computed on the prefetch thread, with the first batch
        return b => Prepare(order ??= Order(epoch), epoch, b);
    }

    private static void CheckEpoch(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"data_loader: epoch must not be negative, got {epoch}.");
    }

    /// <summary>Reads, transforms and collates batch <paramref name="b"/> of an epoch into arrays.</summary>
    private PreparedBatch Prepare(int[] order, int epoch, int b)
    {
        int start = b * BatchSize, size = Math.Min(BatchSize, order.Length - start);
        var indices = order.AsSpan(start, size).ToArray();
        var shape = ImageShape;
        var images = new float[size * shape.Size];
        var labels = new long[size];
        for (int i = 0; i < size; i++)
        {
            var sample = Dataset.Get(indices[i]);
            var image = sample.Image;
            if (Transform is not null)
                image = Transform.Apply(image, new SampleRandom(Seed, SampleRandom.Streams.Sample, (uint)epoch, (uint)indices[i]));
            if (image.Shape != shape || image.Pixels.Length != shape.Size)
                throw new InvalidOperationException($"data_loader: example {indices[i]} of {Dataset.Name} came out as {image.Shape} ({image.Pixels.Length} pixels); the batch expects {shape}.");
            image.Pixels.CopyTo(images, i * shape.Size);
            labels[i] = sample.Label;
        }
        float[]? soft = BatchTransform?.Apply(images, shape, labels, Dataset.ClassNames.Count,
            new SampleRandom(Seed, SampleRandom.Streams.Batch, (uint)epoch, (uint)b));
        return new PreparedBatch(images, labels, soft, indices, shape, Dataset.ClassNames.Count, epoch, b);
    }

    private sealed record PreparedBatch(float[] Images, long[] Labels, float[]? Soft, int[] Indices, ImageShape Shape, int Classes, int Epoch, int Index)
    {
        public Batch ToBatch()
        {
            int size = Indices.Length;
            var images = Tensor.FromArray(Images, [size, Shape.Channels, Shape.Height, Shape.Width]);
            var labels = Soft is null ? Tensor.FromArray(Labels, [size]) : Tensor.FromArray(Soft, [size, Classes]);
            return new Batch(images, labels, Indices, Epoch, Index);
        }
    }
}
