using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// Which vector width the CPU kernels of this library run: 512 bits where the processor executes
/// <see cref="Vector512{T}"/> natively (AVX-512; <c>DOTNET_EnableAVX512=0</c> turns it off for a process; .NET 10 ignores the older <c>DOTNET_EnableAVX512F</c>),
/// 256 bits otherwise. The kernels that have both widths do the same operations on every lane in the same
/// order, so the two give the same bits; the tests switch <see cref="Use512"/> off to check the narrow path
/// on a machine that has both.
/// </summary>
internal static class VectorWidth
{
    /// <summary>True to run the 512-bit kernels; starts as <see cref="Vector512.IsHardwareAccelerated"/>.</summary>
    internal static bool Use512 = Vector512.IsHardwareAccelerated;
}
