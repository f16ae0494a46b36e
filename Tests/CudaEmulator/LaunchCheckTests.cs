using System.Runtime.InteropServices;
using System.Text;
using Engine.Cuda.Memory;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// Launches and modules the driver rejects, with the driver's error code and the emulator's explanation:
/// bad configurations, pointer parameters outside live device memory, images that are not the emulator's.
/// </summary>
public sealed unsafe class LaunchCheckTests
{
    internal const string Source = """
        extern "C" __global__ void touch(float* p, long long n) { if (threadIdx.x < n) p[threadIdx.x] = 1.0f; }

        extern "C" __global__ void __launch_bounds__(64) bounded(int* out) { out[threadIdx.x] = 1; }

        struct Strided { int ndim; long long sizes[8]; long long strides[8]; };
        extern "C" __global__ void layout(const float* a, Strided la, const double* b, char c, Strided lb, long long n) {}

        __global__ void cpp_linkage(int* out) { out[0] = 1; }
        """;

    private static nint Kernel(string name) => Emu.Kernel(Source, name);

    private static string LaunchFails(int code, string kernel, uint grid, uint block, params object[] args) =>
        Emu.Fails(code, () => Emu.Launch(Kernel(kernel), grid, block, args));

    [GpuFact]
    public void Launch_configurations_outside_the_devices_limits_are_rejected()
    {
        Emu.MakeCurrent();
        using var buffer = DeviceBuffer.Of<float>(1024);
        Emu.Contains("kernel 'touch' (grid (1,1,1), block (1025,1,1)): a block is at most (1024, 1024, 64) and 1024 threads in all",
            LaunchFails(1, "touch", 1, 1025, buffer, 1L));
        Assert.Equal(1, Emu.Launch3D(Kernel("touch"), (1, 1, 1), (32, 32, 2), 0, buffer, 1L));
        Assert.Equal(1, Emu.Launch3D(Kernel("touch"), (1, 65536, 1), (32, 1, 1), 0, buffer, 1L));
        Assert.Equal(1, Emu.Launch3D(Kernel("touch"), (1, 1, 0), (32, 1, 1), 0, buffer, 1L));
        Emu.Contains("__launch_bounds__(64)", Emu.Fails(701, () => Emu.Launch(Kernel("bounded"), 1, 128, buffer)));
        Emu.Launch(Kernel("bounded"), 1, 64, buffer);
        KernelFaultTests.AssertStillWorks();
    }

    [GpuFact]
    public void Pointer_parameters_must_lie_in_live_device_allocations()
    {
        Emu.MakeCurrent();
        var freed = DeviceBuffer.Of<float>(256);
        var stale = freed.Pointer;
        freed.Dispose();
        Emu.Contains($"parameter 0 (a pointer) = {stale} is in a freed allocation #", LaunchFails(1, "touch", 1, 32, stale, 1L));

        var host = new float[64];
        fixed (float* p = host)
            Emu.Contains($"parameter 0 (a pointer) = 0x{(ulong)p:x} is not in any device allocation (a host pointer, or arguments in the wrong order?)",
                LaunchFails(1, "touch", 1, 32, (nint)p, 1L));

        using var buffer = DeviceBuffer.Of<float>(100);
        Emu.Contains($"lies 4 bytes past the end of allocation #", LaunchFails(1, "touch", 1, 32, buffer.Pointer.Offset(404), 1L));
        Emu.Launch(Kernel("touch"), 1, 32, buffer.Pointer.Offset(400), 0L);   // one past the end is a valid pointer

        using var pinned = new PinnedHostBuffer(256);
        Emu.Contains("is in pinned host allocation #", LaunchFails(1, "touch", 1, 32, pinned.Pointer, 1L));
        Emu.Launch(Kernel("touch"), 1, 32, CUdeviceptr.Null, 0L);             // null is allowed
        KernelFaultTests.AssertStillWorks();
    }

