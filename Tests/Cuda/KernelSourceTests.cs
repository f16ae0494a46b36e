using System.Text.RegularExpressions;
using Engine.Cuda.Kernels;
using Xunit;

namespace Engine.Tests.Gpu;

public sealed class KernelSourceTests
{
    [Fact]
    public void The_kernel_files_are_embedded()
    {
        Assert.Equal(["copy.cu", "elementwise.cu", "index.cu", "philox.cu", "reduce.cu", "reduction.cu", "where.cu"], KernelSource.Files);
        Assert.Contains("typedef unsigned long long u64;", KernelSource.Read(KernelSource.Prelude));
    }

    [Theory]
    [InlineData("elementwise.cu", "add_contiguous_##SUFFIX", "add_strided_##SUFFIX", "fill_contiguous_##SUFFIX", "fill_strided_##SUFFIX")]
    [InlineData("reduce.cu", "sum_partials_##SUFFIX", "sum_final_##SUFFIX")]
    [InlineData("philox.cu", "uniform_f32", "uniform_f64", "normal_##SUFFIX", "randint_i64")]
    public void Each_file_declares_its_entry_points_extern_c(string file, params string[] kernels)
    {
        var source = KernelSource.Read(file);
        foreach (var kernel in kernels)
            Assert.Matches(new Regex(@"extern ""C"" __global__ void " + Regex.Escape(kernel) + @"\("), source);
    }

    [Theory]
    [InlineData("elementwise.cu")]
    [InlineData("reduce.cu")]
    [InlineData("philox.cu")]
    public void Type_generic_files_instantiate_f32_and_f64(string file)
    {
        var source = KernelSource.Read(file);
        foreach (Match m in Regex.Matches(source, @"^(DEFINE_\w+)\(", RegexOptions.Multiline))
            Assert.True(source.Contains($"{m.Groups[1].Value}(float, f32)") && source.Contains($"{m.Groups[1].Value}(double, f64)"), m.Groups[1].Value);
    }

    [Fact]
    public void The_unit_starts_with_the_prelude_and_marks_each_file_with_a_line_directive()
    {
        var unit = KernelSource.Assemble("philox.cu");
        Assert.StartsWith("#line 1 \"prelude.cuh\"\n", unit);
        Assert.Contains("#line 1 \"philox.cu\"\n", unit);
        Assert.DoesNotContain("elementwise.cu", unit);
        Assert.Single(Regex.Matches(unit, "prelude.cuh"));

        var all = KernelSource.Assemble();
        foreach (var file in KernelSource.Files) Assert.Contains($"#line 1 \"{file}\"", all);
        Assert.DoesNotContain("#include", all); // NVRTC has no libc headers to include
    }

    [Fact]
    public void The_strided_layout_has_as_many_dims_on_both_sides()
    {
        Assert.Contains($"#define ENGINE_MAX_DIMS {KernelSource.MaxDims}", KernelSource.Read(KernelSource.Prelude));
    }

    [Fact]
    public void An_unknown_file_is_named_in_the_error()
    {
        var e = Assert.Throws<ArgumentException>(() => KernelSource.Read("nope.cu"));
        Assert.Contains("nope.cu", e.Message);
        Assert.Contains("philox.cu", e.Message);
    }

    [Fact]
    public void Options_target_the_devices_compute_capability()
    {
        Assert.Equal(["--gpu-architecture=compute_90", "-default-device", "--std=c++17"], KernelSource.Options(90));
        Assert.Equal("--gpu-architecture=compute_86", KernelSource.Options(86)[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelSource.Options(35));
    }

    [Theory]
    [InlineData(0, 1u)]
    [InlineData(1, 1u)]
    [InlineData(256, 1u)]
    [InlineData(257, 2u)]
    [InlineData(1_000_000, 3907u)]
    [InlineData(256L * 65_535, 65_535u)]
    [InlineData(1L << 32, 65_535u)]
    public void Grids_are_ceil_n_over_256_capped(long count, uint grid)
    {
        var config = LaunchConfig.ForElements(count);
        Assert.Equal(grid, config.GridX);
        Assert.Equal(256u, config.BlockX);
    }

    [Fact]
    public void Grid_sizing_takes_other_blocks_and_caps_and_rejects_bad_ones()
    {
        Assert.Equal(new LaunchConfig(10, 128), LaunchConfig.ForElements(10_000, 128, maxGrid: 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => LaunchConfig.ForElements(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => LaunchConfig.ForElements(10, 2048));
        Assert.Throws<ArgumentOutOfRangeException>(() => LaunchConfig.ForElements(10, 256, 0));
    }
}
