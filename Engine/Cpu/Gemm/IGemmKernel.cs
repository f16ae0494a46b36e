namespace Engine.Cpu;

/// <summary>
/// A register-blocked micro-kernel plus the cache-blocking sizes tuned for it. The driver is
/// generic over the kernel type (a struct), so the JIT specialises it per kernel and these
/// static members fold into constants.
/// </summary>
/// <remarks>
/// Packed layouts the kernel reads: A micro-panel is <c>kc</c> groups of <see cref="MR"/> values
/// (one column slice of MR rows per step), B micro-panel is <c>kc</c> groups of <see cref="NR"/>
/// values (one row slice per step). Both are zero-padded at the edges, so the kernel always
/// computes a full MR x NR tile.
/// </remarks>
internal unsafe interface IGemmKernel<T> where T : unmanaged
{
    /// <summary>Rows of C per micro-tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of C per micro-tile.</summary>
    static abstract int NR { get; }

    /// <summary>Rows of A packed per block (a multiple of MR); the packed A block lives in L2.</summary>
    static abstract int MC { get; }

    /// <summary>Depth of one rank-kc update; a B micro-panel (KC x NR) should fit L1.</summary>
    static abstract int KC { get; }

    /// <summary>Columns of B packed per block (a multiple of NR); the packed B block lives in L3.</summary>
    static abstract int NC { get; }

    /// <summary>
    /// Whether the kernel's C update is <c>fma(alpha, ab, beta*c)</c> (true) or
    /// <c>alpha*ab + beta*c</c> (false). Edge tiles replay the same formula so every element of C
    /// gets the same rounding whether it sits in a full or a partial tile.
    /// </summary>
    static abstract bool Fused { get; }

    /// <summary>
    /// Full MR x NR tile: <c>C = alpha * (Apanel * Bpanel) + beta * C</c>, where C is row-major with
    /// row stride <paramref name="rsc"/>, alpha = <c>alphaBeta[0]</c> and beta = <c>alphaBeta[1]</c>.
    /// When beta is zero C is only written, never read.
    /// </summary>
    /// <remarks>
    /// alpha and beta come through memory, read after the k loop: passed as values they arrive in
    /// vector registers and stay live across the loop, which needs 15 of the 16 ymm registers. The JIT
    /// then either spills or, on AVX-512 hardware, moves the loop's broadcast into ymm16+, whose EVEX
    /// encoding ran the sgemm kernel ~15% slower on Zen 4 (100 vs 117 GFLOP/s, L1-resident).
    /// </remarks>
    static abstract void Run(int kc, T* a, T* b, T* c, long rsc, T* alphaBeta);
}
