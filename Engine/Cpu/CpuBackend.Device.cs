using Engine.Backends;

namespace Engine.Cpu;

// The device-wide members on the CPU: its memory is the host's, its work is done when a call returns.
internal sealed unsafe partial class CpuBackend
{
    public void CopyToHost(Tensor src, void* destination)
    {
        long bytes = src.NumEl * src.DType.SizeOf();
        Buffer.MemoryCopy((void*)BasePointer(src), destination, bytes, bytes);
    }

    public void CopyFromHost(void* source, Tensor dst)
    {
        long bytes = dst.NumEl * dst.DType.SizeOf();
        Buffer.MemoryCopy(source, (void*)BasePointer(dst), bytes, bytes);
    }

    public void Synchronize(Device device) { }

    public DeviceTimer StartTimer(Device device) => new StopwatchTimer();

    public DeviceTimeline StartTimeline(Device device) => new StopwatchTimeline(device);

    public DeviceMemoryStats Memory(Device device)
    {
        var gc = GC.GetGCMemoryInfo();
        long total = gc.TotalAvailableMemoryBytes;
        return new DeviceMemoryStats(device, CpuStorage.LiveBytes, CpuAllocator.CachedBytes, CpuStorage.PeakBytes,
            Math.Max(0, total - gc.MemoryLoadBytes), total);
    }

    public void ResetPeakMemory(Device device) => CpuStorage.ResetPeakBytes();

    // Nothing is queued or waited for on the CPU: every count stays zero.
    public DeviceCounters Counters(Device device) => new(device, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    public void EmptyCache(Device device) => CpuAllocator.EmptyCache();
}
