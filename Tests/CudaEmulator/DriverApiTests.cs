using Engine.Cuda.Memory;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// The emulated driver's memory, context, stream and event functions through the engine's bindings: what
/// works, and each misuse with the code the driver gives and the emulator's explanation.
/// </summary>
public sealed unsafe class DriverApiTests
{
    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Fresh_device_and_pinned_memory_is_poisoned_with_0xFF()
    {
        Emu.MakeCurrent();
        using var device = DeviceBuffer.Of<double>(100);
        Assert.All(device.Download<double>(), v => Assert.Equal(ulong.MaxValue, BitConverter.DoubleToUInt64Bits(v)));
        using var pinned = new PinnedHostBuffer(100);
        Assert.All(pinned.AsSpan<byte>().ToArray(), b => Assert.Equal(0xFF, b));
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Copies_and_memsets_must_stay_inside_one_live_allocation()
    {
        Emu.MakeCurrent();
        using var buffer = DeviceBuffer.Of<float>(1000);
        using var hostMemory = new HostMemory(1001 * sizeof(float));
        var h = (float*)hostMemory.Pointer;
        {
            Emu.Contains($"the destination {buffer.Pointer} + 4004 bytes runs 4 bytes past the end of allocation #",
                Emu.Fails(1, () => Driver.CopyHtoD(buffer.Pointer, h, 4004)));
            Emu.Contains($"runs 4 bytes past the end", Emu.Fails(1, () => Driver.CopyDtoH(h, buffer.Pointer.Offset(4), 4000)));
            Emu.Contains("is device memory (allocation #", Emu.Fails(1, () => Driver.CopyDtoH((void*)buffer.Pointer.Address, buffer.Pointer, 4)));
        }
        Emu.Contains("is not aligned to 4 bytes", Emu.Fails(1, () => Driver.MemsetD32(buffer.Pointer.Offset(2), 0, 4)));
        Emu.Contains("ranges of 400 bytes overlap", Emu.Fails(1, () => Driver.CopyDtoD(buffer.Pointer.Offset(100), buffer.Pointer, 400)));
        Driver.MemsetD32(buffer.Pointer, BitConverter.SingleToUInt32Bits(3.0f), 1000);
        Driver.MemsetD8(buffer.Pointer, 0, 8);
        var values = buffer.Download<float>();
        Assert.Equal([0f, 0f, 3f], values[..3]);

        var freed = DeviceBuffer.Of<float>(16);
        var stale = freed.Pointer;
        freed.Dispose();
        Emu.Contains("is in freed allocation #", Emu.Fails(1, () => Driver.CopyDtoH(h, stale, 4)));
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Asynchronous_copies_need_pinned_host_memory()
    {
        Emu.MakeCurrent();
        nint stream = Driver.StreamCreate();
        try
        {
            using var buffer = DeviceBuffer.Of<float>(64);
            using var pageable = new HostMemory(256);
            var h = pageable.Pointer;
            Emu.Contains("is not in pinned host memory (cuMemHostAlloc): an asynchronous copy needs it",
                    Emu.Fails(1, () => Driver.CopyHtoDAsync(buffer.Pointer, h, 256, stream)));
            using var pinned = new PinnedHostBuffer(256);
            pinned.AsSpan<float>().Fill(2.5f);
            Driver.CopyHtoDAsync(buffer.Pointer, (void*)pinned.Pointer, 256, stream);
            Driver.MemsetD32Async(buffer.Pointer, BitConverter.SingleToUInt32Bits(1.0f), 1, stream);
            Driver.CopyDtoHAsync((void*)pinned.Pointer, buffer.Pointer, 256, stream);
            Driver.StreamSynchronize(stream);
            Assert.Equal([1.0f, 2.5f], pinned.AsSpan<float>()[..2].ToArray());
        }
        finally { Driver.StreamDestroy(stream); }
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Frees_are_checked()
    {
        Emu.MakeCurrent();
        var p = Driver.MemAlloc(1024);
        Emu.Contains("is not the start of allocation #", Emu.Fails(1, () => Driver.MemFree(p.Offset(16))));
        Driver.MemFree(p);
        Emu.Contains("was already freed (double free)", Emu.Fails(1, () => Driver.MemFree(p)));
        using var host = new HostMemory(16);
        Emu.Contains("is not device memory allocated by the emulator", Emu.Fails(1, () => Driver.MemFree(new CUdeviceptr((ulong)host.Pointer))));
        using var device = DeviceBuffer.Of<byte>(16);
        Emu.Contains("not pinned host memory", Emu.Fails(1, () => Driver.FreeHost((nint)device.Pointer.Address)));
        Emu.Contains("cannot allocate 0 bytes", Emu.Fails(1, () => Driver.MemAlloc(0)));
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Writes_past_the_end_from_outside_a_launch_are_found_at_synchronisation_and_free()
    {
        Emu.MakeCurrent();
        // Device pointers are host addresses here, so host code (or a library emulation) can overrun one.
        var device = Driver.MemAlloc(1000);
        ((byte*)device.Address)[1003] = 0;
        Emu.Contains("write at offset +1003 past the end of allocation #", Emu.Fails(700, () => Driver.Synchronize()));
        Driver.Synchronize();   // the zone was re-armed
        ((byte*)device.Address)[1000] = 0;
        Emu.Contains("write at offset +1000 past the end of allocation #", Emu.Fails(700, () => Driver.MemFree(device)));
        Emu.Contains("was already freed", Emu.Fails(1, () => Driver.MemFree(device)));   // it was freed all the same

        nint pinned = Driver.HostAlloc(100);
        ((byte*)pinned)[-1] = 0;
        Emu.Contains("write at offset -1 before the start of pinned host allocation #", Emu.Fails(700, () => Driver.FreeHost(pinned)));
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void The_caching_allocator_reuses_blocks_of_driver_memory()
    {
        Emu.MakeCurrent();
        var (free, total) = Driver.MemoryInfo();
        Assert.Equal(Driver.TotalMemory(0), total);
        Assert.InRange(free, 0ul, total);
        using var allocator = new CachingAllocator(new DriverDeviceMemory());
        var a = allocator.Allocate((3 << 20) + 1);   // the 3.25 MiB size class
        allocator.Free(a);
        var b = allocator.Allocate(13 << 18);           // 3.25 MiB exactly: the same class
        Assert.Equal(a.Pointer, b.Pointer);
        Assert.Equal(1, allocator.Stats.CacheHits);
        using var values = DeviceBuffer.Of<float>([1f, 2f, 3f]);
        Driver.CopyDtoD(b.Pointer, values.Pointer, 12);
        var back = new float[3];
        fixed (float* h = back) Driver.CopyDtoH(h, b.Pointer, 12);
        Assert.Equal([1f, 2f, 3f], back);
        allocator.Free(b);
        allocator.EmptyCache();
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void The_current_context_is_per_thread()
    {
        Emu.MakeCurrent();
        string? message = null;
        var thread = new Thread(() =>
        {
            try { Driver.MemAlloc(16); }
            catch (Engine.Cuda.CudaException e) { message = e.Message; }
        });
        thread.Start();
        thread.Join();
        Emu.Contains("cuMemAlloc_v2 failed: CUDA_ERROR_INVALID_CONTEXT (201): invalid device context: no context is current on this thread " +
                     "(the current context is per thread: make the primary context current with cuCtxSetCurrent at every entry point)", message);
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void A_created_context_is_pushed_and_its_memory_dies_with_it()
    {
        Emu.MakeCurrent();
        nint primary = Driver.GetCurrent();
        nint mine = Driver.ContextCreate(0, 0);
        Assert.Equal(mine, Driver.GetCurrent());
        var p = Driver.MemAlloc(256);
        Assert.Equal(mine, Driver.PopCurrent());
        Assert.Equal(primary, Driver.GetCurrent());
        Driver.PushCurrent(mine);
        Driver.ContextDestroy(mine);
        Emu.Fails(201, () => Driver.SetCurrent(mine));
        Emu.MakeCurrent();
        using var host = new HostMemory(4);
        Emu.Contains("is in freed allocation #", Emu.Fails(1, () => Driver.CopyDtoH(host.Pointer, p, 4)));
        Emu.Contains("released with cuDevicePrimaryCtxRelease, not destroyed", Emu.Fails(201, () => Driver.ContextDestroy(primary)));
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Streams_and_events_are_validated_handles()
    {
        Emu.MakeCurrent();
        Emu.Contains("flags must be 0 or 1 (NON_BLOCKING)", Emu.Fails(1, () => Driver.StreamCreate(2)));
        nint stream = Driver.StreamCreate();
        nint start = Driver.EventCreate(), end = Driver.EventCreate(), untimed = Driver.EventCreate(2);
        Emu.Contains("the start event has not been recorded", Emu.Fails(400, () => Driver.EventElapsedMilliseconds(start, end)));
        Driver.EventRecord(start, stream);
        Driver.EventRecord(end, stream);
        Driver.StreamWaitEvent(stream, end);
        Driver.EventSynchronize(end);
        Assert.InRange(Driver.EventElapsedMilliseconds(start, end), 0f, 10_000f);
        Driver.EventRecord(untimed, stream);
        Emu.Contains("created with CU_EVENT_DISABLE_TIMING", Emu.Fails(400, () => Driver.EventElapsedMilliseconds(start, untimed)));
        Driver.EventDestroy(untimed);
        Emu.Fails(400, () => Driver.EventDestroy(untimed));
        Emu.Fails(400, () => Driver.StreamWaitEvent(stream, untimed));
        Driver.StreamDestroy(stream);
        Emu.Contains("is not a live stream", Emu.Fails(400, () => Driver.StreamSynchronize(stream)));
        Emu.Fails(400, () => Driver.StreamDestroy(stream));
        Driver.EventDestroy(start);
        Driver.EventDestroy(end);
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Device_queries_describe_an_h100_and_reject_what_does_not_exist()
    {
        Emu.MakeCurrent();
        Assert.Equal(13000, Driver.DriverVersion());
        Assert.Equal(1, Driver.DeviceCount());
        Assert.Equal(1024, Driver.Attribute(0, DeviceAttribute.MaxThreadsPerBlock));
        Assert.Equal(49152, Driver.Attribute(0, DeviceAttribute.MaxSharedMemoryPerBlock));
        Assert.Equal(232448, Driver.Attribute(0, DeviceAttribute.MaxSharedMemoryPerBlockOptin));
        Assert.Equal(32, Driver.Attribute(0, DeviceAttribute.WarpSize));
        Assert.Equal(1, Driver.Attribute(0, DeviceAttribute.MemoryPoolsSupported));
        Emu.Contains("device 1 does not exist", Emu.Fails(101, () => Driver.Device(1)));
        Emu.Contains("attribute 9999 is not emulated", Emu.Fails(1, () => Driver.Attribute(0, (DeviceAttribute)9999)));
        nint pool = Driver.DefaultMemPool(0);
        Driver.SetMemPoolReleaseThreshold(pool, ulong.MaxValue);
        Driver.MemPoolTrimTo(pool, 0);
        var init = (delegate* unmanaged<uint, int>)Emu.Export("cuInit");
        Assert.Equal(1, init(1));
        var stats = Emu.Stats();
        Assert.True(stats.Errors > 0);
    }
}

/// <summary>Pageable host memory at a fixed address (lambdas cannot capture a fixed local).</summary>
internal sealed unsafe class HostMemory(int bytes) : IDisposable
{
    public void* Pointer { get; } = System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)bytes);

    public void Dispose() => System.Runtime.InteropServices.NativeMemory.Free(Pointer);
}
