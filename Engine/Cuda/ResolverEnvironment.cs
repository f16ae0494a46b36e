namespace Engine.Cuda;

/// <summary>
/// What the library search reads from the machine: environment variables and the filesystem. Tests
/// replace it with a fake, so the order of candidates is checked without any CUDA installed.
/// </summary>
public class ResolverEnvironment
{
    /// <summary>The real machine.</summary>
    public static ResolverEnvironment System { get; } = new();

    /// <summary>An environment variable's value, or null when unset or empty.</summary>
    public virtual string? Variable(string name)
    {
        var value = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrEmpty(value) ? null : value;
    }

    /// <summary>The user's home folder.</summary>
    public virtual string Home => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Whether a file (or a link to one) exists.</summary>
    public virtual bool FileExists(string path) => File.Exists(path);

    /// <summary>Whether a folder exists.</summary>
    public virtual bool DirectoryExists(string path) => Directory.Exists(path);

    /// <summary>The subfolders of <paramref name="path"/> whose names match <paramref name="pattern"/> (full paths); none when it does not exist.</summary>
    public virtual IEnumerable<string> Directories(string path, string pattern)
    {
        try { return Directory.Exists(path) ? Directory.GetDirectories(path, pattern) : []; }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>The files in <paramref name="path"/> whose names match <paramref name="pattern"/> (full paths); none when it does not exist.</summary>
    public virtual IEnumerable<string> Files(string path, string pattern)
    {
        try { return Directory.Exists(path) ? Directory.GetFiles(path, pattern) : []; }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }
}
