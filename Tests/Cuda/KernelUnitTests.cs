using System.Text.RegularExpressions;
using Engine.Cuda.Kernels;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>The enumeration of kernel units, which CI's NVRTC check and <c>engine cuda kernels</c> rely on to miss none.</summary>
public sealed class KernelUnitTests
{
    private static readonly System.Reflection.Assembly Tests = typeof(KernelUnitTests).Assembly;

    [Fact]
    public void The_engine_assemblies_are_found_without_a_list_and_the_tests_are_left_out()
    {
        var names = KernelUnit.EngineAssemblies().Select(a => a.GetName().Name).ToArray();

        Assert.Contains("Engine.Core", names);
        Assert.Contains("Engine.Ops", names);
        Assert.Contains("Engine.Models", names);
        Assert.DoesNotContain("Engine.Tests", names);
        Assert.All(names, n => Assert.StartsWith("Engine.", n));
    }

    [Fact]
    public void Discover_finds_each_core_file_as_its_own_unit_after_the_prelude()
    {
        var units = KernelUnit.Discover();

        var core = units.Where(u => u.Assembly == typeof(KernelSource).Assembly && !u.File.StartsWith("generated/", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["Engine.Core/copy.cu", "Engine.Core/elementwise.cu", "Engine.Core/index.cu", "Engine.Core/philox.cu", "Engine.Core/reduce.cu",
            "Engine.Core/reduction.cu", "Engine.Core/where.cu"], core.Select(u => u.Name));
        Assert.Equal(KernelSource.Files, core.Select(u => u.File));
        Assert.Equal(KernelSource.Assemble("reduce.cu"), core[4].Source); // the same unit the old API builds
        Assert.DoesNotContain(units, u => u.Assembly == Tests);
        Assert.Equal(units.Select(u => u.Name).Order(StringComparer.Ordinal), units.Select(u => u.Name));
    }

    [Fact]
    public void A_cu_file_embedded_in_another_assembly_is_found_named_and_assembled()
    {
        var unit = Assert.Single(KernelUnit.Discover(Tests));

        Assert.Equal("Engine.Tests/Probe/axpy.cu", unit.Name);
        Assert.Equal("Probe/axpy.cu", unit.File);
        Assert.StartsWith("#line 1 \"prelude.cuh\"\n" + KernelSource.Read(KernelSource.Prelude), unit.Source);
        Assert.Contains("\n#line 1 \"Probe/axpy.cu\"\n// A kernel embedded in the test assembly", unit.Source);
        Assert.Equal(2, Regex.Matches(unit.Source, "#line 1 ").Count); // the prelude and the file, once each
    }

    [Fact]
    public void Every_embedded_kernel_file_of_the_engine_follows_the_naming_convention()
    {
        // Discover finds a .cu under any name, but only "cuda/<path>" gives it a readable name in compiler messages.
        foreach (var assembly in KernelUnit.EngineAssemblies())
            foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.EndsWith(".cu", StringComparison.Ordinal) || r.EndsWith(".cuh", StringComparison.Ordinal)))
                Assert.True(resource.StartsWith(KernelUnit.ResourcePrefix, StringComparison.Ordinal), $"{assembly.GetName().Name}: '{resource}' should be named 'cuda/<path>' (see KernelUnit)");
    }

    [Fact]
    public void Cubin_options_are_the_engines_options_for_a_real_architecture_with_ptxas_verbose()
    {
        Assert.Equal(["--gpu-architecture=sm_90", "-default-device", "--std=c++17", "--ptxas-options=-v"], KernelSource.CubinOptions(90));
        Assert.Equal(KernelSource.Options(80).Skip(1), KernelSource.CubinOptions(80).Skip(1).SkipLast(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelSource.CubinOptions(35));
    }
}