    [GpuFact]
    public void Parameter_buffers_and_handles_are_checked()
    {
        Emu.MakeCurrent();
        var launch = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Emu.Export("cuLaunchKernel");
        nint touch = Kernel("touch");
        Assert.Equal(1, launch(touch, 1, 1, 1, 32, 1, 1, 0, 0, null, null));
        Emu.Contains("kernel 'touch' (grid (1,1,1), block (32,1,1)): the kernel has 2 parameters but kernelParams is null", LastErrorString(1));
        void* dummy = null;
        Assert.Equal(1, launch(touch, 1, 1, 1, 32, 1, 1, 0, 0, &dummy, &dummy));
        Assert.Equal(400, launch(12345, 1, 1, 1, 32, 1, 1, 0, 0, null, null));
        Assert.Equal(400, launch(touch, 1, 1, 1, 32, 1, 1, 0, 777, null, null));
        Emu.Contains("stream 0x309 is not a live stream", LastErrorString(400));
    }

    [GpuFact]
    public void Parameter_offsets_and_sizes_follow_the_drivers_layout()
    {
        Emu.MakeCurrent();
        var info = (delegate* unmanaged<nint, nuint, nuint*, nuint*, int>)Emu.Export("cuFuncGetParamInfo");
        nint layout = Kernel("layout");
        var found = new List<(ulong, ulong)>();
        for (nuint i = 0; ; i++)
        {
            nuint offset, size;
            int result = info(layout, i, &offset, &size);
            if (result != 0) { Assert.Equal(1, result); Assert.Equal(6, (int)i); break; }
            found.Add((offset, size));
        }
        Assert.Equal([(0ul, 8ul), (8, 136), (144, 8), (152, 1), (160, 136), (296, 8)], found);
    }

    [GpuFact]
    public void Images_that_are_not_the_emulators_are_rejected_with_the_drivers_codes()
    {
        Emu.MakeCurrent();
        Emu.Contains("real PTX", Emu.Fails(218, () => Driver.ModuleLoadData("//\n// Generated by NVIDIA NVVM Compiler\n.version 8.5\n.target sm_90\n\0"u8)));
        byte[] elf = [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Emu.Contains("a CUBIN (ELF) image", Emu.Fails(200, () => Driver.ModuleLoadData(elf)));
        Assert.Equal(200, Assert.Throws<Engine.Cuda.CudaException>(() => Driver.ModuleLoadData("hello\0"u8)).Code);
        Assert.Equal(200, Assert.Throws<Engine.Cuda.CudaException>(() => Driver.ModuleLoadData("//CUDA-EMU-IMAGE v1\n@@@@\n\0"u8)).Code);
    }

    [GpuFact]
    public void A_missing_or_cpp_linkage_kernel_is_not_found_and_the_error_lists_the_modules_kernels()
    {
        Emu.MakeCurrent();
        nint module = Emu.Module(Source);
        foreach (var name in new[] { "no_such_kernel", "cpp_linkage" })
        {
            Assert.Equal(500, Assert.Throws<Engine.Cuda.CudaException>(() => Driver.ModuleGetFunction(module, name)).Code);
            Emu.Contains($"no kernel '{name}' in the module; it has: touch, bounded, layout (only extern \"C\" kernels are found", LastErrorString(500));
        }
    }

    [GpuFact]
    public void A_module_unloaded_twice_is_an_invalid_handle()
    {
        Emu.MakeCurrent();
        nint module = Driver.ModuleLoadData(Nvrtc.CompileToPtx(Source, "emu_tests.cu", Emu.Options));
        nint touch = Driver.ModuleGetFunction(module, "touch");
        Driver.ModuleUnload(module);
        Emu.Fails(400, () => Driver.ModuleUnload(module));
        using var buffer = DeviceBuffer.Of<float>(32);
        Emu.Contains("is not a live function (its module unloaded?)", Emu.Fails(400, () => Emu.Launch(touch, 1, 32, buffer, 32L)));
    }

    /// <summary>cuGetErrorString for the calling thread's last error (the bindings that drop it, like ModuleGetFunction, lose nothing here).</summary>
    internal static string LastErrorString(int code)
    {
        nint text;
        Assert.Equal(0, ((delegate* unmanaged<int, nint*, int>)Emu.Export("cuGetErrorString"))(code, &text));
        return Marshal.PtrToStringUTF8(text) ?? "";
    }
}
