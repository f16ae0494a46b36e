using System.Collections.Concurrent;

namespace Engine.Ops;

/// <summary>
/// The cached constants of the spectral operators: orthonormal DCT-II bases (one per length and dtype),
/// their Kronecker products for small planes, and the heat-equation frequency grid Ω.
/// </summary>
/// <remarks>
/// Everything is computed in double and rounded once to the compute dtype, so a float32 basis is the
/// float64 basis rounded, not a float32 recomputation. The arrays are pinned (they are handed to the GEMM
/// as pointers) and immutable once published; caching is keyed by size and dtype only, so the cache
/// holds at most a few small arrays per feature-map size a model uses. The CUDA kernels read the same
/// values as device tensors (<c>*On</c>), cached per device by <see cref="SpectralConstants"/>.
/// </remarks>
internal static class DctBases
{
    private static readonly ConcurrentDictionary<(int N, DType DType), Array> Bases = new();
    private static readonly ConcurrentDictionary<(int H, int W, DType DType), Array> Kron = new();
    private static readonly ConcurrentDictionary<(int H, int W), double[]> Omegas = new();
    private static readonly ConcurrentDictionary<int, (double[] Cos, double[] Sin, double[] Alpha)> TwiddleCache = new();

    /// <summary>cos(πk/2n), sin(πk/2n) and the orthonormal scales α_k of the FFT path, k = 0..n-1.</summary>
    public static (double[] Cos, double[] Sin, double[] Alpha) Twiddles(int n) => TwiddleCache.GetOrAdd(n, len =>
    {
        var c = new double[len]; var s = new double[len]; var a = new double[len];
        for (int k = 0; k < len; k++)
        {
            double theta = Math.PI * k / (2.0 * len);
            c[k] = Math.Cos(theta); s[k] = Math.Sin(theta);
            a[k] = k == 0 ? Math.Sqrt(1.0 / len) : Math.Sqrt(2.0 / len);
        }
        return (c, s, a);
    });

    /// <summary>D[k, i] = α_k cos(π k (i + ½) / n), α_0 = √(1/n), α_k = √(2/n): row-major, n×n, D Dᵀ = I.</summary>
    public static double[] Basis64(int n)
    {
        var d = new double[n * n];
        for (int k = 0; k < n; k++)
        {
            double alpha = k == 0 ? Math.Sqrt(1.0 / n) : Math.Sqrt(2.0 / n);
            for (int i = 0; i < n; i++) d[k * n + i] = alpha * Math.Cos(Math.PI * k * (i + 0.5) / n);
        }
        return d;
    }

    /// <summary>The basis of length <paramref name="n"/> in <typeparamref name="T"/> (float or double), pinned.</summary>
    public static T[] Basis<T>(int n) where T : unmanaged =>
        (T[])Bases.GetOrAdd((n, DTypeOf<T>()), key => Pinned<T>(Basis64(key.N)));

    /// <summary>
    /// D_H ⊗ D_W as an (H·W)×(H·W) row-major matrix: K[(p, q), (h, w)] = D_H[p, h] · D_W[q, w], so the 2-D
    /// transform of a flattened plane is one matrix-vector product.
    /// </summary>
    public static T[] Kronecker<T>(int h, int w) where T : unmanaged =>
        (T[])Kron.GetOrAdd((h, w, DTypeOf<T>()), key => Pinned<T>(Kronecker64(key.H, key.W)));

    /// <summary>D_H ⊗ D_W in double (see <see cref="Kronecker{T}"/>).</summary>
    public static double[] Kronecker64(int h, int w)
    {
        var dh = Basis64(h);
        var dw = Basis64(w);
        int hw = h * w;
        var k = new double[hw * hw];
        for (int p = 0; p < h; p++)
            for (int q = 0; q < w; q++)
                for (int r = 0; r < h; r++)
                    for (int s = 0; s < w; s++)
                        k[(p * w + q) * hw + r * w + s] = dh[p * h + r] * dw[q * w + s];
        return k;
    }

    /// <summary>Ω[n, m] = (nπ/H)² + (mπ/W)², row-major H×W, in double.</summary>
    public static double[] Omega(int h, int w) => Omegas.GetOrAdd((h, w), key =>
    {
        var o = new double[key.H * key.W];
        for (int n = 0; n < key.H; n++)
        {
            double wn = n * Math.PI / key.H;
            for (int m = 0; m < key.W; m++)
            {
                double wm = m * Math.PI / key.W;
                o[n * key.W + m] = wn * wn + wm * wm;
            }
        }
        return o;
    });

    /// <summary>The basis D_n (n×n) as a tensor on <paramref name="device"/>, made once per (n, dtype, device).</summary>
    public static Tensor BasisOn(int n, DType dtype, Device device) =>
        SpectralConstants.Get("dct_basis", n, 0, dtype, device, [n, n], () => Basis64(n));

    /// <summary>D_H ⊗ D_W ((H·W)×(H·W)) as a tensor on <paramref name="device"/>, made once per (H, W, dtype, device).</summary>
    public static Tensor KroneckerOn(int h, int w, DType dtype, Device device) =>
        SpectralConstants.Get("dct_kronecker", h, w, dtype, device, [h * w, h * w], () => Kronecker64(h, w));

    /// <summary>The FFT path's cos(πk/2n), sin(πk/2n) and α_k as rows of a (3, n) float64 tensor on <paramref name="device"/>.</summary>
    public static Tensor TwiddlesOn(int n, Device device) =>
        SpectralConstants.Get("dct_twiddles", n, 0, DType.F64, device, [3, n], () =>
        {
            var (c, s, a) = Twiddles(n);
            return [.. c, .. s, .. a];
        });

    /// <summary>Ω of an H×W plane as an (H, W) float64 tensor on <paramref name="device"/>.</summary>
    public static Tensor OmegaOn(int h, int w, Device device) =>
        SpectralConstants.Get("heat_omega", h, w, DType.F64, device, [h, w], () => Omega(h, w));

    private static DType DTypeOf<T>() => typeof(T) == typeof(float) ? DType.F32 : DType.F64;

    private static T[] Pinned<T>(double[] values) where T : unmanaged
    {
        var a = GC.AllocateUninitializedArray<T>(values.Length, pinned: true);
        if (typeof(T) == typeof(float))
        {
            var f = (float[])(object)a;
            for (int i = 0; i < values.Length; i++) f[i] = (float)values[i];
        }
        else
        {
            values.CopyTo((double[])(object)a, 0);
        }
        return a;
    }
}
