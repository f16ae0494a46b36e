using System.Reflection;

namespace Engine.Cuda.Kernels;

/// <summary>
/// One compilation unit of the engine's CUDA C: the prelude, then one <c>.cu</c> file embedded in an engine
/// assembly. <see cref="Discover()"/> finds every unit of every engine assembly, so that a kernel file added to
/// any of them is compiled by CI's NVRTC check (<c>Tests/Cuda/NvrtcCompileTests.cs</c>) and listed by
/// <c>engine cuda kernels</c> without being named in a list.
/// </summary>
/// <remarks>
/// The convention: every embedded resource whose name ends in <c>.cu</c> is a unit. Name it <c>cuda/</c>
/// followed by its path in the project; that path (with <c>/</c> separators) is what <c>#line</c>, and so every
/// compiler message, calls it. A project embeds its kernels with one item, as <c>Ops/Ops.csproj</c> does:
/// <code>
/// &lt;EmbeddedResource Include="**\*.cu" Exclude="$(DefaultItemExcludes)" LogicalName="cuda/%(RecursiveDir)%(Filename)%(Extension)" /&gt;
/// </code>
/// so that <c>Ops/Conv/conv2d.cu</c> becomes the unit <c>Engine.Ops/Conv/conv2d.cu</c>. A unit includes nothing
/// (NVRTC sees no files): what several files share belongs in the prelude. The elementwise ops' units are
/// generated from the ops' own CUDA formulas (<see cref="ElementwiseSource"/>) and listed as
/// <c>generated/unary_exp.cu</c> and so on, under the assembly that declares the op.
/// </remarks>
/// <param name="Name">The assembly's name, <c>/</c>, the file: <c>Engine.Core/elementwise.cu</c>.</param>
/// <param name="File">The file as <c>#line</c> names it: <c>elementwise.cu</c>, <c>Conv/conv2d.cu</c>.</param>
/// <param name="Assembly">The assembly that embeds it.</param>
/// <param name="Source">The unit as NVRTC compiles it: the prelude, then the file, each after a <c>#line</c>.</param>
public sealed record KernelUnit(string Name, string File, Assembly Assembly, string Source)
{
    /// <summary>The resource name prefix of kernel files (and of the prelude, in Engine.Core).</summary>
    public const string ResourcePrefix = "cuda/";

    /// <summary>The prefix of engine assemblies' names.</summary>
    public const string AssemblyPrefix = "Engine.";

    /// <summary>Every unit of every engine assembly (<see cref="EngineAssemblies"/>), ordered by name.</summary>
    public static IReadOnlyList<KernelUnit> Discover() => Discover([.. EngineAssemblies()]);

    /// <summary>Every unit embedded in <paramref name="assemblies"/>, whatever their names, ordered by name.</summary>
    public static IReadOnlyList<KernelUnit> Discover(params Assembly[] assemblies) =>
        assemblies.Distinct().SelectMany(Units).OrderBy(u => u.Name, StringComparer.Ordinal).ToArray();

    /// <summary>
    /// The engine's assemblies: those named <c>Engine.*</c> that are loaded, or referenced, directly or not, by a
    /// loaded one or by the entry assembly; loading the references is what brings in <c>Engine.Ops</c> before any
    /// of its types ran. Test assemblies (<c>*.Tests</c>) are walked through but left out: their kernels are
    /// fixtures, not the engine's.
    /// </summary>
    public static IReadOnlyList<Assembly> EngineAssemblies()
    {
        var seen = new Dictionary<string, Assembly>(StringComparer.Ordinal);
        var pending = new Queue<Assembly>(AppDomain.CurrentDomain.GetAssemblies().Append(typeof(KernelUnit).Assembly));
        if (Assembly.GetEntryAssembly() is { } entry) pending.Enqueue(entry);
        while (pending.TryDequeue(out var assembly))
        {
            var name = assembly.GetName().Name ?? "";
            if (IsEngine(name) && !seen.TryAdd(name, assembly)) continue;
            // Only engine assemblies and the entry assembly are walked: the framework's references lead nowhere.
            if (!IsEngine(name) && assembly != Assembly.GetEntryAssembly()) continue;
            foreach (var reference in assembly.GetReferencedAssemblies())
                if (IsEngine(reference.Name ?? "") && !seen.ContainsKey(reference.Name!) && TryLoad(reference) is { } loaded)
                    pending.Enqueue(loaded);
        }
        return seen.Values.Where(a => !a.GetName().Name!.EndsWith(".Tests", StringComparison.Ordinal))
            .OrderBy(a => a.GetName().Name, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The unit's name.</summary>
    public override string ToString() => Name;

    private static IEnumerable<KernelUnit> Units(Assembly assembly)
    {
        var owner = assembly.GetName().Name;
        foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.EndsWith(".cu", StringComparison.Ordinal)))
        {
            // A file embedded without the prefix is still a unit (never silently skipped), named by its resource name.
            var file = resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) ? resource[ResourcePrefix.Length..] : resource;
            file = file.Replace('\\', '/'); // %(RecursiveDir) has the build machine's separator
            var text = KernelSource.ReadResource(assembly, resource)!;
            yield return new KernelUnit($"{owner}/{file}", file, assembly, KernelSource.Assemble(file, text));
        }
        // The elementwise ops' kernels are generated from their declarations, one unit per op: found here too,
        // so that CI's NVRTC check compiles every formula an op declares.
        foreach (var (file, source) in ElementwiseSource.DeclaredIn(assembly))
            yield return new KernelUnit($"{owner}/{file}", file, assembly, source);
    }

    private static bool IsEngine(string name) => name.StartsWith(AssemblyPrefix, StringComparison.Ordinal);

    private static Assembly? TryLoad(AssemblyName name)
    {
        try { return Assembly.Load(name); }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException) { return null; }
    }
}
