using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>Barriers and shared memory on the emulator: visibility across a barrier, the barrier reductions,
/// the per-block poison of shared memory, dynamic shared memory in plain CUDA syntax and its 48 KiB rule,
/// and 3-D blocks.</summary>
public sealed class SharedMemoryTests
{
    internal const string Source = """
        // Reverses each block's values through shared memory: correct only with the barrier.
        extern "C" __global__ void reverse_block(const float* in, float* out)
        {
            __shared__ float s[256];
            unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
            s[t] = in[base + t];
            __syncthreads();
            out[base + t] = s[blockDim.x - 1 - t];
        }

        // Each thread reads its left neighbour's value. Missing barrier: right only when threads run in order.
        extern "C" __global__ void shift_racy(const float* in, float* out)
        {
            __shared__ float s[256];
            unsigned t = threadIdx.x;
            s[t] = in[t];
            out[t] = t > 0 ? s[t - 1] : 0.0f;
        }

        extern "C" __global__ void shift(const float* in, float* out)
        {
            __shared__ float s[256];
            unsigned t = threadIdx.x;
            s[t] = in[t];
            __syncthreads();
            out[t] = t > 0 ? s[t - 1] : 0.0f;
        }

        extern "C" __global__ void barrier_reductions(int* out)
        {
            unsigned t = threadIdx.x;
            int count = __syncthreads_count(t % 3 == 0);
            int all = __syncthreads_and(t < 1000);
            int any = __syncthreads_or(t == 57);
            int not_all = __syncthreads_and(t != 5);
            int none = __syncthreads_or(0);
            if (t == 0) { out[0] = count; out[1] = all; out[2] = any; out[3] = not_all; out[4] = none; }
        }

        // Only block 0 writes its shared array; the other blocks read what nobody wrote in them.
        extern "C" __global__ void read_unwritten_shared(float* out)
        {
            __shared__ float s[64];
            unsigned t = threadIdx.x;
            if (blockIdx.x == 0) s[t] = 1.0f;
            __syncthreads();
            out[blockIdx.x * blockDim.x + t] = s[t];
        }

        // A static shared array in a template device function, as reduce.cu's block_sum.
        template <typename T>
        __device__ T block_max(T v)
        {
            __shared__ T s[128];
            s[threadIdx.x] = v;
            __syncthreads();
            for (unsigned w = blockDim.x / 2; w > 0; w >>= 1)
            {
                if (threadIdx.x < w && s[threadIdx.x + w] > s[threadIdx.x]) s[threadIdx.x] = s[threadIdx.x + w];
                __syncthreads();
            }
            return s[0];
        }

        extern "C" __global__ void max_per_block(const double* in, double* out)
        {
            double m = block_max<double>(in[blockIdx.x * blockDim.x + threadIdx.x]);
            if (threadIdx.x == 0) out[blockIdx.x] = m;
        }

        // Dynamic shared memory as CUDA spells it, declared in the function and at namespace scope: both name
        // the launch's dynamic shared memory.
        extern __shared__ double rotate_window[];

        extern "C" __global__ void dynamic_rotate(const double* in, double* out, int count)
        {
            extern __shared__ __align__(16) double window[];
            for (int i = threadIdx.x; i < count; i += blockDim.x) window[i] = in[i];
            __syncthreads();
            for (int i = threadIdx.x; i < count; i += blockDim.x) out[i] = rotate_window[(i + 1) % count];
        }

        // A 3-D block of a 3-D grid: linear thread ids, a barrier across all of them.
        extern "C" __global__ void block3d(unsigned* out)
        {
            __shared__ unsigned s[512];
            unsigned n = blockDim.x * blockDim.y * blockDim.z;
            unsigned linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
            unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
            s[linear] = 1000 * block + linear;
            __syncthreads();
            out[block * n + linear] = s[n - 1 - linear];
        }
        """;

    private static nint Kernel(string name) => Emu.Kernel(Source, name);

    [GpuFact]
    public void A_barrier_makes_every_threads_shared_write_visible()
    {
        Emu.MakeCurrent();
        const int blocks = 20, block = 256;
        var input = Enumerable.Range(0, blocks * block).Select(i => (float)i).ToArray();
        using var din = DeviceBuffer.Of<float>(input);
        using var dout = DeviceBuffer.Of<float>(input.Length);
        Emu.Launch(Kernel("reverse_block"), blocks, block, din, dout);
        var output = dout.Download<float>();
        for (int b = 0; b < blocks; b++)
            for (int t = 0; t < block; t++) Assert.Equal(input[b * block + block - 1 - t], output[b * block + t]);
    }

