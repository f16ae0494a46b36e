using System.Runtime.Intrinsics.X86;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// The GEMM kernel follows the process's instruction set, not just the tests' per-thread switches: a child
/// process started with <c>DOTNET_EnableAVX512=0</c> runs the AVX2 kernel (and measures the AVX2 peak), one
/// without it runs AVX-512 exactly where the hardware has it; both get products that agree with a float64
/// reference (<c>bench gemm</c> checks sampled elements and reports the worst relative error).
/// </summary>
/// <remarks>
/// .NET 10 reads <c>DOTNET_EnableAVX512</c>; the <c>DOTNET_EnableAVX512F</c> of earlier runtimes is ignored there
/// (measured: the kernel stayed AVX-512 with it), so the child gets both.
/// </remarks>
public class GemmKernelSelectionTests
{
    [CliBuiltFact]
    public void Avx512EnvironmentSwitch_SelectsTheKernel_AndBothAreCorrect()
    {
        bool fma = Fma.IsSupported && Avx2.IsSupported;
        // This process may itself run with AVX-512 switched off: ask the hardware too.
        bool avx512 = Avx512F.IsSupported || HardwareHasAvx512F();
        foreach (var (env, expected) in new[] { ("0", fma ? "AVX2+FMA" : "portable"), ("1", avx512 && fma ? "AVX-512" : fma ? "AVX2+FMA" : "portable") })
        {
            foreach (var dtype in new[] { "f32", "f64" })
            {
                var (code, stdout, stderr) = EngineProcess.Run(new Dictionary<string, string> { ["DOTNET_EnableAVX512"] = env, ["DOTNET_EnableAVX512F"] = env },
                    "bench", "gemm", "--size", "203", "--repeat", "1", "--threads", "2", "--dtype", dtype, "--max-load", "100000");
                Assert.True(code == 0, stderr);
                var json = EngineProcess.LastJsonLine(stdout);
                Assert.Equal(expected, json.GetProperty("kernel").GetString());
                if (fma) Assert.Equal(expected == "AVX-512" ? "AVX-512" : "AVX2", json.GetProperty("peak_isa").GetString());
                double tolerance = dtype == "f32" ? 203 * Math.Pow(2, -23) : 203 * Math.Pow(2, -52);
                Assert.InRange(json.GetProperty("sample_max_rel_err").GetDouble(), 0, tolerance);
            }
        }
    }

    // The CPU's own flags, independent of the runtime's switches (Linux; elsewhere the runtime's answer stands).
    private static bool HardwareHasAvx512F() =>
        File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Split(' ').Contains("avx512f"));
}
