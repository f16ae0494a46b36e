using Engine.Backends;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

// Transfers, synchronisation, timers and memory figures. Copies use only the asynchronous entry points on
// the compute stream, from the device's pinned staging buffer, then wait for the stream: a synchronous
// cuMemcpy runs on the legacy stream, which does not wait for a non-blocking stream's kernels, and could
// read a result before the kernel that writes it has run.
internal sealed unsafe partial class CudaBackend
{
    /// <summary>Transfers go through the staging buffer in pieces of this size, so a huge tensor needs no huge pinned buffer.</summary>
    internal const long StagingChunk = 32 << 20;

    public void CopyToHost(Tensor src, void* destination)
    {
        var device = DeviceOf(src);
        long bytes = src.NumEl * src.DType.SizeOf();
        if (bytes == 0) return;
        ulong address = ((CudaStorage)src.Storage).Address(src.Offset);
        // The calling thread's armed checks are read with the data: their pages are copied behind its first piece,
        // before the one wait, so a read costs one wait whether or not a loss (say) left a check to report.
        var taken = device.Checks.TakeArmed();
        var pages = new Dictionary<int, long[]>();
        long first = Math.Min(bytes, StagingChunk);
        long pagesAt = (first + 7) / 8 * 8;
        long staged = taken is null ? first : pagesAt + (long)taken.Pages.Length * DeferredChecks.PageBytes;
        try
        {
            device.WithStaging((ulong)staged, staging =>
            {
                for (long done = 0; done < bytes; done += StagingChunk)
                {
                    long piece = Math.Min(StagingChunk, bytes - done);
                    Driver.CopyDtoHAsync((void*)staging.Pointer, new CUdeviceptr(address + (ulong)done), (ulong)piece, device.Stream);
                    if (done == 0 && taken is not null)
                        for (int i = 0; i < taken.Pages.Length; i++)
                        {
                            var page = device.Checks.Page(taken.Pages[i]);
                            ulong from = ((CudaStorage)page.Storage).Address(page.Offset);
                            Driver.CopyDtoHAsync((byte*)staging.Pointer + pagesAt + i * DeferredChecks.PageBytes, new CUdeviceptr(from), DeferredChecks.PageBytes, device.Stream);
                        }
                    device.Counters.Read();
                    device.Counters.HostSync();
                    Driver.StreamSynchronize(device.Stream);
                    Buffer.MemoryCopy((void*)staging.Pointer, (byte*)destination + done, piece, piece);
                    if (done == 0 && taken is not null)
                        for (int i = 0; i < taken.Pages.Length; i++)
                            pages[taken.Pages[i]] = new ReadOnlySpan<long>((byte*)staging.Pointer + pagesAt + i * DeferredChecks.PageBytes, DeferredChecks.PageSlots * 2).ToArray();
                }
                return 0;
            });
        }
        catch
        {
            if (taken is not null && pages.Count == 0) device.Checks.Return(taken);
            throw;
        }
        // The host has waited for the stream: the checks that kernels made on the device are settled.
        if (taken is not null) device.Checks.Settle(taken, pages);
    }

    public void CopyFromHost(void* source, Tensor dst)
    {
        var device = DeviceOf(dst);
        long bytes = dst.NumEl * dst.DType.SizeOf();
        if (bytes == 0) return;
        ulong address = ((CudaStorage)dst.Storage).Address(dst.Offset);
        device.WithStaging((ulong)Math.Min(bytes, StagingChunk), staging =>
        {
            for (long done = 0; done < bytes; done += StagingChunk)
            {
                long piece = Math.Min(StagingChunk, bytes - done);
                Buffer.MemoryCopy((byte*)source + done, (void*)staging.Pointer, piece, piece);
                Driver.CopyHtoDAsync(new CUdeviceptr(address + (ulong)done), (void*)staging.Pointer, (ulong)piece, device.Stream);
                device.Counters.Upload();
                // The staging buffer is reused by the next piece (and the next transfer): wait for this one.
                device.Counters.HostSync();
                Driver.StreamSynchronize(device.Stream);
            }
            return 0;
        });
    }

    public void Synchronize(Device device)
    {
        var cuda = CudaDevice.For(device);
        cuda.Synchronize();
        cuda.Checks.Report();
    }

    public DeviceTimer StartTimer(Device device) => new EventTimer(CudaDevice.For(device));

    public DeviceTimeline StartTimeline(Device device) => new EventTimeline(CudaDevice.For(device));

    public DeviceMemoryStats Memory(Device device) => CudaDevice.For(device).MemoryStats();

    public DeviceCounters Counters(Device device) => CudaDevice.For(device).CounterSnapshot();

    public void ResetPeakMemory(Device device) => CudaDevice.For(device).Allocator.ResetPeak();

    public void EmptyCache(Device device)
    {
        var cuda = CudaDevice.For(device);
        // A cached block may still be read by queued kernels: they must finish before it goes back to the driver.
        cuda.Synchronize();
        cuda.EmptyCache();
    }

    /// <summary>Two events on the compute stream: the time between them is the device's time for the work queued in between.</summary>
    private sealed class EventTimer : DeviceTimer
    {
        private readonly CudaDevice _device;
        private nint _start, _end;

        public EventTimer(CudaDevice device)
        {
            _device = device;
            device.MakeCurrent();
            _start = Driver.EventCreate();
            _end = Driver.EventCreate();
            Driver.EventRecord(_start, device.Stream);
        }

        public override double Stop()
        {
            if (_start == 0) throw new ObjectDisposedException(nameof(DeviceTimer));
            _device.MakeCurrent();
            Driver.EventRecord(_end, _device.Stream);
            _device.Counters.HostSync();
            Driver.EventSynchronize(_end);
            return Driver.EventElapsedMilliseconds(_start, _end);
        }

        public override void Dispose()
        {
            if (_start == 0) return;
            _device.MakeCurrent();
            Driver.EventDestroy(_start);
            Driver.EventDestroy(_end);
            _start = _end = 0;
            base.Dispose();
        }
    }
}
