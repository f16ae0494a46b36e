namespace Engine.Ops;

/// <summary>How the attention node computes its forward and what it keeps for the backward.</summary>
internal enum AttentionPath
{
    /// <summary>
    /// Logits by a batched product, a row softmax in place, a second product; the probabilities (L·S per
    /// matrix) are saved. The CPU's path, and CUDA's for short sequences (cuBLAS GEMMs and row kernels).
    /// </summary>
    Probabilities,

    /// <summary>
    /// CUDA only: FlashAttention-2, one fused kernel streaming keys and values through shared memory with an
    /// online softmax; only the log-sum-exp of each query row is saved, and the backward recomputes the
    /// probabilities tile by tile.
    /// </summary>
    Flash,
}

/// <summary>
/// Picks the path of one call: the CPU always keeps probabilities; CUDA takes the fused path from a sequence
/// length on (<see cref="FlashFromLength"/>) where its kernels support the head widths and layout, and a test
/// can force either path on CUDA for the calls it makes (<see cref="Force"/>).
/// </summary>
internal static class AttentionPaths
{
    /// <summary>
    /// CUDA fuses once the logits of one matrix (L·S) are at least those of a self-attention over this many
    /// tokens: below it the probabilities are small and cuBLAS's products beat the plain fused kernels; above it
    /// saving L·S per matrix costs more memory and traffic than recomputing them.
    /// </summary>
    public const int FlashFromLength = 512;

    // Per logical call flow, so that a test forcing a path does not change the tests running beside it.
    private static readonly AsyncLocal<AttentionPath?> Forced = new();

    /// <summary>The path for operands <paramref name="q"/>, <paramref name="k"/>, <paramref name="v"/> of <paramref name="g"/>'s shapes.</summary>
    public static AttentionPath Choose(AttentionGeometry g, Tensor q, Tensor k, Tensor v)
    {
        if (q.Device.Type != DeviceType.Cuda) return AttentionPath.Probabilities;
        string? unsupported = FlashAttentionCuda.Unsupported(g, q, k, v);
        if (Forced.Value is { } forced)
        {
            if (forced == AttentionPath.Flash && unsupported is not null)
                throw new NotSupportedException($"scaled_dot_product_attention: the fused path was forced, but {unsupported}.");
            return forced;
        }
        return unsupported is null && (long)g.L * g.S >= (long)FlashFromLength * FlashFromLength ? AttentionPath.Flash : AttentionPath.Probabilities;
    }

    /// <summary>Makes the CUDA calls of this flow take <paramref name="path"/> until the result is disposed (for tests and benchmarks).</summary>
    public static IDisposable Force(AttentionPath path)
    {
        var previous = Forced.Value;
        Forced.Value = path;
        return new Restore(previous);
    }

    private sealed class Restore(AttentionPath? previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Forced.Value = previous;
        }
    }
}
