using Xunit;

namespace Engine.Tests.Support;

/// <summary>What a GPU test needs beyond a CUDA driver.</summary>
public enum GpuNeeds
{
    /// <summary>A CUDA driver with a device, real or emulated (the bindings, NVRTC, kernels).</summary>
    Driver,

    /// <summary>The CUDA tensor backend (<c>Backend.For(Device.Cuda(i))</c>), which is not built yet.</summary>
    TensorBackend,
}

/// <summary>
/// A test that needs CUDA: it runs on a real GPU, else on the CUDA emulator, and is otherwise reported as
/// skipped with the reason, never as passed. <see cref="Needs"/> says what it needs beyond a driver.
/// </summary>
public sealed class GpuFactAttribute : FactAttribute
{
    /// <summary>What the test needs; a driver (real or emulated) by default.</summary>
    public GpuNeeds Needs { get; set; } = GpuNeeds.Driver;

    /// <summary>The explicit skip reason, else why this machine cannot run the test, else null.</summary>
    public override string? Skip
    {
        get => base.Skip ?? SkipReason(Needs);
        set => base.Skip = value;
    }

    /// <summary>Why a test needing <paramref name="needs"/> cannot run here, or null when it can.</summary>
    public static string? SkipReason(GpuNeeds needs)
    {
        if (needs == GpuNeeds.TensorBackend && !Engine.Backends.Devices.CudaAvailable)
            return "skipped: needs the CUDA tensor backend (not built yet)";
        if (GpuEnvironment.MissingReason is { } missing) return $"skipped: no CUDA device, and {missing}";
        return Engine.Cuda.Cuda.IsAvailable ? null : $"skipped: no CUDA device ({Engine.Cuda.Cuda.UnavailableReason})";
    }
}

/// <summary>A data-driven <see cref="GpuFactAttribute"/>: every case is skipped, with the reason, where CUDA cannot run.</summary>
public sealed class GpuTheoryAttribute : TheoryAttribute
{
    /// <summary>What the test needs; a driver (real or emulated) by default.</summary>
    public GpuNeeds Needs { get; set; } = GpuNeeds.Driver;

    /// <summary>The explicit skip reason, else why this machine cannot run the test, else null.</summary>
    public override string? Skip
    {
        get => base.Skip ?? GpuFactAttribute.SkipReason(Needs);
        set => base.Skip = value;
    }
}

/// <summary>
/// A test of the path where no CUDA driver loads: skipped when this run has one, real or emulated (the module
/// initializer points the engine at the emulator whenever it was built).
/// </summary>
public sealed class NoCudaFactAttribute : FactAttribute
{
    /// <summary>The explicit skip reason, else why this run has a driver, else null.</summary>
    public override string? Skip
    {
        get => base.Skip ?? (GpuEnvironment.MissingReason is null
            ? $"skipped: this run has a CUDA driver ({GpuEnvironment.Description}); the no-driver path is tested where there is none"
            : null);
        set => base.Skip = value;
    }
}
