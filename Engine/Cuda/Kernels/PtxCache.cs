using System.Security.Cryptography;
using System.Text;

namespace Engine.Cuda.Kernels;

/// <summary>
/// Compiled PTX on disk, so that NVRTC runs once per (source, options, architecture, NVRTC version) and not at
/// every start. Each file holds a checksum of its content: a torn or corrupted file is recompiled and
/// rewritten, never loaded. Files are written to a temporary name and renamed, so concurrent processes
/// only ever see whole files. When the folder cannot be written the cache just compiles.
/// </summary>
public sealed class PtxCache
{
    private static readonly byte[] Magic = "ENGINE-PTX/1\n"u8.ToArray();
    private const int HashBytes = 32;

    private readonly Func<string, IReadOnlyList<string>, byte[]> _compile;

    /// <summary>A cache in <paramref name="directory"/> over <paramref name="compile"/> (source, options → PTX), whose version is <paramref name="compilerVersion"/>.</summary>
    public PtxCache(string directory, string compilerVersion, Func<string, IReadOnlyList<string>, byte[]> compile)
    {
        Folder = directory;
        CompilerVersion = compilerVersion;
        _compile = compile;
    }

    /// <summary>The cache the engine uses: NVRTC, keyed by its version, in <paramref name="folder"/> or <see cref="DefaultDirectory"/>. Needs NVRTC to load.</summary>
    public static PtxCache WithNvrtc(string? folder = null)
    {
        var (major, minor) = Native.Nvrtc.Version();
        return new PtxCache(folder ?? DefaultDirectory(), $"nvrtc {major}.{minor}", (source, options) => Native.Nvrtc.CompileToPtx(source, "engine.cu", options));
    }

    /// <summary>The cache's folder.</summary>
    public string Folder { get; }

    /// <summary>The compiler's version, part of every key.</summary>
    public string CompilerVersion { get; }

    /// <summary>Compilations run by this instance (a hit runs none).</summary>
    public int Compilations { get; private set; }

    /// <summary>The default folder: <c>$XDG_CACHE_HOME/engine/ptx</c>, or <c>~/.cache/engine/ptx</c>.</summary>
    public static string DefaultDirectory(ResolverEnvironment? environment = null)
    {
        var env = environment ?? ResolverEnvironment.System;
        var root = env.Variable("XDG_CACHE_HOME") ?? Path.Combine(env.Home, ".cache");
        return Path.Combine(root, "engine", "ptx");
    }

    /// <summary>The hex SHA-256 of the four inputs, each length-prefixed so that no two different inputs run together.</summary>
    public static string Key(string source, IReadOnlyList<string> options, int architecture, string compilerVersion)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string part)
        {
            var bytes = Encoding.UTF8.GetBytes(part);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }
        Add(source);
        Add(options.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var option in options) Add(option);
        Add(architecture.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Add(compilerVersion);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The file a key is stored in.</summary>
    public string PathFor(string key) => Path.Combine(Folder, key + ".ptx");

    /// <summary>The PTX of <paramref name="source"/> for <paramref name="architecture"/>, from disk when a valid copy is there.</summary>
    public byte[] GetOrCompile(string source, int architecture, IReadOnlyList<string>? options = null)
    {
        options ??= KernelSource.Options(architecture);
        var path = PathFor(Key(source, options, architecture, CompilerVersion));
        if (TryRead(path) is { } cached) return cached;
        var ptx = _compile(source, options);
        Compilations++;
        TryWrite(path, ptx);
        return ptx;
    }

    private static byte[]? TryRead(string path)
    {
        byte[] file;
        try { file = File.ReadAllBytes(path); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        int header = Magic.Length + HashBytes;
        if (file.Length < header || !file.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return null;
        var payload = file.AsSpan(header);
        return SHA256.HashData(payload).AsSpan().SequenceEqual(file.AsSpan(Magic.Length, HashBytes)) ? payload.ToArray() : null;
    }

    private void TryWrite(string path, byte[] ptx)
    {
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Folder);
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(Magic);
                stream.Write(SHA256.HashData(ptx));
                stream.Write(ptx);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temporary); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
        }
    }
}
