using System.Runtime.InteropServices;
using System.Text;
using Engine.Cuda;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>The emulator's NVRTC: compile errors on the source's own file:line, options as NVRTC takes them, no
/// libc headers, the preprocessor options, headers given to nvrtcCreateProgram, and the CUBIN entry points.</summary>
public sealed unsafe class NvrtcTests
{
    private static CudaException CompileFails(int code, string source, string name, params string[] extraOptions)
    {
        var e = Assert.Throws<NvrtcCompileException>(() => Nvrtc.CompileToPtx(source, name, [.. Emu.Options, .. extraOptions]));
        Assert.Equal(code, e.Code);
        return e;
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void A_compile_error_is_reported_on_the_sources_own_file_and_line()
    {
        Emu.MakeCurrent();
        const string broken = "#line 1 \"good.cu\"\nextern \"C\" __global__ void fine(int* p) { p[0] = 1; }\n" +
                              "#line 1 \"broken.cu\"\n// a comment\nextern \"C\" __global__ void k(int* p) { p[0] = undefined_name; }\n";
        var e = CompileFails(6, broken, "unit.cu");
        Emu.Contains("nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (6)", e.Message);
        Emu.Contains("broken.cu:2:", e.Message);
        Emu.Contains("'undefined_name' was not declared in this scope", e.Message);
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Libc_headers_are_missing_as_under_nvrtc()
    {
        Emu.MakeCurrent();
        Emu.Contains("cstdint", CompileFails(6, "#include <cstdint>\nextern \"C\" __global__ void k(uint32_t* p) {}\n", "headers.cu").Message);
        Emu.Contains("'int64_t' does not name a type", CompileFails(6, "int64_t x;\n", "types.cu").Message);
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Unknown_options_are_refused_and_code_generation_options_accepted()
    {
        Emu.MakeCurrent();
        Emu.Contains("nvrtc: error: unrecognized option --bogus", CompileFails(5, "", "empty.cu", "--bogus").Message);
        CompileFails(5, "", "empty.cu", "--gpu-architecture=compute_9x");
        var ptx = Nvrtc.CompileToPtx("extern \"C\" __global__ void k(float* p) { p[0] = __expf(1.0f); }\n", "ok.cu",
            [.. Emu.Options, "--use_fast_math", "--fmad=false", "-lineinfo", "--ptxas-options=-v", "-Xptxas", "-v", "-ftz=true",
             "--prec-div=false", "-G", "--std=c++14"]);
        Assert.StartsWith("//CUDA-EMU-IMAGE v1\n", Encoding.ASCII.GetString(ptx, 0, 20));
        foreach (var standard in new[] { "--std=c++11", "-std=c++20" })
            Nvrtc.CompileToPtx("extern \"C\" __global__ void k(int* p) { p[0] = __shfl_sync(0xffffffffu, 1, 0); }\n", "std.cu", [standard]);
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void The_architecture_and_preprocessor_options_reach_the_source()
    {
        Emu.MakeCurrent();
        const string source = """
            extern "C" __global__ void report(int* out)
            {
                out[0] = __CUDA_ARCH__;
                out[1] = VALUE;
            #ifdef GONE
                out[2] = 1;
            #else
                out[2] = 2;
            #endif
            }
            """;
        var ptx = Nvrtc.CompileToPtx(source, "options.cu", ["--gpu-architecture=sm_80", "-DVALUE=41+1", "-DGONE", "-UGONE"]);
        nint module = Driver.ModuleLoadData(ptx);
        try
        {
            using var out_ = DeviceBuffer.Of<int>(3);
            Emu.Launch(Driver.ModuleGetFunction(module, "report"), 1, 1, out_);
            Assert.Equal([800, 42, 2], out_.Download<int>());
        }
        finally { Driver.ModuleUnload(module); }
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void Headers_given_to_create_program_are_includable_and_cubin_is_the_same_image()
    {
        Emu.MakeCurrent();
        nint program;
        var header = Marshal.StringToCoTaskMemUTF8("#define ANSWER 42\n");
        var include = Marshal.StringToCoTaskMemUTF8("sub/answer.h");
        var source = Marshal.StringToCoTaskMemUTF8("#include \"sub/answer.h\"\nextern \"C\" __global__ void k(int* p) { p[0] = ANSWER; }\n");
        var name = Marshal.StringToCoTaskMemUTF8("with_header.cu");
        var option = Marshal.StringToCoTaskMemUTF8("--gpu-architecture=compute_90");
        try
        {
            var create = (delegate* unmanaged<nint*, nint, nint, int, nint*, nint*, int>)Emu.Export("nvrtcCreateProgram");
            Assert.Equal(0, create(&program, source, name, 1, &header, &include));
            Assert.Equal(0, ((delegate* unmanaged<nint, int, nint*, int>)Emu.Export("nvrtcCompileProgram"))(program, 1, &option));
            nuint ptxSize, cubinSize;
            Assert.Equal(0, ((delegate* unmanaged<nint, nuint*, int>)Emu.Export("nvrtcGetPTXSize"))(program, &ptxSize));
            Assert.Equal(0, ((delegate* unmanaged<nint, nuint*, int>)Emu.Export("nvrtcGetCUBINSize"))(program, &cubinSize));
            Assert.Equal(ptxSize, cubinSize);
            var cubin = new byte[(int)cubinSize];
            fixed (byte* c = cubin) Assert.Equal(0, ((delegate* unmanaged<nint, byte*, int>)Emu.Export("nvrtcGetCUBIN"))(program, c));
            Assert.Equal(0, ((delegate* unmanaged<nint*, int>)Emu.Export("nvrtcDestroyProgram"))(&program));
            Assert.Equal(4, ((delegate* unmanaged<nint*, int>)Emu.Export("nvrtcDestroyProgram"))(&program));
            nint module = Driver.ModuleLoadData(cubin);
            try
            {
                using var out_ = DeviceBuffer.Of<int>(1);
                Emu.Launch(Driver.ModuleGetFunction(module, "k"), 1, 1, out_);
                Assert.Equal(42, out_.Download<int>()[0]);
            }
            finally { Driver.ModuleUnload(module); }
        }
        finally
        {
            foreach (var p in new[] { header, include, source, name, option }) Marshal.FreeCoTaskMem(p);
        }
    }

    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void The_emulator_counts_its_work()
    {
        Emu.MakeCurrent();
        var before = Emu.Stats();
        using var buffer = DeviceBuffer.Of<int>(64);
        Emu.Launch(Emu.Kernel(KernelFaultTests.Source, "fill"), 2, 32, buffer, 1);
        var after = Emu.Stats();
        Assert.True(after.Launches > before.Launches);
        Assert.True(after.Threads >= before.Threads + 64);
        Assert.True(after.Compiles + after.CompileCacheHits > 0);
        Assert.True(after.Fibers > 0);
    }
}
