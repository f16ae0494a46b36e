using System.Reflection;
using System.Text;

namespace Engine.Cuda.Kernels;

/// <summary>
/// The CUDA C kernels embedded in this assembly, and their assembly into compilation units for NVRTC: the
/// prelude (types, the strided layout, the grid-stride loop), then each file, each after a <c>#line</c>
/// directive so that compiler errors name the file and line they came from. Kernels of other assemblies are
/// found by <see cref="KernelUnit.Discover()"/>, which assembles them with the same prelude.
/// </summary>
public static class KernelSource
{
    /// <summary>The prelude every unit starts with.</summary>
    public const string Prelude = "prelude.cuh";

    /// <summary>The most dimensions a strided kernel operand has (<c>ENGINE_MAX_DIMS</c> in the prelude).</summary>
    public const int MaxDims = 8;

    private static readonly Assembly Own = typeof(KernelSource).Assembly;

    /// <summary>The kernel files of this assembly (the prelude excluded), by file name.</summary>
    public static IReadOnlyList<string> Files { get; } = Own.GetManifestResourceNames()
        .Where(n => n.StartsWith(KernelUnit.ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal))
        .Select(n => n[KernelUnit.ResourcePrefix.Length..]).Order(StringComparer.Ordinal).ToArray();

    /// <summary>One embedded file's text.</summary>
    public static string Read(string file) =>
        ReadResource(Own, KernelUnit.ResourcePrefix + file)
        ?? throw new ArgumentException($"No embedded kernel source '{file}'; there are: {string.Join(", ", Files)}.", nameof(file));

    /// <summary>The compilation unit of the prelude and <paramref name="files"/> (all kernel files when none are named).</summary>
    public static string Assemble(params string[] files)
    {
        var unit = new StringBuilder();
        foreach (var file in files.Length == 0 ? Files.Prepend(Prelude) : files.Where(f => f != Prelude).Prepend(Prelude))
            Append(unit, file, Read(file));
        return unit.ToString();
    }

    /// <summary>The compilation unit of the prelude and one file of any assembly, <paramref name="text"/>, which <c>#line</c> calls <paramref name="file"/>.</summary>
    public static string Assemble(string file, string text)
    {
        var unit = new StringBuilder();
        Append(unit, Prelude, Read(Prelude));
        Append(unit, file, text);
        return unit.ToString();
    }

    /// <summary>The NVRTC options for compute capability <paramref name="architecture"/> (90 for 9.0): PTX that the driver JIT-compiles.</summary>
    public static IReadOnlyList<string> Options(int architecture)
    {
        if (architecture < 50) throw new ArgumentOutOfRangeException(nameof(architecture), $"compute capability {architecture / 10}.{architecture % 10} is too old for CUDA 12.");
        return [$"--gpu-architecture=compute_{architecture}", "-default-device", "--std=c++17"];
    }

    /// <summary>
    /// <see cref="Options"/> for a CUBIN of the real architecture <c>sm_XY</c> instead of PTX, with ptxas's
    /// <c>-v</c> so that the log reports each kernel's registers, spills, stack and shared memory.
    /// </summary>
    public static IReadOnlyList<string> CubinOptions(int architecture) =>
        [$"--gpu-architecture=sm_{architecture}", .. Options(architecture).Skip(1), "--ptxas-options=-v"];

    /// <summary>An embedded resource's text, or null when the assembly has none of that name.</summary>
    internal static string? ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource);
        if (stream is null) return null;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static void Append(StringBuilder unit, string file, string text) =>
        unit.Append("#line 1 \"").Append(file).Append("\"\n").Append(text).Append('\n');
}
