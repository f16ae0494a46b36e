using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The matrix-product path of the 2-D orthonormal DCT: Y = D_H · X · D_Wᵀ for every (H, W) plane of a
/// contiguous (batch, H, W) block, with the cached bases of <see cref="DctBases"/>. The inverse uses the
/// transposed bases (Dᵀ), which is the orthonormal DCT-III.
/// </summary>
/// <remarks>
/// Two forms. Small planes (H·W at most <see cref="KroneckerMaxPlane"/>) take one GEMM of the flattened
/// planes with D_H ⊗ D_W: H·W multiply-adds per value instead of H + W, but one large, well-shaped
/// product instead of thousands of tiny ones, which wins at these sizes. Larger planes are separable: one
/// GEMM along W over all rows, then one small GEMM per plane along H, planes split across threads. Every
/// output value is computed by one thread in one order, so the result does not depend on the thread count.
/// </remarks>
internal static unsafe class DctMatmul
{
    /// <summary>Largest H·W that goes through the Kronecker form (measured: see docs/ops-notes/dct.md).</summary>
    public const int KroneckerMaxPlane = 64;

    public static void Transform<T>(T* x, T* y, long batch, int h, int w, bool inverse) where T : unmanaged
    {
        if (batch == 0 || h == 0 || w == 0) return;
        if ((long)h * w <= KroneckerMaxPlane) Kronecker(x, y, batch, h, w, inverse);
        else Separable(x, y, batch, h, w, inverse);
    }

    /// <summary>y[b, :] = K x[b, :] (forward) or Kᵀ x[b, :] (inverse), with K = D_H ⊗ D_W.</summary>
    private static void Kronecker<T>(T* x, T* y, long batch, int h, int w, bool inverse) where T : unmanaged
    {
        int hw = h * w;
        var k = DctBases.Kronecker<T>(h, w);
        fixed (T* kp = k)
        {
            // Y (batch × hw) = X (batch × hw) · Kᵀ; the inverse multiplies by K itself.
            long rs = inverse ? hw : 1, cs = inverse ? 1 : hw;
            for (long b0 = 0; b0 < batch; b0 += int.MaxValue)
            {
                int m = (int)Math.Min(int.MaxValue, batch - b0);
                ConvPoolKernels.Gemm(m, hw, hw, x + b0 * hw, hw, 1, kp, rs, cs, false, y + b0 * hw, hw);
            }
        }
    }

    private static void Separable<T>(T* x, T* y, long batch, int h, int w, bool inverse) where T : unmanaged
    {
        var dh = DctBases.Basis<T>(h);
        var dw = DctBases.Basis<T>(w);
        long plane = (long)h * w;
        using var scratch = new ConvScratch<T>(batch * plane);
        T* t = scratch.Ptr;
        fixed (T* dhp = dh, dwp = dw)
        {
            // Along W, all rows at once: T = X · D_Wᵀ (forward) or X · D_W (inverse).
            long rows = batch * h;
            long brs = inverse ? w : 1, bcs = inverse ? 1 : w;
            for (long r0 = 0; r0 < rows; r0 += int.MaxValue)
            {
                int m = (int)Math.Min(int.MaxValue, rows - r0);
                ConvPoolKernels.Gemm(m, w, w, x + r0 * w, w, 1, dwp, brs, bcs, false, t + r0 * w, w);
            }
            // Along H, plane by plane: Y_b = D_H · T_b (forward) or D_Hᵀ · T_b (inverse).
            nint ts = (nint)t, ys = (nint)y, hs = (nint)dhp;
            long ars = inverse ? 1 : h, acs = inverse ? h : 1;
            // Below the GEMM's own small-problem threshold its unpacked loop is scalar; the row kernel is vectorised along W.
            bool rowKernel = (long)h * h * w < 32 * 32 * 32;
            CpuParallel.For(batch, (double)h * h * w, (start, end) =>
            {
                for (long b = start; b < end; b++)
                {
                    if (rowKernel) DctChannelsLast.RowProduct((T*)hs, h, inverse, (T*)ts + b * plane, w, w, (T*)ys + b * plane);
                    else ConvPoolKernels.Gemm(h, w, h, (T*)hs, ars, acs, (T*)ts + b * plane, w, 1, false, (T*)ys + b * plane, w);
                }
            });
        }
    }
}
