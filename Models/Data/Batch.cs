namespace Engine.Models.Data;

/// <summary>
/// One batch from a <see cref="DataLoader"/>: tensors the caller owns, on the CPU or on the device the epoch was
/// asked for. Dispose the batch (or its two tensors) after the step, or open a <see cref="Tensor.Scope"/>
/// around the step: the tensors are created on the thread that enumerates the loader, so that thread's open
/// scope owns them, prefetching or not.
/// </summary>
public sealed class Batch : IDisposable
{
    internal Batch(Tensor images, Tensor labels, int[] indices, int epoch, int index) =>
        (Images, Labels, Indices, Epoch, Index) = (images, labels, indices, epoch, index);

    /// <summary>The images, [B, C, H, W] F32.</summary>
    public Tensor Images { get; }

    /// <summary>
    /// The targets: class indices [B] I64, or soft targets [B, classes] F32 (rows summing to 1) when the loader
    /// has a batch transform (mixup, CutMix).
    /// </summary>
    public Tensor Labels { get; }

    /// <summary>Whether <see cref="Labels"/> holds soft targets rather than class indices.</summary>
    public bool HasSoftTargets => Labels.DType == DType.F32;

    /// <summary>The dataset index of each example, in batch order.</summary>
    public IReadOnlyList<int> Indices { get; }

    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; }

    /// <summary>The batch's position in its epoch (0-based).</summary>
    public int Index { get; }

    /// <summary>Number of examples.</summary>
    public int Size => Indices.Count;

    /// <summary>Deconstructs into (images, labels).</summary>
    public void Deconstruct(out Tensor images, out Tensor labels) => (images, labels) = (Images, Labels);

    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
