using System.Text;
using Engine.Cuda;
using Engine.Cuda.Kernels;
using Xunit;

namespace Engine.Tests.Gpu;

public sealed class PtxCacheTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "engine-ptx-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    // A fake NVRTC: the "PTX" names what it was compiled from, NUL-terminated as the real one.
    private static byte[] FakeCompile(string source, IReadOnlyList<string> options) =>
        Encoding.UTF8.GetBytes($"// ptx of {source.Length} chars with {string.Join(' ', options)}\0");

    private PtxCache Make(string version = "nvrtc 13.0") => new(_folder, version, FakeCompile);

    [Fact]
    public void The_key_changes_with_each_input()
    {
        string[] options = ["--gpu-architecture=compute_90", "-default-device"];
        var key = PtxCache.Key("src", options, 90, "nvrtc 13.0");
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.Equal(key, PtxCache.Key("src", [.. options], 90, "nvrtc 13.0"));
        Assert.NotEqual(key, PtxCache.Key("src ", options, 90, "nvrtc 13.0"));
        Assert.NotEqual(key, PtxCache.Key("src", ["--gpu-architecture=compute_90"], 90, "nvrtc 13.0"));
        Assert.NotEqual(key, PtxCache.Key("src", options, 89, "nvrtc 13.0"));
        Assert.NotEqual(key, PtxCache.Key("src", options, 90, "nvrtc 12.8"));
        // Length prefixes: moving a character between adjacent options changes the key.
        Assert.NotEqual(PtxCache.Key("s", ["ab", "c"], 90, "v"), PtxCache.Key("s", ["a", "bc"], 90, "v"));
    }

    [Fact]
    public void A_second_request_is_read_from_disk_even_by_another_instance()
    {
        var source = KernelSource.Assemble();
        var first = Make();
        var ptx = first.GetOrCompile(source, 90);
        Assert.Equal(1, first.Compilations);
        Assert.Equal(ptx, first.GetOrCompile(source, 90));
        Assert.Equal(1, first.Compilations);

        var second = Make();
        Assert.Equal(ptx, second.GetOrCompile(source, 90));
        Assert.Equal(0, second.Compilations);
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
    }

    [Fact]
    public void Another_architecture_or_compiler_version_compiles_again()
    {
        var cache = Make();
        cache.GetOrCompile("k", 90);
        cache.GetOrCompile("k", 80);
        Assert.Equal(2, cache.Compilations);
        var newer = Make("nvrtc 13.1");
        newer.GetOrCompile("k", 90);
        Assert.Equal(1, newer.Compilations);
        Assert.Equal(3, Directory.GetFiles(_folder, "*.ptx").Length);
    }

    [Theory]
    [InlineData("truncate")]
    [InlineData("flip")]
    [InlineData("empty")]
    [InlineData("garbage")]
    public void A_corrupted_file_is_recompiled_and_rewritten(string damage)
    {
        var cache = Make();
        var ptx = cache.GetOrCompile("kernel", 90);
        var path = cache.PathFor(PtxCache.Key("kernel", KernelSource.Options(90), 90, cache.CompilerVersion));
        var bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "truncate": File.WriteAllBytes(path, bytes[..^3]); break;
            case "flip": bytes[^2] ^= 0x20; File.WriteAllBytes(path, bytes); break;
            case "empty": File.WriteAllBytes(path, []); break;
            default: File.WriteAllText(path, "not a cache file"); break;
        }

        var again = Make();
        Assert.Equal(ptx, again.GetOrCompile("kernel", 90));
        Assert.Equal(1, again.Compilations);
        var third = Make();
        Assert.Equal(ptx, third.GetOrCompile("kernel", 90));
        Assert.Equal(0, third.Compilations);
    }

    [Fact]
    public void An_unwritable_folder_only_costs_a_compilation()
    {
        Directory.CreateDirectory(_folder);
        var blocked = Path.Combine(_folder, "file-not-folder");
        File.WriteAllText(blocked, "");
        var cache = new PtxCache(blocked, "v", FakeCompile);
        Assert.Equal(cache.GetOrCompile("k", 90), cache.GetOrCompile("k", 90));
        Assert.Equal(2, cache.Compilations);
    }

    [Fact]
    public void The_default_folder_follows_xdg_cache_home_then_the_home_cache()
    {
        var env = new FakeResolverEnvironment();
        Assert.Equal("/home/u/.cache/engine/ptx", PtxCache.DefaultDirectory(env));
        env.Variables["XDG_CACHE_HOME"] = "/xdg";
        Assert.Equal("/xdg/engine/ptx", PtxCache.DefaultDirectory(env));
    }
}
