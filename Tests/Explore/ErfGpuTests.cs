using Engine.Models.Explore;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Explore;

/// <summary><c>explore erf</c> on a CUDA device (the emulator in CI): the same fields as on the CPU.</summary>
public class ErfGpuTests
{
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_fields_on_the_device_are_the_cpus()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"erf-gpu-{Guid.NewGuid():N}");
        try
        {
            var cpu = ErfReport.Run("cnn", null, "all", images: 4, Path.Combine(dir, "cpu"), cellSize: 2);
            var gpu = ErfReport.Run("cnn", null, "all", images: 4, Path.Combine(dir, "cuda"), cellSize: 2, device: Device.Cuda(0));
            Assert.Equal(cpu.Select(r => r.Map.Stage.Path), gpu.Select(r => r.Map.Stage.Path));
            for (int k = 0; k < cpu.Count; k++)
            {
                Assert.Equal(cpu[k].Map.SupportBox(), gpu[k].Map.SupportBox());
                double scale = cpu[k].Map.Values.Max();
                Assert.True(scale > 0);
                for (int i = 0; i < cpu[k].Map.Values.Count; i++)
                    Assert.True(Math.Abs(cpu[k].Map.Values[i] - gpu[k].Map.Values[i]) <= 1e-4 * scale, $"{cpu[k].Map.Stage.Path} [{i}]: cpu {cpu[k].Map.Values[i]}, cuda {gpu[k].Map.Values[i]}");
                Assert.True(File.Exists(gpu[k].PngPath));
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
