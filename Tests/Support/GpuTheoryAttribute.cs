using Xunit;

namespace Engine.Tests.Support;

/// <summary>A data-driven <see cref="GpuFactAttribute"/>: each case runs on a GPU, else the emulator, else is skipped with the reason.</summary>
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
