using Engine.Cuda.Kernels;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>The engine's own kernels (Engine/Cuda/Kernels/Sources), compiled by the emulator's NVRTC through PtxCache.</summary>
public sealed class EngineKernelTests
{
    private static readonly Lazy<nint> EngineModule = new(() =>
    {
        var folder = Path.Combine(Path.GetTempPath(), "engine-emu-ptx-" + Guid.NewGuid().ToString("N"));
        try { return Engine.Cuda.Native.Driver.ModuleLoadData(PtxCache.WithNvrtc(folder).GetOrCompile(KernelSource.Assemble(), 90)); }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    });

    private static nint Kernel(string name) => Engine.Cuda.Native.Driver.ModuleGetFunction(EngineModule.Value, name);

    [GpuFact]
    public void Add_contiguous_f32_adds_every_element()
    {
        Emu.MakeCurrent();
        const int n = 100_003;
        var a = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, n).Select(i => 0.5f * i).ToArray();
        using var da = DeviceBuffer.Of<float>(a);
        using var db = DeviceBuffer.Of<float>(b);
        using var dc = DeviceBuffer.Of<float>(n);
        var config = LaunchConfig.ForElements(n);
        Emu.Launch(Kernel("add_contiguous_f32"), config.GridX, config.BlockX, da, db, dc, (long)n);
        var c = dc.Download<float>();
        for (int i = 0; i < n; i++) Assert.Equal(a[i] + b[i], c[i]);
    }
}
