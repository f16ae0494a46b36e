using Engine.Cuda.Memory;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// Host-to-device copies that do not wait: the bytes come from a pinned buffer the caller owns, the copy is
/// queued on the destination's compute stream (so kernels queued after it see the data), and the call returns
/// at once. The caller must not rewrite the buffer until the copy is done: record a <see cref="CudaEvent"/>
/// after the copies and wait for it before refilling (the prefetch ring of the data loader does this).
/// </summary>
public static unsafe class PinnedUpload
{
    /// <summary>
    /// Queues a copy of <paramref name="destination"/>'s size in bytes from <paramref name="source"/> at
    /// <paramref name="sourceOffset"/> into <paramref name="destination"/>, a contiguous CUDA tensor.
    /// </summary>
    public static void CopyAsync(PinnedHostBuffer source, ulong sourceOffset, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Storage is not CudaStorage storage)
            throw new ArgumentException($"PinnedUpload: the destination is on {destination.Device}, not a CUDA device.", nameof(destination));
        if (!destination.IsContiguous)
            throw new ArgumentException($"PinnedUpload: the destination {Layout.Format(destination.Shape)} is not contiguous.", nameof(destination));
        ulong bytes = (ulong)(destination.NumEl * destination.DType.SizeOf());
        if (sourceOffset > source.Bytes || bytes > source.Bytes - sourceOffset)
            throw new ArgumentOutOfRangeException(nameof(sourceOffset), $"PinnedUpload: {bytes} bytes at offset {sourceOffset} overrun the {source.Bytes}-byte pinned buffer.");
        if (bytes == 0) return;
        var device = storage.CudaDevice;
        device.MakeCurrent();
        device.Counters.Upload();
        Driver.CopyHtoDAsync(new CUdeviceptr(storage.Address(destination.Offset)), (byte*)source.Pointer + sourceOffset, bytes, device.Stream);
        // The destination was written behind the tensor's back, as a kernel would: bump its version.
        destination.Storage.BumpVersion();
    }
}
