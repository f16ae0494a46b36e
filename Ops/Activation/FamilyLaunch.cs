using Engine.Cuda.Kernels;

namespace Engine.Ops;

/// <summary>
/// Launch shapes of the CUDA kernels of the activation, loss, regularisation and resize families, all derived from
/// the tensor shapes alone (never from the device), so that the same input gives the same bits everywhere. Grids are
/// capped at <see cref="MaxBlocks"/> blocks of 256 threads: about four waves of an H100 (132 SMs × 2048 threads),
/// enough to hide latency; beyond that every kernel's threads or warps loop (grid-stride), which the tests reach at
/// modest sizes (more than 65,535 rows).
/// </summary>
internal static class FamilyLaunch
{
    /// <summary>The most blocks a launch of these families uses.</summary>
    public const uint MaxBlocks = 4096;

    /// <summary>Threads per block.</summary>
    public const uint Block = 256;

    /// <summary>Rows one per warp, 8 warps per block.</summary>
    public static LaunchConfig WarpRows(long rows) => new((uint)Math.Clamp((rows + Block / 32 - 1) / (Block / 32), 1, MaxBlocks), Block);

    /// <summary>One thread per element (or column, or position).</summary>
    public static LaunchConfig Elements(long count) => LaunchConfig.ForElements(count, Block, MaxBlocks);
}
