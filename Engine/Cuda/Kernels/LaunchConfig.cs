namespace Engine.Cuda.Kernels;

/// <summary>
/// A one-dimensional launch: blocks of <see cref="BlockX"/> threads, <see cref="GridX"/> blocks. The kernels
/// use grid-stride loops, so a capped grid still covers every element.
/// </summary>
/// <param name="GridX">Blocks in the grid.</param>
/// <param name="BlockX">Threads per block.</param>
public readonly record struct LaunchConfig(uint GridX, uint BlockX)
{
    /// <summary>Threads per block for the elementwise kernels: a multiple of the warp, enough to hide latency.</summary>
    public const uint DefaultBlock = 256;

    /// <summary>
    /// The default grid cap: enough resident blocks to fill any current GPU several times over
    /// (an H100 has 132 SMs × 8 blocks of 256), small enough that each thread of a huge launch loops a few times.
    /// </summary>
    public const uint DefaultMaxGrid = 65_535;

    /// <summary>The launch for <paramref name="count"/> elements: ceil(count/block) blocks, at least one, at most <paramref name="maxGrid"/>.</summary>
    public static LaunchConfig ForElements(long count, uint block = DefaultBlock, uint maxGrid = DefaultMaxGrid)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (block == 0 || block > 1024) throw new ArgumentOutOfRangeException(nameof(block), $"a block has 1 to 1024 threads, not {block}.");
        if (maxGrid == 0) throw new ArgumentOutOfRangeException(nameof(maxGrid), "the grid cap must be positive.");
        long blocks = (count + block - 1) / block;
        return new LaunchConfig((uint)Math.Clamp(blocks, 1, maxGrid), block);
    }

    /// <summary>The total number of threads launched.</summary>
    public long Threads => (long)GridX * BlockX;
}
