namespace Engine.Models.Data;

/// <summary>
/// Host memory in which a producer thread lays out batches before they become tensors on a device: a fixed
/// number of slots, each filled by the producer, turned into tensors by the consumer, and refilled only
/// once the device has finished reading it. <see cref="StagingRing{T}"/> drives it; the CUDA form is
/// <see cref="CudaBatchStaging"/> (pinned slots, asynchronous copies, an event per slot), and tests use fakes.
/// </summary>
internal interface IBatchStaging : IDisposable
{
    /// <summary>The number of slots.</summary>
    int Slots { get; }

    /// <summary>The memory of <paramref name="slot"/>, for the producer to fill.</summary>
    Span<byte> Slot(int slot);

    /// <summary>Called by the producer before it refills <paramref name="slot"/>: waits until the device has read what was queued from it.</summary>
    void WaitReusable(int slot);

    /// <summary>
    /// Called by the consumer: tensors on the device holding the slot's bytes, images (F32, <paramref name="imageShape"/>)
    /// at offset 0 and targets (<paramref name="targetDType"/>, <paramref name="targetShape"/>) at <paramref name="targetOffset"/>.
    /// The copies may still be in flight when it returns; the slot may be refilled after <see cref="WaitReusable"/>.
    /// </summary>
    (Tensor Images, Tensor Targets) Upload(int slot, int[] imageShape, int targetOffset, int[] targetShape, DType targetDType);
}

/// <summary>
/// Batch staging for a CUDA device: each slot is a pinned host buffer; uploading allocates the tensors on the
/// device, queues asynchronous copies from the slot on the compute stream (so the step's kernels, queued
/// after, see the data, and the host does not wait) and records the slot's event; the producer waits for that
/// event before it refills the slot. Disposing waits for every copy still in flight, then frees the buffers.
/// </summary>
internal sealed class CudaBatchStaging : IBatchStaging
{
    private readonly Engine.Cuda.Memory.PinnedHostBuffer[] _buffers;
    private readonly Engine.Cuda.Runtime.CudaEvent[] _copied;
    private readonly Device _device;

    /// <summary><paramref name="slots"/> pinned slots of <paramref name="slotBytes"/> each for <paramref name="device"/>.</summary>
    public CudaBatchStaging(Device device, int slots, long slotBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _device = device;
        var cuda = Engine.Cuda.Runtime.CudaDevice.For(device);
        cuda.MakeCurrent();                                  // pinned memory belongs to the current context
        _buffers = new Engine.Cuda.Memory.PinnedHostBuffer[slots];
        _copied = new Engine.Cuda.Runtime.CudaEvent[slots];
        try
        {
            for (int i = 0; i < slots; i++)
            {
                _buffers[i] = new Engine.Cuda.Memory.PinnedHostBuffer((ulong)Math.Max(1, slotBytes));
                _copied[i] = new Engine.Cuda.Runtime.CudaEvent(cuda);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Slots => _buffers.Length;

    public Span<byte> Slot(int slot) => _buffers[slot].AsSpan<byte>();

    public void WaitReusable(int slot) => _copied[slot].Synchronize();

    public (Tensor Images, Tensor Targets) Upload(int slot, int[] imageShape, int targetOffset, int[] targetShape, DType targetDType)
    {
        var images = Tensor.Empty(imageShape, DType.F32, _device);
        var targets = Tensor.Empty(targetShape, targetDType, _device);
        Engine.Cuda.Runtime.PinnedUpload.CopyAsync(_buffers[slot], 0, images);
        Engine.Cuda.Runtime.PinnedUpload.CopyAsync(_buffers[slot], (ulong)targetOffset, targets);
        _copied[slot].Record();
        return (images, targets);
    }

    public void Dispose()
    {
        // The device may still be reading a slot: its copy must be done before the memory goes back.
        foreach (var e in _copied) e?.Synchronize();
        foreach (var e in _copied) e?.Dispose();
        foreach (var b in _buffers) b?.Dispose();
    }
}
