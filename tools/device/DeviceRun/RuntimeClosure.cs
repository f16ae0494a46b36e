using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// <c>devicerun runtime-files FRAMEWORK APP</c>: the files of the shared framework (<c>Microsoft.NETCore.App</c>)
/// that the managed assemblies in APP can reach, one name a line, so that the pack carries those and not the
/// whole 80 MB runtime. Reach is followed through metadata, type by type: a reference through a facade
/// (<c>netstandard</c>, <c>System.Runtime</c>) counts only the assemblies its forwarded types land in, otherwise
/// every library referencing <c>netstandard</c> would pull in all of them. Assemblies the runtime loads by name
/// (<see cref="AlwaysKept"/>) and the native libraries it needs are added; the debugger's and the alternative
/// GCs' are left out. Nothing is trimmed: an assembly is carried whole or not at all.
/// </summary>
internal static class RuntimeClosure
{
    /// <summary>Loaded by name at run time, so invisible to references: stack traces with line numbers, and the test framework's needs.</summary>
    public static readonly string[] AlwaysKept =
    [
        "System.Private.CoreLib", "System.Runtime", "System.Diagnostics.StackTrace", "System.Reflection.Metadata",
        "System.Collections.Immutable", "System.Runtime.Loader", "System.Console", "System.Private.Uri", "System.Text.Encoding.Extensions",
        "System.Runtime.InteropServices", "System.Threading.Thread", "System.Diagnostics.Process", "System.ComponentModel.Primitives",
    ];

    /// <summary>Native files no run needs: the debugger's data access, alternative GCs, LTTng tracing, the crash dumper.</summary>
    public static readonly string[] NativeDropped =
        ["libmscordaccore.so", "libmscordbi.so", "libclrgc.so", "libclrgcexp.so", "libcoreclrtraceptprovider.so", "createdump"];

    public static int Run(Arguments args)
    {
        bool why = args.Flag("--why");
        var rest = args.Rest();
        if (rest.Count != 2) throw new ArgumentException("runtime-files takes the framework folder and the app folder.");
        var reasons = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in Files(rest[0], rest[1], reasons))
            Console.WriteLine(why && reasons.TryGetValue(Path.GetFileNameWithoutExtension(file), out var by) ? $"{file} <- {by}" : file);
        return 0;
    }

    /// <summary>The framework's file names to keep, sorted; <paramref name="reasons"/> gets, for each assembly, the first one that reached it.</summary>
    public static SortedSet<string> Files(string frameworkDir, string appDir, Dictionary<string, string>? reasons = null)
    {
        var framework = Directory.GetFiles(frameworkDir, "*.dll").Select(Read).OfType<Meta>().ToDictionary(m => m.Name, StringComparer.OrdinalIgnoreCase);
        var needed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var queue = new Queue<Meta>();
        string by = "always kept";
        void Need(string name)
        {
            if (!framework.TryGetValue(name, out var meta) || !needed.Add(meta.Name)) return;
            queue.Enqueue(meta);
            if (reasons is not null) reasons[meta.Name] = by;
        }
        foreach (var name in AlwaysKept) Need(name);
        var app = Directory.GetFiles(appDir, "*.dll").Select(Read).OfType<Meta>().ToList();
        foreach (var meta in app) queue.Enqueue(meta);
        while (queue.Count > 0)
        {
            var meta = queue.Dequeue();
            by = meta.Name;
            foreach (var (scope, types) in meta.ReferencedTypes)
            {
                // A facade references every assembly it forwards to, but only the types someone uses matter.
                if (types.Count == 0 || !framework.TryGetValue(scope, out var target)) continue;
                Need(target.Name);
                foreach (var type in types) Follow(target, type, Need, framework);
            }
        }
        var files = new SortedSet<string>(needed.Select(n => n + ".dll"), StringComparer.Ordinal);
        foreach (var path in Directory.GetFiles(frameworkDir))
        {
            var name = Path.GetFileName(path);
            if (!name.EndsWith(".dll", StringComparison.Ordinal) && !NativeDropped.Contains(name)) files.Add(name);
        }
        return files;
    }

    /// <summary>Follows <paramref name="type"/>'s forwarders from <paramref name="from"/> to the assembly that defines it.</summary>
    private static void Follow(Meta from, string type, Action<string> need, Dictionary<string, Meta> framework)
    {
        for (var at = from; at.Forwarded.TryGetValue(type, out var next) && framework.TryGetValue(next, out var target) && target != at; at = target)
            need(target.Name);
    }

    private sealed record Meta(string Name, Dictionary<string, HashSet<string>> ReferencedTypes, Dictionary<string, string> Forwarded);

    /// <summary>An assembly's name, the types it references grouped by the assembly named as their scope, and its forwarders; null for a native file.</summary>
    private static Meta? Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata) return null;
        var md = pe.GetMetadataReader();
        if (!md.IsAssembly) return null;
        var referenced = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var handle in md.AssemblyReferences)
            referenced[md.GetString(md.GetAssemblyReference(handle).Name)] = [];
        foreach (var handle in md.TypeReferences)
        {
            // A nested type's scope is its enclosing type: climb to the outermost, whose scope is an assembly.
            var reference = md.GetTypeReference(handle);
            while (reference.ResolutionScope.Kind == HandleKind.TypeReference)
                reference = md.GetTypeReference((TypeReferenceHandle)reference.ResolutionScope);
            if (reference.ResolutionScope.Kind != HandleKind.AssemblyReference) continue;
            var scope = md.GetString(md.GetAssemblyReference((AssemblyReferenceHandle)reference.ResolutionScope).Name);
            referenced[scope].Add(Qualified(md, reference.Namespace, reference.Name));
        }
        var forwarded = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var handle in md.ExportedTypes)
        {
            var exported = md.GetExportedType(handle);
            if (exported.IsForwarder && exported.Implementation.Kind == HandleKind.AssemblyReference)
                forwarded[Qualified(md, exported.Namespace, exported.Name)] = md.GetString(md.GetAssemblyReference((AssemblyReferenceHandle)exported.Implementation).Name);
        }
        return new Meta(md.GetString(md.GetAssemblyDefinition().Name), referenced, forwarded);
    }

    private static string Qualified(MetadataReader md, StringHandle ns, StringHandle name) =>
        ns.IsNil || md.GetString(ns).Length == 0 ? md.GetString(name) : md.GetString(ns) + "." + md.GetString(name);
}
