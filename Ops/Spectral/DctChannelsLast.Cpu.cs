using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The orthonormal 2-D DCT over the H and W axes of a channels-last (B, H, W, C) block, every channel its
/// own plane: Y_b = D_H · X_b · D_Wᵀ applied to each of the C planes interleaved in X_b. The input may
/// have any batch stride and any stride between positions, as long as (h, w) merge into one stride and
/// the channels are contiguous (a channel slice of a wider tensor qualifies); the output is dense.
/// </summary>
/// <remarks>
/// Separable: per row (b, h) D_W · X_{b,h} (W×W times W×C), then per image D_H · T_b (H×H times H×W·C).
/// Large planes use the GEMM; small ones (H·W at most 64, where those products are a few thousand
/// multiply-adds and the GEMM's call and packing costs dominate) a direct kernel vectorised along the
/// contiguous channels. Images are split across threads and each product runs on the thread that owns
/// the image, so the bits do not depend on the thread count.
/// </remarks>
internal static unsafe class DctChannelsLast
{
    public static void Transform<T>(T* x, long batchStride, long positionStride, T* y, int batch, int h, int w, int c, bool inverse) where T : unmanaged
    {
        if (batch == 0 || h == 0 || w == 0 || c == 0) return;
        int hw = h * w;
        long plane = (long)hw * c;
        nint xs = (nint)x, ys = (nint)y;
        if (hw <= DctMatmul.KroneckerMaxPlane)
        {
            SmallPlanes(x, batchStride, positionStride, y, batch, h, w, c, inverse);
            return;
        }
        var dh = DctBases.Basis<T>(h);
        var dw = DctBases.Basis<T>(w);
        fixed (T* dhp = dh, dwp = dw)
        {
            nint hs = (nint)dhp, wsp = (nint)dwp;
            long hrs = inverse ? 1 : h, hcs = inverse ? h : 1, wrs = inverse ? 1 : w, wcs = inverse ? w : 1;
            CpuParallel.For(batch, (double)hw * (h + w) * c, (start, end) =>
            {
                using var scratch = new ConvScratch<T>(plane);
                for (long b = start; b < end; b++)
                {
                    T* xb = (T*)xs + b * batchStride;
                    for (int r = 0; r < h; r++)
                        ConvPoolKernels.Gemm(w, c, w, (T*)wsp, wrs, wcs, xb + r * w * positionStride, positionStride, 1, false, scratch.Ptr + (long)r * w * c, c);
                    ConvPoolKernels.Gemm(h, w * c, h, (T*)hs, hrs, hcs, scratch.Ptr, (long)w * c, 1, false, (T*)ys + b * plane, (long)w * c);
                }
            });
        }
    }

    private static void SmallPlanes<T>(T* x, long batchStride, long positionStride, T* y, int batch, int h, int w, int c, bool inverse) where T : unmanaged
    {
        var dh = DctBases.Basis<T>(h);
        var dw = DctBases.Basis<T>(w);
        long plane = (long)h * w * c;
        nint xs = (nint)x, ys = (nint)y;
        fixed (T* dhp = dh, dwp = dw)
        {
            nint hs = (nint)dhp, wsp = (nint)dwp;
            CpuParallel.For(batch, (double)h * w * (h + w) * c, (start, end) =>
            {
                using var scratch = new ConvScratch<T>(plane);
                for (long b = start; b < end; b++)
                {
                    T* xb = (T*)xs + b * batchStride;
                    for (int r = 0; r < h; r++)
                        RowProduct((T*)wsp, w, inverse, xb + r * w * positionStride, positionStride, c, scratch.Ptr + (long)r * w * c);
                    RowProduct((T*)hs, h, inverse, scratch.Ptr, (long)w * c, w * c, (T*)ys + b * plane);
                }
            });
        }
    }

    /// <summary>
    /// y[q, :] = Σ_p A[q, p] · x[p, :] for the n×n basis A (Aᵀ when <paramref name="transpose"/>), rows of
    /// <paramref name="len"/> contiguous values (x rows <paramref name="xRowStride"/> apart, y dense), one
    /// vector of accumulators at a time.
    /// </summary>
    internal static void RowProduct<T>(T* a, int n, bool transpose, T* x, long xRowStride, int len, T* y) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) VectorRowProduct((float*)a, n, transpose, (float*)x, xRowStride, len, (float*)y);
        else VectorRowProduct((double*)a, n, transpose, (double*)x, xRowStride, len, (double*)y);
    }

    private static void VectorRowProduct<T>(T* a, int n, bool transpose, T* x, long xRowStride, int len, T* y) where T : unmanaged, System.Numerics.INumber<T>
    {
        int lanes = System.Numerics.Vector<T>.Count;
        long ars = transpose ? 1 : n, acs = transpose ? n : 1;
        for (int q = 0; q < n; q++)
        {
            T* aq = a + q * ars;
            T* yq = y + (long)q * len;
            int j = 0;
            for (; j + lanes <= len; j += lanes)
            {
                var acc = System.Numerics.Vector<T>.Zero;
                for (int p = 0; p < n; p++)
                    acc += new System.Numerics.Vector<T>(aq[p * acs]) * System.Numerics.Vector.Load(x + p * xRowStride + j);
                System.Numerics.Vector.Store(acc, yq + j);
            }
            for (; j < len; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < n; p++) sum += aq[p * acs] * x[p * xRowStride + j];
                yq[j] = sum;
            }
        }
    }
}
