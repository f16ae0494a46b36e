using Engine.Cuda;
using Xunit;

namespace Engine.Tests.Gpu;

public sealed class LibraryResolverTests
{
    private static (LibraryResolver Resolver, List<string> Attempts) Make(FakeResolverEnvironment env, Func<string, bool>? loads = null)
    {
        var attempts = new List<string>();
        var resolver = new LibraryResolver(env, name => { attempts.Add(name); return loads?.Invoke(name) == true ? 42 : 0; });
        return (resolver, attempts);
    }

    [Fact]
    public void Bare_sonames_come_first_newest_major_first_then_the_toolkit_then_the_wheels()
    {
        var env = new FakeResolverEnvironment()
            .WithFile("/usr/local/cuda/lib64/libcublas.so.12")
            .WithFile("/usr/local/cuda-12.9/targets/x86_64-linux/lib/libcublas.so.12")
            .WithFile("/usr/local/cuda-13.0/lib64/libcublas.so.13")
            .WithFile("/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cublas/lib/libcublas.so.12")
            .WithFile("/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        var (resolver, _) = Make(env);

        Assert.Equal(
        [
            "libcublas.so.13", "libcublas.so.12",
            "/usr/local/cuda/lib64/libcublas.so.12",
            "/usr/local/cuda-13.0/lib64/libcublas.so.13",
            "/usr/local/cuda-12.9/targets/x86_64-linux/lib/libcublas.so.12",
            "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
            "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cublas/lib/libcublas.so.12",
        ], resolver.Candidates(CudaLibrary.CuBlas));
    }

    [Fact]
    public void Cuda_home_and_the_library_dir_variable_come_before_the_default_toolkit()
    {
        var env = new FakeResolverEnvironment()
            .WithFile("/mine/libcufft.so.11")
            .WithFile("/toolkit/lib64/libcufft.so.12")
            .WithFile("/usr/local/cuda/lib64/libcufft.so.12");
        env.Variables["ENGINE_CUDA_LIBRARY_DIR"] = "/mine";
        env.Variables["CUDA_HOME"] = "/toolkit";
        var (resolver, _) = Make(env);

        Assert.Equal(
            ["/mine/libcufft.so.11", "libcufft.so.12", "libcufft.so.11", "/toolkit/lib64/libcufft.so.12", "/usr/local/cuda/lib64/libcufft.so.12"],
            resolver.Candidates(CudaLibrary.CuFft));
    }

    [Fact]
    public void The_per_library_override_is_the_only_candidate_and_the_error_says_so()
    {
        var env = new FakeResolverEnvironment().WithFile("/usr/local/cuda/lib64/libnvrtc.so.13");
        env.Variables["ENGINE_LIBNVRTC"] = "/custom/libnvrtc.so.12";
        var (resolver, attempts) = Make(env);

        Assert.Equal(["/custom/libnvrtc.so.12"], resolver.Candidates(CudaLibrary.Nvrtc));
        var e = Assert.Throws<CudaLibraryNotFoundException>(() => resolver.Load(CudaLibrary.Nvrtc));
        Assert.Equal(["/custom/libnvrtc.so.12"], attempts);
        Assert.Contains("ENGINE_LIBNVRTC is set", e.Message);
    }

    [Fact]
    public void The_driver_is_looked_for_in_the_system_folders_never_in_the_toolkit_stubs()
    {
        var env = new FakeResolverEnvironment()
            .WithFile("/usr/local/cuda/lib64/stubs/libcuda.so")
            .WithFile("/usr/local/cuda/lib64/libcuda.so.1")
            .WithFile("/usr/local/nvidia/lib64/libcuda.so.1");
        var (resolver, _) = Make(env);

        Assert.Equal(["libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1"], resolver.Candidates(CudaLibrary.Driver));
    }

    [Fact]
    public void Load_returns_the_first_candidate_that_loads_after_its_companion_from_the_same_folder()
    {
        var env = new FakeResolverEnvironment()
            .WithFile("/usr/local/cuda/lib64/libcublasLt.so.12")
            .WithFile("/usr/local/cuda/lib64/libcublas.so.12");
        var (resolver, attempts) = Make(env, name => name.StartsWith('/'));

        Assert.Equal(42, resolver.Load(CudaLibrary.CuBlas));
        Assert.Equal(["libcublas.so.13", "libcublas.so.12", "/usr/local/cuda/lib64/libcublasLt.so.12", "/usr/local/cuda/lib64/libcublas.so.12"], attempts);
    }

    [Fact]
    public void Nvrtc_preloads_its_builtins_of_the_same_major()
    {
        var env = new FakeResolverEnvironment()
            .WithFile("/w/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13")
            .WithFile("/w/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc-builtins.so.13.0")
            .WithFile("/w/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc-builtins.so.12.8");
        env.Variables["VIRTUAL_ENV"] = "/w";
        var (resolver, attempts) = Make(env, name => name.StartsWith('/'));

        resolver.Load(CudaLibrary.Nvrtc);
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2",
            "/w/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc-builtins.so.13.0",
            "/w/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13"], attempts);
    }

    [Fact]
    public void Cuda_11s_nvrtc_comes_last_and_preloads_the_builtins_of_its_major_not_of_its_soname()
    {
        // Debian 12's libnvrtc11.2 (CUDA 11.8): the soname says 11.2, the builtins it opens say 11.8.
        const string lib = "/usr/lib/x86_64-linux-gnu";
        var env = new FakeResolverEnvironment()
            .WithFile($"{lib}/libnvrtc.so.11.2")
            .WithFile($"{lib}/libnvrtc.so.11.8.89")
            .WithFile($"{lib}/libnvrtc-builtins.so.11.8")
            .WithFile($"{lib}/libnvrtc-builtins.so.11.8.89")
            .WithFile($"{lib}/libnvrtc-builtins.so.12.8")
            .WithFile($"{lib}/libnvrtc-builtins.so.110.0"); // no such major: it checks that "11*" stops at the dot
        env.Variables["ENGINE_CUDA_LIBRARY_DIR"] = lib;
        var (resolver, attempts) = Make(env, name => name == $"{lib}/libnvrtc.so.11.2");

        Assert.Equal([$"{lib}/libnvrtc.so.11.2", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"], resolver.Candidates(CudaLibrary.Nvrtc));
        Assert.Equal(42, resolver.Load(CudaLibrary.Nvrtc));
        Assert.Equal([$"{lib}/libnvrtc-builtins.so.11.8", $"{lib}/libnvrtc-builtins.so.11.8.89", $"{lib}/libnvrtc.so.11.2"], attempts);
    }

    [Fact]
    public void Without_a_folder_the_bare_cuda_11_soname_is_tried_after_13_and_12()
    {
        var (resolver, attempts) = Make(new FakeResolverEnvironment(), name => name == "libnvrtc.so.11.2");

        Assert.Equal(42, resolver.Load(CudaLibrary.Nvrtc));
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"], attempts);
    }

    [Fact]
    public void When_nothing_loads_the_message_names_every_candidate_and_folder()
    {
        var env = new FakeResolverEnvironment().WithFile("/usr/local/cuda-12.4/lib64/libcufft.so.11");
        var (resolver, _) = Make(env);

        var e = Assert.Throws<CudaLibraryNotFoundException>(() => resolver.Load(CudaLibrary.CuFft));
        Assert.Contains("'cufft'", e.Message);
        Assert.Contains("libcufft.so.12", e.Message);
        Assert.Contains("/usr/local/cuda-12.4/lib64/libcufft.so.11", e.Message);
        Assert.Contains("/usr/local/cuda/targets/x86_64-linux/lib", e.Message);
        Assert.Contains("ENGINE_LIBCUFFT", e.Message);
        Assert.Contains("ENGINE_CUDA_LIBRARY_DIR", e.Message);
        Assert.Equal(3, e.Tried.Count);
    }

    [Fact]
    public void Every_library_lists_cuda_13_and_12_names_newest_first_and_nvrtc_also_cuda_11s()
    {
        Assert.Equal(["libcublas.so.13", "libcublas.so.12"], CudaLibrary.CuBlas.Sonames);
        Assert.Equal(["libcufft.so.12", "libcufft.so.11"], CudaLibrary.CuFft.Sonames);
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"], CudaLibrary.Nvrtc.Sonames);
        Assert.Equal(["libcuda.so.1"], CudaLibrary.Driver.Sonames);
    }

    [Fact]
    public void The_emulator_variable_is_the_only_candidate_for_all_four_libraries_even_over_their_own_overrides()
    {
        var env = new FakeResolverEnvironment().WithFile("/usr/local/cuda/lib64/libcublas.so.13").WithFile("/usr/local/nvidia/lib64/libcuda.so.1");
        env.Variables["ENGINE_CUDA_EMULATOR"] = "/build/libcudaemu.so";
        env.Variables["ENGINE_LIBNVRTC"] = "/custom/libnvrtc.so.12";
        env.Variables["ENGINE_CUDA_LIBRARY_DIR"] = "/usr/local/cuda/lib64";
        var (resolver, _) = Make(env);

        foreach (var library in CudaLibrary.All) Assert.Equal(["/build/libcudaemu.so"], resolver.Candidates(library));
    }

    [Fact]
    public void With_the_emulator_no_companion_is_preloaded()
    {
        var env = new FakeResolverEnvironment()
            .WithFile("/build/libcudaemu.so")
            .WithFile("/build/libcublasLt.so.emu")
            .WithFile("/build/libnvrtc-builtins.so.emu");
        env.Variables["ENGINE_CUDA_EMULATOR"] = "/build/libcudaemu.so";
        var (resolver, attempts) = Make(env, name => name == "/build/libcudaemu.so");

        foreach (var library in CudaLibrary.All) Assert.Equal(42, resolver.Load(library));
        Assert.Equal(Enumerable.Repeat("/build/libcudaemu.so", CudaLibrary.All.Count), attempts);
    }

    [Fact]
    public void When_the_emulator_does_not_load_the_error_says_the_variable_is_set()
    {
        var env = new FakeResolverEnvironment();
        env.Variables["ENGINE_CUDA_EMULATOR"] = "/missing/libcudaemu.so";
        var (resolver, attempts) = Make(env);

        var e = Assert.Throws<CudaLibraryNotFoundException>(() => resolver.Load(CudaLibrary.Driver));
        Assert.Equal(["/missing/libcudaemu.so"], attempts);
        Assert.Contains("ENGINE_CUDA_EMULATOR is set, so nothing else was tried.", e.Message);
    }
}
