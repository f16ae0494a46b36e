using Engine.Cuda.Kernels;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>
/// The NVRTC log reader on logs captured from the real NVRTC 11.8 (Debian 12's libnvrtc11.2) with
/// <c>--ptxas-options=-v</c>, kept in <c>Tests/Data/nvrtc</c>: the figures are read off the text by hand.
/// </summary>
public sealed class NvrtcLogTests
{
    private static NvrtcLog Captured(string file) => NvrtcLog.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "nvrtc", file)));

    [Fact]
    public void Sm90_kernels_have_registers_and_stack_but_ptxas_11_8_gives_no_constant_memory()
    {
        var log = Captured("sm_90-philox.log");

        Assert.Equal(["randint_i64", "normal_f64", "normal_f32", "uniform_f64", "uniform_f32"], log.Kernels.Select(k => k.Name));
        Assert.All(log.Kernels, k => Assert.Equal("sm_90", k.Architecture));
        Assert.Equal(new KernelResources("normal_f64", "sm_90", 32, 48, 0, 0, 0, null), log.Kernels[1]);
        Assert.Equal(new KernelResources("uniform_f32", "sm_90", 23, 0, 0, 0, 0, null), log.Kernels[4]);
        Assert.Equal(272, log.GlobalMemory);
        Assert.Empty(log.Diagnostics);
        Assert.DoesNotContain(log.Kernels, k => k.Spills);
    }

    [Fact]
    public void Out_of_line_callees_are_kept_apart_from_the_kernel_that_calls_them()
    {
        var log = Captured("sm_90-philox.log");

        Assert.Equal(
        [
            new CalleeResources("__internal_trig_reduction_slowpathd", "normal_f64", "sm_90", 0, 0, 0),
            new CalleeResources("__internal_trig_reduction_slowpathd", "normal_f32", "sm_90", 0, 0, 0),
        ], log.Callees);
    }

    [Fact]
    public void Sm80_lines_carry_static_shared_memory_and_constant_banks()
    {
        var log = Captured("sm_80-reduce.log");

        Assert.Equal(
        [
            new KernelResources("sum_final_f64", "sm_80", 12, 0, 0, 0, 2048, 376),
            new KernelResources("sum_partials_f64", "sm_80", 32, 0, 0, 0, 2048, 376),
            new KernelResources("sum_final_f32", "sm_80", 10, 0, 0, 0, 1024, 376),
            new KernelResources("sum_partials_f32", "sm_80", 24, 0, 0, 0, 1024, 376),
        ], log.Kernels);
        Assert.Equal(0, log.GlobalMemory);
    }

    [Fact]
    public void Spills_and_ptxas_warnings_are_read_from_a_starved_compile()
    {
        // elementwise.cu with --maxrregcount=16: ptxas raises it to 24 with a warning, and the strided kernels spill.
        var log = Captured("sm_80-elementwise-maxrregcount-16.log");

        var warning = Assert.Single(log.Diagnostics);
        Assert.Equal(new CompilerDiagnostic("warning", "ptxas", 0, "For profile sm_80 adjusting per thread register count of 16 to lower bound of 24"), warning);
        Assert.Equal(8, log.Kernels.Count);
        Assert.Equal(new KernelResources("add_strided_f64", "sm_80", 24, 56, 108, 136, 0, 816), log.Kernels.Single(k => k.Name == "add_strided_f64"));
        Assert.Equal(["fill_strided_f64", "add_strided_f64", "fill_strided_f32", "add_strided_f32"], log.Kernels.Where(k => k.Spills).Select(k => k.Name));
        Assert.All(log.Kernels.Where(k => k.Name.Contains("contiguous")), k => Assert.False(k.Spills));
    }

    [Fact]
    public void Front_end_errors_and_warnings_name_their_file_and_line()
    {
        var log = Captured("sm_80-error-and-warning.log");

        Assert.Equal(
        [
            new CompilerDiagnostic("error", "bad.cu", 4, "identifier \"y\" is undefined"),
            new CompilerDiagnostic("warning", "bad.cu", 3, "variable \"unused\" was declared but never referenced"),
            new CompilerDiagnostic("error", "nvrtc", 0, "1 error detected in the compilation of \"Tests/bad.cu\"."),
        ], log.Diagnostics);
        Assert.Equal("bad.cu:4: error: identifier \"y\" is undefined", log.Diagnostics[0].ToString());
        Assert.Empty(log.Kernels);
    }

    [Fact]
    public void An_empty_log_has_nothing_and_unknown_lines_are_skipped()
    {
        Assert.Empty(NvrtcLog.Parse("").Kernels);
        var log = NvrtcLog.Parse("ptxas info    : Compiling entry function 'k' for 'sm_90'\nptxas info    : Compile time = 1.2 ms\n"
            + "ptxas info    : Used 7 registers, used 1 barriers, 8 bytes smem, 16 bytes cmem[0], 4 bytes cmem[2]\r\n");
        Assert.Equal(new KernelResources("k", "sm_90", 7, 0, 0, 0, 8, 20), Assert.Single(log.Kernels));
        Assert.Empty(log.Diagnostics);
    }
}
