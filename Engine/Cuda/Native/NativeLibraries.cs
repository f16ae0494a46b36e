using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

/// <summary>
/// Routes the bindings' logical library names (<c>cuda</c>, <c>cublas</c>, <c>cufft</c>, <c>nvrtc</c>) through
/// <see cref="LibraryResolver"/>. .NET allows one resolver per assembly, so this is the only place that sets it;
/// each binding class registers it from its static constructor, before its first call binds.
/// </summary>
internal static class NativeLibraries
{
    private static readonly ConcurrentDictionary<string, Lazy<nint>> Handles = new();
    private static int _registered;

    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    /// <summary>The loaded library, or the resolver's exception; both are remembered, so a missing library is looked for once.</summary>
    public static nint Load(CudaLibrary library) =>
        Handles.GetOrAdd(library.LogicalName, _ => new Lazy<nint>(() => LibraryResolver.System.Load(library))).Value;

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        CudaLibrary.ForLogicalName(name) is { } library ? Load(library) : 0;
}
