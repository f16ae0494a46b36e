namespace Engine.Cpu;

/// <summary>
/// A GEMM operand that packs its own micro-panels, for a matrix that is never stored as one: a convolution's
/// column matrix read straight from the input image, or a batch of per-image matrices side by side.
/// </summary>
/// <remarks>
/// The packed layout is <see cref="GemmPack"/>'s: a panel is <c>width</c> lanes (rows of A, columns of B) by
/// <c>steps</c> positions along k, stored step-major. Panels are packed by whichever worker needs them first,
/// possibly several at once, so an implementation must be safe to call concurrently (read-only state).
/// </remarks>
internal abstract unsafe class GemmOperand<T> where T : unmanaged
{
    /// <summary>
    /// Writes lanes [<paramref name="lane0"/>, + <paramref name="lanes"/>) by steps [<paramref name="step0"/>,
    /// + <paramref name="steps"/>): element (lane l, step p) to <c>dst[p * width + l]</c>, and zeros in lanes
    /// <paramref name="lanes"/> to <paramref name="width"/> (the kernel computes whole tiles).
    /// </summary>
    public abstract void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps);
}
