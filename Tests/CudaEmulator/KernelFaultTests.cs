using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// What a GPU shows only as a hang or wrong numbers, reported by the emulator as a launch error whose message
/// names the kernel, the thread and the source line; and after each one, the emulator keeps working.
/// </summary>
public sealed class KernelFaultTests
{
    internal const string Source = """
        struct Pointer { const float* p; };   // a pointer the launch checks cannot see

        extern "C" __global__ void divergent_barrier(int* out)
        {
            if (threadIdx.x < 16) __syncthreads();   // MARK first barrier
            else __syncthreads();                    // MARK second barrier
            out[threadIdx.x] = 1;
        }

        extern "C" __global__ void early_exit(const int* in, int* out, int n)
        {
            __shared__ int s[64];
            unsigned i = threadIdx.x;
            if (i >= n) return;
            s[i] = in[i];
            __syncthreads();                          // MARK early exit barrier
            out[i] = s[n - 1 - i];
        }

        extern "C" __global__ void trap_in_thread_3(int* out)
        {
            if (threadIdx.x == 3) __trap();           // MARK trap
            out[threadIdx.x] = 1;
        }

        extern "C" __global__ void check_positive(const int* in)
        {
            assert(in[threadIdx.x] >= 0);             // MARK assert
        }

        extern "C" __global__ void warp_deadlock(int* out)
        {
            int v = threadIdx.x;
            if (threadIdx.x < 16) v = __shfl_sync(0xffffffffu, v, 0);   // MARK deadlock shuffle
            else __syncthreads();
            out[threadIdx.x] = v;
        }

        extern "C" __global__ void lane_outside_its_mask(int* out)
        {
            out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1, 0);          // MARK own mask
        }

        extern "C" __global__ void overlapping_masks(int* out)
        {
            int v = threadIdx.x < 16 ? __shfl_sync(0xffffffffu, 1, 0) : __shfl_sync(0xffff0000u, 2, 16);
            out[threadIdx.x] = v;
        }

        extern "C" __global__ void exit_while_warp_waits(int* out)
        {
            if (threadIdx.x == 31) return;
            out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
        }

        extern "C" __global__ void store(float* p, long long index) { p[index] = 1.0f; }

        extern "C" __global__ void load_through_struct(Pointer in, float* out) { out[0] = in.p[0]; }

        extern "C" __global__ void divide(const int* a, int* out) { out[0] = 100 / a[0]; }

        __device__ __noinline__ int deep(volatile char* up, int depth)
        {
            volatile char frame[2048];
            frame[0] = (char)depth;
            return depth == 0 ? up[0] : deep(frame, depth - 1) + frame[0];
        }

        extern "C" __global__ void recurse(int* out, int depth) { volatile char top[16]; top[0] = 1; out[0] = deep(top, depth); }

        extern "C" __global__ void dynamic_overrun(float* out, int index)
        {
            extern __shared__ float window[];
            window[index] = 1.0f;
            out[0] = window[0];
        }

        extern "C" __global__ void fill(int* out, int value) { out[threadIdx.x] = value; }
        """;

    private static nint Kernel(string name) => Emu.Kernel(Source, name);

