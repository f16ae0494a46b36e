using Engine.Cuda.Memory;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// The emulator's process-wide options (CUDA_EMU_*, set here through cuEmuSetOption): thread order at barriers,
/// device memory size, strictness, sticky errors and the watchdog. They change what every launch sees, so these
/// tests run alone, after the parallel ones, and restore the defaults.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class EmulatorOptionTests
{
    private static void With(string option, string value, Action body)
    {
        Emu.SetOption(option, value);
        try { body(); }
        finally { Emu.SetOption(option, null); }
    }

    private static float[] Shift(string kernel)
    {
        const int n = 256;
        using var input = DeviceBuffer.Of<float>(Enumerable.Range(1, n).Select(i => (float)i).ToArray());
        using var output = DeviceBuffer.Of<float>(n);
        Emu.Launch(Emu.Kernel(SharedMemoryTests.Source, kernel), 1, n, input, output);
        return output.Download<float>();
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void A_missing_barrier_gives_a_wrong_result_when_threads_run_in_reverse_or_random_order()
    {
        Emu.MakeCurrent();
        var expected = Enumerable.Range(0, 256).Select(i => (float)i).ToArray();
        // In the default order each thread's left neighbour has already written: the race goes unseen.
        Assert.Equal(expected, Shift("shift_racy"));
        foreach (var order in new[] { "reverse", "random:7" })
            With("CUDA_EMU_SCHEDULE", order, () =>
            {
                var racy = Shift("shift_racy");
                Assert.Contains(racy, float.IsNaN);   // read before anyone wrote: the poison
                Assert.Equal(expected, Shift("shift"));
            });
        Assert.Equal(expected, Shift("shift"));
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Correct_kernels_give_the_same_results_in_every_thread_order()
    {
        Emu.MakeCurrent();
        const int n = 4096, blocks = 16, block = 256;
        var input = Enumerable.Range(0, n).Select(i => (float)(i % 13)).ToArray();
        using var din = DeviceBuffer.Of<float>(input);
        using var dout = DeviceBuffer.Of<float>(n);
        using var counts = DeviceBuffer.Of<int>(5);
        (float[] Reversed, float[] Sums, int[] Counts) Run()
        {
            Emu.Launch(Emu.Kernel(SharedMemoryTests.Source, "reverse_block"), blocks, block, din, dout);
            var reversed = dout.Download<float>();
            Emu.Launch(Emu.Kernel(WarpTests.Source, "block_sum_shfl"), blocks, block, din, dout, n);
            var sums = dout.Download<float>()[..blocks];
            Emu.Launch(Emu.Kernel(SharedMemoryTests.Source, "barrier_reductions"), 1, 100, counts);
            return (reversed, sums, counts.Download<int>());
        }
        var forward = Run();
        foreach (var order in new[] { "reverse", "random:1", "random:2" })
            With("CUDA_EMU_SCHEDULE", order, () =>
            {
                var other = Run();
                Assert.Equal(forward.Reversed, other.Reversed);
                Assert.Equal(forward.Sums, other.Sums);
                Assert.Equal(forward.Counts, other.Counts);
            });
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void A_small_device_makes_the_caching_allocator_flush_and_then_run_out_of_memory_for_real()
    {
        Emu.MakeCurrent();
        const ulong mib = 1 << 20;
        var (free, total) = Driver.MemoryInfo();
        ulong used = total - free;
        With("CUDA_EMU_MEMORY", (used + 64 * mib).ToString(System.Globalization.CultureInfo.InvariantCulture), () =>
        {
            Assert.Equal(64 * mib, Driver.MemoryInfo().Free);
            using var allocator = new CachingAllocator(new DriverDeviceMemory());
            var a = allocator.Allocate(24 * mib);
            var b = allocator.Allocate(24 * mib);
            Assert.Equal(16 * mib, Driver.MemoryInfo().Free);
            allocator.Free(b);                         // cached, still taken from the device
            var c = allocator.Allocate(30 * mib);      // 30 MiB does not fit: flush the cached 24 MiB, then it does
            Assert.Equal(1, allocator.Stats.Flushes);
            Assert.Equal(0ul, allocator.Stats.Cached);
            var e = Assert.Throws<CudaOutOfMemoryException>(() => allocator.Allocate(20 * mib));
            Emu.Contains("CUDA out of memory: tried to allocate 20.00 MiB (20971520 bytes)", e.Message);
            Emu.Contains("the device has 10.00 MiB (10485760 bytes) free of", e.Message);
            Assert.Equal(2, allocator.Stats.Flushes);
            var message = Emu.Fails(2, () => Driver.MemAlloc(11 * mib));
            Emu.Contains("cannot allocate 11.00 MiB (11534336 bytes): ", message);
            Emu.Contains("(CUDA_EMU_MEMORY)", message);
            allocator.Free(a);
            allocator.Free(c);
            allocator.EmptyCache();
        });
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void The_lenient_mode_counts_exited_threads_as_arrived_as_nvidia_hardware_does()
    {
        Emu.MakeCurrent();
        using var input = DeviceBuffer.Of<int>(Enumerable.Range(0, 64).ToArray());
        using var output = DeviceBuffer.Of<int>(64);
        With("CUDA_EMU_STRICT", "0", () =>
        {
            Emu.Launch(Emu.Kernel(KernelFaultTests.Source, "early_exit"), 1, 64, input, output, 40);
            Assert.Equal(Enumerable.Range(0, 40).Reverse(), output.Download<int>()[..40]);
        });
        Emu.Fails(719, () => Emu.Launch(Emu.Kernel(KernelFaultTests.Source, "early_exit"), 1, 64, input, output, 40));
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void The_watchdog_stops_a_spin_wait_that_would_never_end()
    {
        Emu.MakeCurrent();
        const string spin = """
            extern "C" __global__ void wait_for_flag(volatile int* flag)
            {
                if (threadIdx.x == 0) while (*flag == 0) { }   // thread 1 sets it, but never runs while 0 spins
                else *flag = 1;
            }
            """;
        using var flag = DeviceBuffer.Of<int>([0]);
        With("CUDA_EMU_TIMEOUT", "0.3", () =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var message = Emu.Fails(719, () => Emu.Launch(Emu.Kernel(spin, "wait_for_flag"), 1, 2, flag));
            Emu.Contains("the launch ran longer than CUDA_EMU_TIMEOUT = 0.3 s and was stopped in thread (0,0,0) of block (0,0,0): a spin-wait", message);
            Assert.InRange(clock.ElapsedMilliseconds, 250, 20_000);
        });
        KernelFaultTests.AssertStillWorks();
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Sticky_errors_break_the_context_as_the_driver_does()
    {
        Emu.MakeCurrent();
        nint context = Driver.ContextCreate(0, 0);
        try
        {
            nint store = Driver.ModuleGetFunction(Driver.ModuleLoadData(Nvrtc.CompileToPtx(KernelFaultTests.Source, "emu_tests.cu", Emu.Options)), "store");
            var buffer = Driver.MemAlloc(1024);
            With("CUDA_EMU_STICKY", "1", () =>
            {
                Emu.Fails(700, () => Emu.Launch(store, 1, 1, buffer, 256L + 4096));
                Emu.Contains("the context is broken by an earlier error (CUDA_EMU_STICKY=1): kernel 'store'", Emu.Fails(700, () => Driver.MemAlloc(16)));
                Emu.Fails(700, () => Driver.Synchronize());
            });
        }
        finally
        {
            Driver.ContextDestroy(context);
            Emu.MakeCurrent();
        }
        KernelFaultTests.AssertStillWorks();
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Unknown_options_and_bad_values_are_refused()
    {
        Emu.MakeCurrent();
        Emu.Contains("unknown option 'CUDA_EMU_NOPE'", Emu.Fails(1, () => Emu.SetOption("CUDA_EMU_NOPE", "1")));
        Emu.Contains("'sideways' is not a valid value for CUDA_EMU_SCHEDULE", Emu.Fails(1, () => Emu.SetOption("CUDA_EMU_SCHEDULE", "sideways")));
        Emu.Fails(1, () => Emu.SetOption("CUDA_EMU_MEMORY", "lots"));
    }
}
