using Engine.Backends;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>Device memory: the statistics PyTorch users read, and a long training-like loop that must not grow.</summary>
[Collection(SerialCollection.Name)]
public class DeviceMemoryTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    /// <summary>
    /// Tensors that earlier tests dropped without disposing are finalized whenever the GC runs, and their blocks go
    /// back at the next allocation: collected and returned now, they cannot move the books during a test.
    /// </summary>
    private static void ReturnDroppedTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Devices.EmptyCache(Gpu);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Allocated_cached_and_peak_follow_the_tensors()
    {
        ReturnDroppedTensors();
        Devices.ResetPeakMemory(Gpu);
        var before = Devices.Memory(Gpu);
        var t = Tensor.Zeros([1 << 18], DType.F32, Gpu);                 // 1 MiB: a size class of its own
        var during = Devices.Memory(Gpu);
        Assert.Equal(before.Allocated + (1 << 20), during.Allocated);
        t.Dispose();
        var after = Devices.Memory(Gpu);
        Assert.Equal(before.Allocated, after.Allocated);
        Assert.Equal(before.Cached + (1 << 20), after.Cached);           // kept for reuse
        Assert.Equal(during.Allocated, after.Peak);
        Devices.EmptyCache(Gpu);
        Assert.Equal(0, Devices.Memory(Gpu).Cached);
        Devices.ResetPeakMemory(Gpu);
        Assert.Equal(Devices.Memory(Gpu).Allocated, Devices.Memory(Gpu).Peak);
        Assert.True(after.DeviceTotal > 0 && after.DeviceFree <= after.DeviceTotal);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_device_timer_measures_queued_work()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Rand([256, 256], DType.F32, Gpu);
        using var timer = Devices.StartTimer(Gpu);
        using (var y = x.MatMul(x)) { }
        double ms = timer.Stop();
        Assert.True(ms >= 0 && ms < 60_000, $"{ms} ms");
    }

    /// <summary>A device that is full: the allocator flushes its cache, retries, and then the error names the tensor and the device.</summary>
    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Out_of_memory_after_the_flush_names_the_tensor_and_the_device()
    {
        const long mib = 1 << 20;
        ReturnDroppedTensors();
        var (free, total) = (Devices.Memory(Gpu).DeviceFree, Devices.Memory(Gpu).DeviceTotal);
        using (var cached = Tensor.Zeros([4 << 18], DType.F32, Gpu)) { }      // 4 MiB now in the cache
        Engine.Tests.CudaEmulator.Emu.SetOption("CUDA_EMU_MEMORY", (total - free + 16 * mib).ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            var e = Assert.Throws<Engine.Cuda.Memory.CudaOutOfMemoryException>(() => Tensor.Empty([64, 1 << 18], DType.F32, Gpu));
            foreach (var part in new[] { "empty", "[64, 262144]", "torch.float32", "cuda:0", "CUDA out of memory: tried to allocate 64.00 MiB", "has been returned to the device" })
                Assert.Contains(part, e.Message);
            Assert.Equal(0, Devices.Memory(Gpu).Cached);                     // the flush gave the cache back
            using var fits = Tensor.Empty([2 << 18], DType.F32, Gpu);          // and what fits is still served
        }
        finally { Engine.Tests.CudaEmulator.Emu.SetOption("CUDA_EMU_MEMORY", null); }
    }

    /// <summary>10,000 steps of forward, backward and an SGD update on the device: the allocator's books do not grow.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Ten_thousand_training_steps_keep_allocated_and_cached_bytes_flat()
    {
        ReturnDroppedTensors();
        using var scope = Tensor.Scope();
        var w = Tensor.Randn([8, 4], DType.F32, Gpu, new Engine.Randomness.Generator(1)).RequiresGradInPlace();
        var x = Tensor.Randn([16, 8], DType.F32, Gpu, new Engine.Randomness.Generator(2));
        var target = Tensor.Randn([16, 4], DType.F32, Gpu, new Engine.Randomness.Generator(3));
        double first = 0, last = 0;
        DeviceMemoryStats afterWarmup = default;
        for (int step = 0; step < 10_000; step++)
        {
            using (var stepScope = Tensor.Scope())
            {
                var loss = (x.MatMul(w).Tanh() - target).Pow(2).Mean();
                loss.Backward();
                using (Engine.Autograd.Tape.NoGrad()) w.AddInPlace(w.Grad!, alpha: -0.05);
                w.ZeroGrad();
                if (step == 0) first = loss.Item();
                if (step == 9_999) last = loss.Item();
            }
            if (step == 100) afterWarmup = Devices.Memory(Gpu);
        }
        var end = Devices.Memory(Gpu);
        Assert.Equal(afterWarmup.Allocated, end.Allocated);
        Assert.Equal(afterWarmup.Cached, end.Cached);
        Assert.True(last < first, $"the loss went from {first} to {last}");
    }
}
