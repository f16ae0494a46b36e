using Engine.Backends;
using static Engine.Ops.SpectralViews;

namespace Engine.Ops;

/// <summary>
/// The orthonormal 2-D DCT over H and W of a channels-last (B, H, W, C) block on CUDA, every channel its own
/// plane, through the backend's GEMM (cuBLAS) with the device's cached bases; the input may be a channel slice
/// (any batch stride, one stride between positions, contiguous channels), the output is dense. Planes of at
/// most <see cref="DctMatmul.KroneckerMaxPlane"/> values take one strided-batched product per call,
/// Y_b = (D_H ⊗ D_W) · X_b with X_b seen as (H·W, C); larger ones the separable form, D_W per row (b, h) and
/// then D_H per image, each one strided-batched product with its basis at batch stride 0.
/// </summary>
internal static class DctChannelsLastCuda
{
    public static void Transform(Tensor x, long batchStride, long positionStride, Tensor y, bool inverse)
    {
        var s = y.Layout.Shape;
        int batch = s[0], h = s[1], w = s[2], c = s[3];
        if (batch == 0 || h == 0 || w == 0 || c == 0) return;
        var backend = Backend.For(y.Device);
        int hw = h * w;
        if (hw <= DctMatmul.KroneckerMaxPlane)
        {
            using var k = Square(DctBases.KroneckerOn(h, w, y.DType, y.Device), hw, transpose: inverse, batch);
            using var xv = View(x, [batch, hw, c], [batchStride, positionStride, 1], x.Offset);
            using var yv = View(y, [batch, hw, c], [(long)hw * c, c, 1], y.Offset);
            backend.Gemm(k, xv, yv, 1, 0);
            return;
        }
        using var t = Tensor.Empty(s, y.DType, y.Device);
        // Along W: T[b, h] = D_W · X[b, h] (D_Wᵀ for the inverse), every row (b, h) in one batched product.
        using (var dw = Square(DctBases.BasisOn(w, y.DType, y.Device), w, transpose: inverse, batch, h))
        using (var xv = View(x, [batch, h, w, c], [batchStride, w * positionStride, positionStride, 1], x.Offset))
            backend.Gemm(dw, xv, t, 1, 0);
        // Along H: Y[b] = D_H · T[b] (D_Hᵀ for the inverse), T[b] and Y[b] seen as (H, W·C).
        long image = (long)hw * c;
        using var dh = Square(DctBases.BasisOn(h, y.DType, y.Device), h, transpose: inverse, batch);
        using var tv = View(t, [batch, h, w * c], [image, (long)w * c, 1], t.Offset);
        using var yv2 = View(y, [batch, h, w * c], [image, (long)w * c, 1], y.Offset);
        backend.Gemm(dh, tv, yv2, 1, 0);
    }
}
