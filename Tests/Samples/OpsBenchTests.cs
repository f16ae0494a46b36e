using Engine.Samples.Cli.Bench;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// Keeps <c>engine bench ops</c> from rotting: every case builds and runs a forward and a backward at a
/// tiny size (the case file is compiled into the tests; see Tests.csproj).
/// </summary>
public class OpsBenchTests
{
    [Fact]
    public void EveryCaseRunsOnceAtATinySize()
    {
        foreach (var benchCase in OpsBenchCases.All)
        {
            var timing = OpsBenchCases.Time(benchCase, DType.F32, repeat: 1, divisor: 1 << 20, warmup: 0);
            Assert.True(timing.ForwardMin >= 0 && timing.BackwardMin >= 0, benchCase.Name);
        }
    }

    [Fact]
    public void CaseNamesAreUniqueAndMatchThePyTorchTwin()
    {
        var names = OpsBenchCases.All.Select(c => c.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        var script = FindTorchScript();
        foreach (var name in names)
            Assert.Contains($"\"{name}\":", script);
    }

    private static string FindTorchScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "Samples", "bench", "ops_torch.py");
            if (File.Exists(path)) return File.ReadAllText(path);
        }
        throw new FileNotFoundException("Samples/bench/ops_torch.py not found above the test binaries.");
    }
}
