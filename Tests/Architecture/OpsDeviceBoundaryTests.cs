using System.Text.RegularExpressions;
using Xunit;

namespace Engine.Tests.Architecture;

/// <summary>
/// Keeps the operators device-neutral while no GPU is there to catch a slip: under <c>Ops/</c>, host pointers
/// live only in <c>*.Cpu.cs</c>; no operator reads tensor data to the host (<c>ToArray</c>, <c>Item</c>,
/// <c>Values(</c>); and outside <c>*.Cpu.cs</c> no tensor is allocated without naming its device (a tensor made
/// on the default device next to a CUDA input would be silently on the CPU). Every family is in the
/// X.cs / X.Cpu.cs / X.Cuda.cs / X.cu shape, so there are no exceptions.
/// </summary>
public partial class OpsDeviceBoundaryTests
{
    [GeneratedRegex(@"\bCpuBackend\.|\bCpuStorage\b|\bunsafe\b")]
    private static partial Regex HostPointer();

    [GeneratedRegex(@"\.ToArray<|\.Item\(|\.Item<|\bValues\(")]
    private static partial Regex HostRead();

    [GeneratedRegex(@"\bTensor\.(Empty|Zeros|Ones|Full)\(")]
    private static partial Regex Allocation();

    /// <summary>Every rule each file of Ops/ breaks, as "rule at line".</summary>
    private static Dictionary<string, List<string>> Violations()
    {
        var root = Path.Combine(RepositoryRoot(), "Ops");
        var result = new Dictionary<string, List<string>>();
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.StartsWith("bin/", StringComparison.Ordinal) || relative.StartsWith("obj/", StringComparison.Ordinal)) continue;
            bool cpu = relative.EndsWith(".Cpu.cs", StringComparison.Ordinal);
            var lines = File.ReadAllLines(file);
            var found = new List<string>();
            for (int i = 0; i < lines.Length; i++)
            {
                var line = lines[i].TrimStart();
                if (line.StartsWith("//", StringComparison.Ordinal) || line.StartsWith("///", StringComparison.Ordinal)) continue;
                if (!cpu && HostPointer().IsMatch(line)) found.Add($"a host pointer at line {i + 1}");
                if (HostRead().IsMatch(line)) found.Add($"a read to the host at line {i + 1}");
                if (!cpu && Allocation().IsMatch(line) && !line.Contains("evice", StringComparison.Ordinal)) found.Add($"an allocation without a device at line {i + 1}");
            }
            if (found.Count > 0) result[relative] = found;
        }
        return result;
    }

    [Fact]
    public void Operators_keep_host_pointers_in_their_cpu_files_read_nothing_to_the_host_and_allocate_on_a_device()
    {
        var violations = Violations();
        var unexpected = violations.Select(v => $"{v.Key}: {string.Join(", ", v.Value)}").ToList();
        Assert.True(unexpected.Count == 0, "Ops/ files that break the device boundary:\n" + string.Join("\n", unexpected));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Engine.sln above {AppContext.BaseDirectory}: the architecture test reads the sources.");
    }
}