    private static string Line(string marker) =>
        "emu_tests.cu:" + (Source.Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains("MARK " + marker)).i + 1);

    /// <summary>A launch right after an error runs normally.</summary>
    internal static void AssertStillWorks()
    {
        using var buffer = DeviceBuffer.Of<int>(64);
        Emu.Launch(Emu.Kernel(Source, "fill"), 1, 64, buffer, 7);
        Assert.All(buffer.Download<int>(), v => Assert.Equal(7, v));
    }

    private static string LaunchFails(int code, string kernel, uint block, params object[] args)
    {
        var message = Emu.Fails(code, () => Emu.Launch(Kernel(kernel), 1, block, args));
        Emu.Contains($"kernel '{kernel}'", message);
        AssertStillWorks();
        return message;
    }

    [GpuFact]
    public void A_divergent_barrier_names_both_sites()
    {
        Emu.MakeCurrent();
        using var out_ = DeviceBuffer.Of<int>(32);
        var message = LaunchFails(719, "divergent_barrier", 32, out_);
        Emu.Contains($"divergent __syncthreads: thread (16,0,0) of block (0,0,0) at {Line("second barrier")} (__syncthreads) " +
                        $"while 16 threads wait at {Line("first barrier")}", message);
    }

    [GpuFact]
    public void A_thread_that_returns_before_a_barrier_the_others_wait_at_is_reported()
    {
        Emu.MakeCurrent();
        using var input = DeviceBuffer.Of<int>(Enumerable.Range(0, 64).ToArray());
        using var output = DeviceBuffer.Of<int>(64);
        var message = LaunchFails(719, "early_exit", 64, input, output, 40);
        Emu.Contains($"thread (40,0,0) of block (0,0,0) exited while 40 threads wait at __syncthreads ({Line("early exit barrier")})", message);
        // The same kernel is fine when every thread reaches the barrier.
        Emu.Launch(Kernel("early_exit"), 1, 40, input, output, 40);
        Assert.Equal(Enumerable.Range(0, 40).Reverse(), output.Download<int>()[..40]);
    }

    [GpuFact]
    public void Trap_and_assert_end_the_launch_with_the_thread_and_line()
    {
        Emu.MakeCurrent();
        using var out_ = DeviceBuffer.Of<int>(32);
        var trap = LaunchFails(719, "trap_in_thread_3", 32, out_);
        Emu.Contains($"__trap() at {Line("trap")} in thread (3,0,0) of block (0,0,0)", trap);
        using var values = DeviceBuffer.Of<int>([1, 2, -3, 4]);
        var assert = LaunchFails(710, "check_positive", 4, values);
        Emu.Contains("CUDA_ERROR_ASSERT", assert);
        Emu.Contains($"assertion 'in[threadIdx.x] >= 0' failed at {Line("assert")} in thread (2,0,0) of block (0,0,0)", assert);
    }

    [GpuFact]
    public void A_deadlock_between_a_warp_function_and_a_barrier_is_reported_not_hung()
    {
        Emu.MakeCurrent();
        using var out_ = DeviceBuffer.Of<int>(32);
        var message = LaunchFails(719, "warp_deadlock", 32, out_);
        Emu.Contains("deadlock in block (0,0,0): 0 of 32 threads done, 16 at __syncthreads (emu_tests.cu:", message);
        Emu.Contains($"16 at warp functions (__shfl_sync at {Line("deadlock shuffle")}, mask 0xffffffff, lanes 0x0000ffff arrived)", message);
    }

    [GpuFact]
    public void Bad_warp_masks_are_reported()
    {
        Emu.MakeCurrent();
        using var out_ = DeviceBuffer.Of<int>(32);
        Emu.Contains($"__shfl_sync at {Line("own mask")}: lane 16 (thread (16,0,0) of block (0,0,0)) is not in its own mask 0x0000ffff",
            LaunchFails(719, "lane_outside_its_mask", 32, out_));
        Emu.Contains("lanes of warp 0 wait in different warp functions or with different masks: __shfl_sync at emu_tests.cu:",
            LaunchFails(719, "overlapping_masks", 32, out_));
        Emu.Contains("thread (31,0,0) of block (0,0,0) exited while lanes 0x7fffffff of its warp wait for it in __shfl_sync",
            LaunchFails(719, "exit_while_warp_waits", 32, out_));
    }

    [GpuFact]
    public void A_write_just_past_the_end_lands_in_the_red_zone_and_is_reported_after_the_launch()
    {
        Emu.MakeCurrent();
        using var buffer = DeviceBuffer.Of<float>(1000);   // 4000 bytes
        var message = LaunchFails(700, "store", 1, buffer, 1000L);
        Emu.Contains("write at offset +4000 past the end of allocation #", message);
        Emu.Contains($"(4000 bytes at {buffer.Pointer})", message);
        Emu.Launch(Kernel("store"), 1, 1, buffer, 999L);   // the zone was re-armed: the next launch is judged on its own
    }

    [GpuFact]
    public void A_write_far_past_the_end_faults_in_the_allocations_own_guard()
    {
        Emu.MakeCurrent();
        using var buffer = DeviceBuffer.Of<float>(64 * 1024);   // 256 KiB
        long index = 64 * 1024 + 4096;                          // 16 KiB past the end
        var message = LaunchFails(700, "store", 1, buffer, index);
        Emu.Contains("illegal write in thread (0,0,0) of block (0,0,0) at 0x", message);
        Emu.Contains($"past the end of allocation #", message);
        Emu.Contains($"(262144 bytes at {buffer.Pointer}), offset {index * 4}", message);
    }

    [GpuFact]
    public void A_read_of_freed_memory_is_named_use_after_free()
    {
        Emu.MakeCurrent();
        var freed = DeviceBuffer.Of<float>(256);
        var address = freed.Pointer;
        freed.Dispose();
        using var out_ = DeviceBuffer.Of<float>(1);
        var message = LaunchFails(700, "load_through_struct", 1, BitConverter.GetBytes(address.Address), out_);
        Emu.Contains($"illegal read in thread (0,0,0) of block (0,0,0) at {address}, in freed allocation #", message);
        Emu.Contains("(use after free)", message);
    }

    [GpuFact]
    public void Integer_division_by_zero_is_an_arithmetic_exception()
    {
        Emu.MakeCurrent();
        using var zero = DeviceBuffer.Of<int>([0]);
        using var out_ = DeviceBuffer.Of<int>(1);
        Emu.Contains("arithmetic exception in thread (0,0,0) of block (0,0,0): integer division by zero", LaunchFails(719, "divide", 1, zero, out_));
        // And .NET's own handling of faults still works on this thread afterwards.
        object? nothing = null;
        Assert.Throws<NullReferenceException>(() => nothing!.ToString());
    }

    [GpuFact]
    public void A_fiber_stack_overflow_says_to_raise_the_stack()
    {
        Emu.MakeCurrent();
        using var out_ = DeviceBuffer.Of<int>(1);
        Emu.Contains("fiber stack overflow in thread (0,0,0) of block (0,0,0): the kernel's frames outgrew CUDA_EMU_STACK = 64 KiB",
            LaunchFails(700, "recurse", 1, out_, 100));
        Emu.Launch(Kernel("recurse"), 1, 1, out_, 4);   // a shallow recursion fits
        Assert.Equal(1 + 0 + 1 + 2 + 3 + 4, out_.Download<int>()[0]);
    }

    [GpuFact]
    public void Dynamic_shared_memory_ends_at_a_guard()
    {
        Emu.MakeCurrent();
        using var out_ = DeviceBuffer.Of<float>(1);
        var message = Emu.Fails(700, () => Emu.Launch(Kernel("dynamic_overrun"), 1, 1, 4096, out_, 1024));
        Emu.Contains("illegal write in thread (0,0,0) of block (0,0,0) at 0x", message);
        Emu.Contains("past the end of the dynamic shared memory (the launch gave 4096 bytes)", message);
        Emu.Launch(Kernel("dynamic_overrun"), 1, 1, 4096, out_, 1023);
        AssertStillWorks();
    }

    [GpuFact]
    public void A_fault_on_another_managed_thread_is_reported_there_too()
    {
        Emu.MakeCurrent();
        string? message = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Emu.MakeCurrent();
                using var buffer = DeviceBuffer.Of<float>(1024);
                message = Emu.Fails(700, () => Emu.Launch(Kernel("store"), 1, 1, buffer, 1024L + 4096));
                object? nothing = null;
                Assert.Throws<NullReferenceException>(() => nothing!.ToString());
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw new InvalidOperationException("the second thread failed", failure);
        Emu.Contains("past the end of allocation #", message);
        AssertStillWorks();
    }
}
