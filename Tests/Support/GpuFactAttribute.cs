using Xunit;

namespace Engine.Tests.Support;

/// <summary>
/// A test that needs a CUDA device: reported as skipped, with the reason 'skipped: no CUDA device',
/// where there is none, never as passed.
/// </summary>
public sealed class GpuFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when no CUDA device is available.</summary>
    public GpuFactAttribute()
    {
        if (!Engine.Backends.Devices.CudaAvailable) Skip = "skipped: no CUDA device";
    }
}
