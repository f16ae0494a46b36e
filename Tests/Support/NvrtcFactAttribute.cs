using Engine.Cuda.Native;
using Xunit;

namespace Engine.Tests.Support;

/// <summary>
/// A test that needs NVRTC (no GPU): reported as skipped where NVRTC cannot be loaded, with the reason and how
/// to install it, never as passed.
/// </summary>
public sealed class NvrtcFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when NVRTC cannot be loaded.</summary>
    public NvrtcFactAttribute()
    {
        if (NvrtcSkip.Reason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs NVRTC; see <see cref="NvrtcFactAttribute"/>.</summary>
public sealed class NvrtcTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when NVRTC cannot be loaded.</summary>
    public NvrtcTheoryAttribute()
    {
        if (NvrtcSkip.Reason is { } reason) Skip = reason;
    }
}

internal static class NvrtcSkip
{
    /// <summary>The skip message, or null when NVRTC loads.</summary>
    public static string? Reason => Nvrtc.Toolkit.IsAvailable ? null : $"skipped: {Nvrtc.Toolkit.UnavailableReason}. To install: {Nvrtc.InstallHint}";
}
