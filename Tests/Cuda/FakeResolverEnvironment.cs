using Engine.Cuda;

namespace Engine.Tests.Gpu;

/// <summary>A machine made of a few variables, folders and files, for the library search.</summary>
internal sealed class FakeResolverEnvironment : ResolverEnvironment
{
    public Dictionary<string, string> Variables { get; } = new();
    public HashSet<string> FilePaths { get; } = new();
    public HashSet<string> Folders { get; } = new();

    /// <summary>Adds a file and every folder above it.</summary>
    public FakeResolverEnvironment WithFile(string path)
    {
        FilePaths.Add(path);
        for (var dir = Path.GetDirectoryName(path); !string.IsNullOrEmpty(dir) && dir != "/"; dir = Path.GetDirectoryName(dir)) Folders.Add(dir);
        return this;
    }

    public override string? Variable(string name) => Variables.TryGetValue(name, out var v) ? v : null;
    public override string Home => "/home/u";
    public override bool FileExists(string path) => FilePaths.Contains(path);
    public override bool DirectoryExists(string path) => Folders.Contains(path);

    public override IEnumerable<string> Directories(string path, string pattern) =>
        Folders.Where(f => Path.GetDirectoryName(f) == path && Matches(Path.GetFileName(f), pattern));

    public override IEnumerable<string> Files(string path, string pattern) =>
        FilePaths.Where(f => Path.GetDirectoryName(f) == path && Matches(Path.GetFileName(f), pattern));

    // Only the patterns the resolver uses: a literal prefix followed by '*'.
    private static bool Matches(string name, string pattern) =>
        pattern == "*" || (pattern.EndsWith('*') && name.StartsWith(pattern[..^1], StringComparison.Ordinal));
}
