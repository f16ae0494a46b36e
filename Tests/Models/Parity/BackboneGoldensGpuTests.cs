using Engine.Models.Parity;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Models.Parity;

/// <summary>
/// Every golden of the four backbones, run on the GPU (the CUDA emulator in CI): the model and the input are
/// moved to <c>cuda:0</c>, forward and backward run there, and the output, every gradient and every running
/// statistic must match the reference to 1e-9 in float64 and 1e-4 in float32, the tolerances the CPU meets.
/// The goldens are found by listing the copies under <c>Tests/Data/golden</c>, so a golden added later is run too.
/// </summary>
public class BackboneGoldensGpuTests
{
    private static readonly string[] Backbones = ["affnet", "dualvit", "sequencer", "vheat"];

    private static string CopiedRoot => Path.Combine(AppContext.BaseDirectory, "Data", "golden");

    /// <summary>(golden path under golden/, dtype) for every backbone golden and both float types.</summary>
    public static TheoryData<string, string> Goldens()
    {
        var data = new TheoryData<string, string>();
        foreach (var relative in BackboneGoldens())
            foreach (var dtype in new[] { "F64", "F32" })
                data.Add(relative, dtype);
        return data;
    }

    private static IEnumerable<string> BackboneGoldens() =>
        Backbones.SelectMany(b => Directory.EnumerateFiles(Path.Combine(CopiedRoot, b), "*.safetensors", SearchOption.AllDirectories))
            .Select(f => Path.GetRelativePath(CopiedRoot, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [MemberData(nameof(Goldens))]
    public void The_golden_passes_on_the_gpu(string relative, string dtypeName)
    {
        var dtype = dtypeName == "F64" ? DType.F64 : DType.F32;
        double tolerance = dtype == DType.F64 ? 1e-9 : 1e-4;
        using var golden = GoldenCase.Load(Path.Combine(CopiedRoot, relative));
        var report = ParityRunner.Run(golden, dtype, Device.Cuda(0));
        Assert.Equal(Device.Cuda(0), report.Device);
        Assert.True(report.Passed(tolerance), $"{relative} on {report.DeviceName} in {dtype}:\n{report}");
        // A report whose groups are empty would pass vacuously: the output and the input gradient are always compared.
        Assert.Contains(report.Entries, e => e.Group == "output");
        Assert.Contains(report.Entries, e => e.Group == "grad.input");
    }

    /// <summary>The shared goldens (where the shared tree is next to the repository) all have byte-identical copies here, so the theory above runs every one of them.</summary>
    [SharedGoldenFact]
    public void Every_shared_backbone_golden_is_among_those_run()
    {
        var run = BackboneGoldens().ToHashSet();
        foreach (var backbone in Backbones)
        {
            var dir = Path.Combine(GoldenFiles.SharedRoot!, backbone);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, "*.safetensors", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(GoldenFiles.SharedRoot!, file).Replace('\\', '/');
                Assert.True(run.Contains(relative), $"the shared golden {relative} has no copy under Tests/Data/golden, so it is not run on the GPU");
                Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(CopiedRoot, relative))),
                    $"the copy of {relative} under Tests/Data/golden differs from the shared golden");
            }
        }
    }
}
