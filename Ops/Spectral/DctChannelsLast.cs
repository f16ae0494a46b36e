using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The orthonormal 2-D DCT over the H and W axes of a channels-last (B, H, W, C) block, every channel its
/// own plane: Y_b = D_H · X_b · D_Wᵀ applied to each of the C planes interleaved in X_b. The input may
/// have any batch stride and any stride between positions, as long as (h, w) merge into one stride and
/// the channels are contiguous (a channel slice of a wider tensor qualifies); the output is dense.
/// </summary>
/// <remarks>
/// Small planes take one GEMM per image with D_H ⊗ D_W (H·W×H·W times H·W×C); larger ones go separable:
/// per row (b, h) D_W · X_{b,h} (W×W times W×C), then per image D_H · T_b (H×H times H×W·C). Images are
/// split across threads and each GEMM runs on the thread that owns the image, so the bits do not depend
/// on the thread count.
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
            var k = DctBases.Kronecker<T>(h, w);
            fixed (T* kp = k)
            {
                nint ks = (nint)kp;
                long ars = inverse ? 1 : hw, acs = inverse ? hw : 1;
                CpuParallel.For(batch, (double)hw * hw * c, (start, end) =>
                {
                    for (long b = start; b < end; b++)
                        ConvPoolKernels.Gemm(hw, c, hw, (T*)ks, ars, acs, (T*)xs + b * batchStride, positionStride, 1, false, (T*)ys + b * plane, c);
                });
            }
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
}
