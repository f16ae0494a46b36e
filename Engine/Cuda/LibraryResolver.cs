using System.Runtime.InteropServices;

namespace Engine.Cuda;

/// <summary>
/// Finds and loads the CUDA libraries of CUDA 12 or 13, wherever they were installed. Candidates, in order:
/// <list type="number">
/// <item><c>ENGINE_CUDA_EMULATOR</c>: the CUDA emulator's library (a test library that exports all four on the CPU); when set, the only candidate for every library, with no companions preloaded;</item>
/// <item>the library's own override variable (for example <c>ENGINE_LIBCUBLAS=/path/libcublas.so.12</c>): when set, the only candidate;</item>
/// <item>each versioned name in <c>ENGINE_CUDA_LIBRARY_DIR</c>;</item>
/// <item>each bare versioned name, for <c>dlopen</c>'s own search (<c>LD_LIBRARY_PATH</c>, the ldconfig cache);</item>
/// <item>the toolkit's folders (<c>$CUDA_HOME</c>, <c>$CUDA_PATH</c>, <c>/usr/local/cuda</c>, then <c>/usr/local/cuda-X.Y</c> newest first), or for the driver the system's library folders;</item>
/// <item>the NVIDIA pip wheels' folders under each <c>site-packages</c> found (the active venv or conda, <c>/opt/*/.venv</c>, the user's and the system's).</item>
/// </list>
/// Within a location the newest major comes first. Only files that exist are tried in folders.
/// </summary>
public sealed class LibraryResolver
{
    /// <summary>The variable naming a folder searched before all others, for every library.</summary>
    public const string LibraryDirVariable = "ENGINE_CUDA_LIBRARY_DIR";

    /// <summary>The variable naming the CUDA emulator's library (<c>libcudaemu.so</c>), which stands in for all four libraries.</summary>
    public const string EmulatorVariable = "ENGINE_CUDA_EMULATOR";

    private static readonly string[] DriverFolders = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"];
    private static readonly string[] ToolkitSubfolders = ["lib64", "targets/x86_64-linux/lib"];

    private readonly ResolverEnvironment _env;
    private readonly Func<string, nint> _tryLoad;

    /// <summary>Creates a resolver reading <paramref name="environment"/>; <paramref name="tryLoad"/> loads a name or path and returns 0 on failure.</summary>
    public LibraryResolver(ResolverEnvironment environment, Func<string, nint> tryLoad)
    {
        _env = environment;
        _tryLoad = tryLoad;
    }

    /// <summary>The resolver for this machine, loading with <see cref="NativeLibrary.TryLoad(string, out nint)"/>.</summary>
    public static LibraryResolver System { get; } = new(ResolverEnvironment.System, name => NativeLibrary.TryLoad(name, out var h) ? h : 0);

    /// <summary>Every file or name that <see cref="Load"/> would try for <paramref name="library"/>, in order.</summary>
    public IReadOnlyList<string> Candidates(CudaLibrary library)
    {
        if (_env.Variable(EmulatorVariable) is { } emulator) return [emulator];
        if (_env.Variable(library.OverrideVariable) is { } forced) return [forced];
        var result = new List<string>();
        void AddFolder(string folder)
        {
            foreach (var soname in library.Sonames)
            {
                var path = Path.Combine(folder, soname);
                if (!result.Contains(path) && _env.FileExists(path)) result.Add(path);
            }
        }
        if (_env.Variable(LibraryDirVariable) is { } dir) AddFolder(dir);
        result.AddRange(library.Sonames);
        foreach (var folder in library.IsDriver ? (IEnumerable<string>)DriverFolders : ToolkitFolders()) AddFolder(folder);
        foreach (var sitePackages in SitePackages())
            foreach (var wheel in library.WheelFolders) AddFolder(Path.Combine(sitePackages, wheel));
        return result;
    }

