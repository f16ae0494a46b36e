using System.Reflection;
using System.Text;

namespace Engine.Cuda.Kernels;

/// <summary>
/// The CUDA C kernels embedded in this assembly, and their assembly into one compilation unit for NVRTC:
/// the prelude (types, the strided layout, the grid-stride loop), then each file, each after a <c>#line</c>
/// directive so that compiler errors name the file and line they came from.
/// </summary>
public static class KernelSource
{
    private const string ResourcePrefix = "Engine.Cuda.Kernels.";

    /// <summary>The prelude every unit starts with.</summary>
    public const string Prelude = "prelude.cuh";

    /// <summary>The most dimensions a strided kernel operand has (<c>ENGINE_MAX_DIMS</c> in the prelude).</summary>
    public const int MaxDims = 8;

    /// <summary>The kernel files (the prelude excluded), by file name.</summary>
    public static IReadOnlyList<string> Files { get; } = typeof(KernelSource).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal))
        .Select(n => n[ResourcePrefix.Length..]).Order(StringComparer.Ordinal).ToArray();

    /// <summary>One embedded file's text.</summary>
    public static string Read(string file)
    {
        using var stream = typeof(KernelSource).Assembly.GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new ArgumentException($"No embedded kernel source '{file}'; there are: {string.Join(", ", Files)}.", nameof(file));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The compilation unit of the prelude and <paramref name="files"/> (all kernel files when none are named).</summary>
    public static string Assemble(params string[] files)
    {
        var unit = new StringBuilder();
        foreach (var file in files.Length == 0 ? Files.Prepend(Prelude) : files.Where(f => f != Prelude).Prepend(Prelude))
            unit.Append("#line 1 \"").Append(file).Append("\"\n").Append(Read(file)).Append('\n');
        return unit.ToString();
    }

    /// <summary>The NVRTC options for compute capability <paramref name="architecture"/> (90 for 9.0): PTX that the driver JIT-compiles.</summary>
    public static IReadOnlyList<string> Options(int architecture)
    {
        if (architecture < 50) throw new ArgumentOutOfRangeException(nameof(architecture), $"compute capability {architecture / 10}.{architecture % 10} is too old for CUDA 12.");
        return [$"--gpu-architecture=compute_{architecture}", "-default-device", "--std=c++17"];
    }
}
