using Engine.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;
namespace Engine.Tests.CudaEmulator;

// Inside namespace Engine.*, a bare 'Cuda' is the namespace Engine.Cuda; the alias names the class.
using Cuda = Engine.Cuda.Cuda;

/// <summary>Says once, in the test run's output, where the GPU tests run (dotnet test shows xunit's diagnostic messages).</summary>
public sealed class GpuEnvironmentReport
{
    public GpuEnvironmentReport(IMessageSink sink) => sink.OnMessage(new DiagnosticMessage(GpuEnvironment.Description));
}

public sealed class GpuEnvironmentTests : IClassFixture<GpuEnvironmentReport>
{
    [Fact]
    public void The_run_says_where_the_gpu_tests_run()
    {
        Assert.StartsWith("GPU tests ", GpuEnvironment.Description);
        if (GpuEnvironment.EmulatorPath is { } path) Assert.Contains(path, GpuEnvironment.Description);
    }

    [GpuFact]
    public void The_engine_sees_the_driver_the_module_initializer_chose()
    {
        Assert.True(Cuda.IsAvailable);
        Assert.Equal(GpuEnvironment.EmulatorPath is not null, Cuda.IsEmulated);
        if (!Cuda.IsEmulated) return;   // a real GPU: its name and capability are its own
        var device = Cuda.Device(0);
        Assert.Equal("CUDA emulator (CPU)", device.Name);
        Assert.Equal(90, device.Architecture);
        Assert.Equal(132, device.Multiprocessors);
    }
}