    [GpuFact]
    public void Syncthreads_count_and_or_reduce_over_the_block()
    {
        Emu.MakeCurrent();
        using var dout = DeviceBuffer.Of<int>(5);
        Emu.Launch(Kernel("barrier_reductions"), 1, 100, dout);
        Assert.Equal([34, 1, 1, 0, 0], dout.Download<int>());
    }

    [GpuFact]
    public void Shared_memory_nobody_wrote_in_a_block_reads_as_poison_not_as_the_previous_blocks_values()
    {
        Emu.MakeCurrent();
        using var dout = DeviceBuffer.Of<float>(3 * 64);
        Emu.Launch(Kernel("read_unwritten_shared"), 3, 64, dout);
        var output = dout.Download<float>();
        Assert.All(output[..64], v => Assert.Equal(1.0f, v));
        Assert.All(output[64..], v => Assert.Equal(0xFFFFFFFFu, BitConverter.SingleToUInt32Bits(v)));
    }

    [GpuFact]
    public void A_shared_array_in_a_template_device_function_works_per_block()
    {
        Emu.MakeCurrent();
        const int blocks = 5, block = 128;
        var input = Enumerable.Range(0, blocks * block).Select(i => Math.Sin(i) * 1000).ToArray();
        using var din = DeviceBuffer.Of<double>(input);
        using var dout = DeviceBuffer.Of<double>(blocks);
        Emu.Launch(Kernel("max_per_block"), blocks, block, din, dout);
        Assert.Equal(Enumerable.Range(0, blocks).Select(b => input.Skip(b * block).Take(block).Max()), dout.Download<double>());
    }

    [GpuFact]
    public void Dynamic_shared_memory_in_cuda_syntax_is_the_launchs_buffer_at_function_and_namespace_scope()
    {
        Emu.MakeCurrent();
        const int count = 48 * 1024 / sizeof(double);   // exactly the default limit
        var input = Enumerable.Range(0, count).Select(i => (double)i).ToArray();
        using var din = DeviceBuffer.Of<double>(input);
        using var dout = DeviceBuffer.Of<double>(count);
        Emu.Launch(Kernel("dynamic_rotate"), 1, 128, count * sizeof(double), din, dout, count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => (double)((i + 1) % count)), dout.Download<double>());
    }

    [GpuFact]
    public void More_than_48_KiB_of_dynamic_shared_memory_needs_the_attribute_up_to_the_opt_in_limit()
    {
        Emu.MakeCurrent();
        // A module of its own: the attribute belongs to the function, which other tests share.
        nint module = Driver.ModuleLoadData(Nvrtc.CompileToPtx(Source + "\n// attribute test\n", "emu_tests.cu", Emu.Options));
        try { RaiseTheLimit(Driver.ModuleGetFunction(module, "dynamic_rotate")); }
        finally { Driver.ModuleUnload(module); }
    }

    private static void RaiseTheLimit(nint kernel)
    {
        const int count = 64 * 1024 / sizeof(double);
        using var din = DeviceBuffer.Of<double>(Enumerable.Range(0, count).Select(i => (double)i).ToArray());
        using var dout = DeviceBuffer.Of<double>(count);
        var message = Emu.Fails(1, () => Emu.Launch(kernel, 1, 128, count * sizeof(double), din, dout, count));
        Emu.Contains("kernel 'dynamic_rotate'", message);
        Emu.Contains("65536 bytes of dynamic shared memory; the limit is 49152 bytes (48 KiB) unless cuFuncSetAttribute", message);

        Driver.FunctionSetAttribute(kernel, 8, count * sizeof(double));
        Emu.Launch(kernel, 1, 128, count * sizeof(double), din, dout, count);
        Assert.Equal((double)(count - 1), dout.Download<double>()[count - 2]);

        Emu.Contains("opt-in limit of 232448 bytes", Emu.Fails(1, () => Driver.FunctionSetAttribute(kernel, 8, 232448 + 1)));
        Emu.Contains("the emulator sets only 8", Emu.Fails(1, () => Driver.FunctionSetAttribute(kernel, 9, 50)));
    }

    [GpuFact]
    public void Three_dimensional_blocks_and_grids_number_threads_as_the_device_does()
    {
        Emu.MakeCurrent();
        var grid = (X: 2u, Y: 3u, Z: 2u);
        var block = (X: 8u, Y: 4u, Z: 3u);
        int n = (int)(block.X * block.Y * block.Z), blocks = (int)(grid.X * grid.Y * grid.Z);
        using var dout = DeviceBuffer.Of<uint>(n * blocks);
        Assert.Equal(0, Emu.Launch3D(Kernel("block3d"), grid, block, 0, dout));
        var output = dout.Download<uint>();
        for (int b = 0; b < blocks; b++)
            for (int t = 0; t < n; t++) Assert.Equal((uint)(1000 * b + n - 1 - t), output[b * n + t]);
    }
}
