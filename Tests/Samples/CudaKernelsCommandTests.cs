using System.Text.Json;
using Engine.Cuda.Kernels;
using Engine.Cuda.Native;
using Engine.Tests.Gpu;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine cuda kernels</c> as a user runs it: the built command line in its own process. Its figures must be
/// the ones the library reads from NVRTC for the same units; without NVRTC it exits 2 with one line.
/// </summary>
public class CudaKernelsCommandTests
{
    private static (int ExitCode, string Stdout, string Stderr) Engine(string? libnvrtc, params string[] args) =>
        EngineProcess.Run(libnvrtc is null ? null : new Dictionary<string, string> { ["ENGINE_LIBNVRTC"] = libnvrtc }, args);

    [CliAndNvrtcFact]
    public void The_sm90_table_lists_every_kernel_with_the_figures_ptxas_gave_the_library()
    {
        var (code, stdout, stderr) = Engine(null, "cuda", "kernels", "--arch", "sm_90");

        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var json = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        var (major, minor) = Nvrtc.Toolkit.Version();
        Assert.Equal($"{major}.{minor}", json.GetProperty("nvrtc").GetString());
        Assert.Equal(["sm_90"], json.GetProperty("architectures").EnumerateArray().Select(a => a.GetString()));
        Assert.Empty(json.GetProperty("problems").EnumerateArray());
        var units = KernelUnit.Discover();
        Assert.Equal(units.Select(u => u.Name), json.GetProperty("units").EnumerateArray().Select(u => u.GetString()));

        var expected = units.SelectMany(u => NvrtcCompileTests.Build(u, 90).Log.Kernels.OrderBy(k => k.Name, StringComparer.Ordinal)
            .Select(k => $"{u.Name} {k.Name} {k.Architecture} {k.Registers} {k.SpillStores}/{k.SpillLoads} {k.StackFrame} {k.SharedMemory}"));
        var printed = json.GetProperty("kernels").EnumerateArray().Select(k =>
            $"{k.GetProperty("unit").GetString()} {k.GetProperty("kernel").GetString()} {k.GetProperty("arch").GetString()} {k.GetProperty("registers").GetInt32()} "
            + $"{k.GetProperty("spill_stores").GetInt32()}/{k.GetProperty("spill_loads").GetInt32()} {k.GetProperty("stack").GetInt32()} {k.GetProperty("shared").GetInt32()}");
        Assert.Equal(expected, printed);
        Assert.Contains("sum_partials_f64", stdout); // the table, not only the JSON
        Assert.Contains("no error, warning or spill", stdout);
    }

    [CliBuiltFact]
    public void Without_nvrtc_it_exits_2_with_one_line_naming_the_install_command()
    {
        var (code, stdout, stderr) = Engine("/nonexistent/libnvrtc.so.12", "cuda", "kernels");

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("/nonexistent/libnvrtc.so.12", line);
        Assert.Contains("apt-get install libnvrtc11.2 libnvrtc-builtins11.8", line);
    }

    [CliBuiltFact]
    public void An_architecture_that_is_not_sm_xy_exits_2()
    {
        var (code, _, stderr) = Engine(null, "cuda", "kernels", "--arch", "compute_90");

        Assert.Equal(2, code);
        Assert.Contains("'compute_90'", stderr);
    }
}

/// <summary>A test of the built command line that needs NVRTC: skipped, with the reason, where either is missing.</summary>
public sealed class CliAndNvrtcFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the command line is not built or NVRTC cannot be loaded.</summary>
    public CliAndNvrtcFactAttribute()
    {
        if (CliBuiltFactAttribute.EngineDll is null) Skip = "skipped: Samples/Cli is not built in this configuration (dotnet test Engine.sln builds it)";
        else if (Support.NvrtcSkip.Reason is { } reason) Skip = reason;
    }
}