    /// <summary>
    /// Loads <paramref name="library"/> from the first candidate that loads, after its companions from the
    /// same folder; throws <see cref="CudaLibraryNotFoundException"/> listing every candidate otherwise.
    /// </summary>
    public nint Load(CudaLibrary library)
    {
        var candidates = Candidates(library);
        bool emulated = _env.Variable(EmulatorVariable) is not null;
        foreach (var candidate in candidates)
        {
            var folder = Path.GetDirectoryName(candidate);
            if (!emulated && !string.IsNullOrEmpty(folder)) PreloadCompanions(library, folder, candidate);
            var handle = _tryLoad(candidate);
            if (handle != 0) return handle;
        }
        var hint = emulated ? $"{EmulatorVariable} is set, so nothing else was tried."
            : _env.Variable(library.OverrideVariable) is not null
            ? $"{library.OverrideVariable} is set, so nothing else was tried."
            : $"Install the CUDA {(library.IsDriver ? "driver" : "toolkit, or NVIDIA's pip wheels,")} or point {library.OverrideVariable} at the file or {LibraryDirVariable} at its folder."
              + $"\nFolders searched: {string.Join(", ", SearchedFolders(library))}";
        throw new CudaLibraryNotFoundException(library.LogicalName, candidates, hint);
    }

    /// <summary>The folders searched for <paramref name="library"/>, existing or not, for error messages.</summary>
    public IReadOnlyList<string> SearchedFolders(CudaLibrary library)
    {
        var folders = new List<string>();
        if (_env.Variable(LibraryDirVariable) is { } dir) folders.Add(dir);
        folders.AddRange(library.IsDriver ? (IEnumerable<string>)DriverFolders : ToolkitFolders());
        foreach (var sitePackages in SitePackages())
            foreach (var wheel in library.WheelFolders) folders.Add(Path.Combine(sitePackages, wheel));
        if (!library.IsDriver && SitePackages().Count == 0) folders.Add("(no site-packages found for the pip wheels)");
        return folders;
    }

    private void PreloadCompanions(CudaLibrary library, string folder, string candidate)
    {
        // The companion of the same major: libcublas.so.12 wants libcublasLt.so.12, libnvrtc.so.13 wants libnvrtc-builtins.so.13.*.
        var major = candidate[(candidate.LastIndexOf(".so.", StringComparison.Ordinal) + 4)..];
        foreach (var prefix in library.Companions)
            foreach (var file in _env.Files(folder, prefix + major + "*").Order(StringComparer.Ordinal))
                _tryLoad(file);
    }

    private List<string> ToolkitFolders()
    {
        var roots = new List<string>();
        foreach (var variable in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (_env.Variable(variable) is { } root) roots.Add(root);
        roots.Add("/usr/local/cuda");
        roots.AddRange(_env.Directories("/usr/local", "cuda-*").OrderByDescending(ToolkitVersion));
        var folders = new List<string>();
        foreach (var root in roots.Distinct())
            foreach (var sub in ToolkitSubfolders) folders.Add(Path.Combine(root, sub));
        return folders;
    }

    private static Version ToolkitVersion(string folder) =>
        Version.TryParse(Path.GetFileName(folder)["cuda-".Length..], out var v) ? v : new Version(0, 0);

    private List<string> SitePackages()
    {
        var prefixes = new List<string>();
        foreach (var variable in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (_env.Variable(variable) is { } prefix) prefixes.Add(prefix);
        prefixes.AddRange(_env.Directories("/opt", "*").Select(d => Path.Combine(d, ".venv")).Order(StringComparer.Ordinal));
        prefixes.Add(Path.Combine(_env.Home, ".local"));
        prefixes.Add("/usr/local");
        prefixes.Add("/usr");
        var result = new List<string>();
        foreach (var prefix in prefixes.Distinct())
            foreach (var python in _env.Directories(Path.Combine(prefix, "lib"), "python3*").OrderDescending(StringComparer.Ordinal))
                foreach (var name in new[] { "site-packages", "dist-packages" })
                {
                    var folder = Path.Combine(python, name);
                    if (_env.DirectoryExists(folder)) result.Add(folder);
                }
        return result;
    }
}
