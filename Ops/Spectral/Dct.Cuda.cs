using Engine.Backends;
using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;
using static Engine.Ops.SpectralViews;

namespace Engine.Ops;

/// <summary>
/// The 2-D DCT on CUDA. The matrix-product path is the CPU's, on the device's cached bases through the
/// backend's GEMM (cuBLAS): D_H ⊗ D_W for planes of at most <see cref="DctMatmul.KroneckerMaxPlane"/> values,
/// otherwise one product along W over all rows and one strided-batched product along H whose basis has batch
/// stride 0. The FFT path is Makhoul's, one real FFT per axis through the backend's Fft (cuFFT) between the
/// reordering and twiddle kernels of <c>Dct.cu</c>; each pass writes its result transposed, so the second axis
/// is contiguous for the second pass and the planes come back in place after it.
/// </summary>
internal static class DctCuda
{
    private const string Unit = "Spectral/Dct.cu";
    private const int Tile = 32;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(DctCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Transform(Tensor x, Tensor y, int h, int w, bool inverse, DctImplementation path)
    {
        long plane = (long)h * w;
        long batch = plane == 0 ? 0 : x.NumEl / plane;
        if (batch == 0) return;
        if (path == DctImplementation.Fft) Fft(x, y, batch, h, w, inverse);
        else Matmul(x, y, batch, h, w, inverse);
    }

    private static void Matmul(Tensor x, Tensor y, long batch, int h, int w, bool inverse)
    {
        var backend = Backend.For(x.Device);
        int hw = h * w;
        if (hw <= DctMatmul.KroneckerMaxPlane)
        {
            // Y (batch × hw) = X · Kᵀ; the inverse multiplies by K.
            using var k = Square(DctBases.KroneckerOn(h, w, x.DType, x.Device), hw, transpose: !inverse);
            RowProducts(backend, x, k, y, batch, hw);
            return;
        }
        using var t = Tensor.Empty(x.Layout.Shape, x.DType, x.Device);
        // Along W, all rows at once: T = X · D_Wᵀ (forward) or X · D_W (inverse).
        using (var dw = Square(DctBases.BasisOn(w, x.DType, x.Device), w, transpose: !inverse))
            RowProducts(backend, x, dw, t, batch * h, w);
        // Along H, every plane in one strided-batched product: Y_b = D_H · T_b (forward) or D_Hᵀ · T_b.
        var dh = DctBases.BasisOn(h, x.DType, x.Device);
        for (long b0 = 0; b0 < batch; b0 += int.MaxValue)
        {
            int n = (int)Math.Min(int.MaxValue, batch - b0);
            using var a = Square(dh, h, transpose: inverse, n);
            using var tb = View(t, [n, h, w], [hw, w, 1], t.Offset + b0 * hw);
            using var yb = View(y, [n, h, w], [hw, w, 1], y.Offset + b0 * hw);
            backend.Gemm(a, tb, yb, 1, 0);
        }
    }

    /// <summary>c = a · basis over the rows of contiguous a and c, in chunks whose sizes fit cuBLAS's 32-bit ints.</summary>
    private static void RowProducts(IBackend backend, Tensor a, Tensor basis, Tensor c, long rows, int n)
    {
        long step = Math.Max(1, int.MaxValue / n);
        for (long r0 = 0; r0 < rows; r0 += step)
        {
            int m = (int)Math.Min(step, rows - r0);
            using var ar = Rows(a, r0, m, n);
            using var cr = Rows(c, r0, m, n);
            backend.Gemm(ar, basis, cr, 1, 0);
        }
    }

    private static void Fft(Tensor x, Tensor y, long batch, int h, int w, bool inverse)
    {
        // Along W into (batch, W, H), then along H back into (batch, H, W).
        using var mid = Tensor.Empty(x.Layout.Shape, x.DType, x.Device);
        Pass(x, mid, batch, h, w, inverse);
        Pass(mid, y, batch, w, h, inverse);
    }

    /// <summary>The 1-D transform of every row of length n of the (planes, r, n) block src, written transposed into dst as (planes, n, r).</summary>
    private static void Pass(Tensor src, Tensor dst, long planes, int r, int n, bool inverse)
    {
        var backend = Backend.For(src.Device);
        if (n == 1)
        {
            // D_1 = [1], and (planes, r, 1) lies in memory as (planes, 1, r): both tensors have x's shape.
            backend.Copy(src, dst);
            return;
        }
        long rows = planes * r;
        int half = n / 2 + 1;
        var twiddles = DctBases.TwiddlesOn(n, src.Device);
        using var spectrum = Tensor.Empty([checked((int)rows), half, 2], src.DType, src.Device);
        using var v = Tensor.Empty(src.Layout.Shape, src.DType, src.Device);
        if (!inverse)
        {
            Launch(src, "dct_reorder", LaunchConfig.ForElements(rows * n), src, v, null, rows, n);
            backend.Fft(v, spectrum, FftKind.R2C, [n], inverse: false);
            LaunchTiles(src, "dct_twiddle_transpose", spectrum, twiddles, dst, planes, r, n);
        }
        else
        {
            Launch(src, "idct_prepare", LaunchConfig.ForElements(rows * half), src, twiddles, spectrum, rows, n);
            backend.Fft(spectrum, v, FftKind.C2R, [n], inverse: true);
            LaunchTiles(src, "idct_unorder_transpose", v, null, dst, planes, r, n);
        }
    }

    private static void Launch(Tensor on, string name, LaunchConfig config, Tensor a, Tensor? b, Tensor? c, long rows, int n)
    {
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(a);
        if (b is not null) args.Add(b);
        if (c is not null) args.Add(c);
        args.Add(rows); args.Add(n);
        Kernel(on, name).Launch(config, args);
    }

    /// <summary>The transposing kernels: one block of 256 threads per 32×32 tile of (n, r) per plane, tiles grid-strided.</summary>
    private static void LaunchTiles(Tensor on, string name, Tensor src, Tensor? twiddles, Tensor dst, long planes, int r, int n)
    {
        long tiles = planes * ((n + Tile - 1) / Tile) * ((r + Tile - 1) / Tile);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(src);
        if (twiddles is not null) args.Add(twiddles);
        args.Add(dst); args.Add(planes); args.Add(r); args.Add(n);
        Kernel(on, name).Launch(new LaunchConfig((uint)Math.Clamp(tiles, 1, LaunchConfig.DefaultMaxGrid), 256), args);
    }
}
