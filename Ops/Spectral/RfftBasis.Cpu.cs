using System.Collections.Concurrent;

namespace Engine.Ops;

/// <summary>
/// The DFT matrices of one (H, W) map, computed once and kept: the real-to-half-spectrum transform is a
/// matrix product, either one dense matrix for the whole 2-D transform (tiny maps, where one large GEMM
/// over every plane beats anything per plane) or a W pass and an H pass (larger maps). Every matrix is
/// unscaled; the norm enters as the GEMM's alpha. Complex values are interleaved (re, im).
/// </summary>
internal sealed unsafe class RfftBasis
{
    [ThreadStatic] private static int t_denseMaxPixels;

    /// <summary>
    /// Maps up to this many pixels use the dense 2-D matrix (default 200: measured on 2 cores, the one GEMM
    /// over all planes beat the separable FFT path by 5x at 12×12 and lost at 16×16); per calling thread, for tests.
    /// </summary>
    internal static int DenseMaxPixels
    {
        get => t_denseMaxPixels == 0 ? 200 : t_denseMaxPixels - 1;
        set => t_denseMaxPixels = value + 1;
    }

    private static readonly ConcurrentDictionary<(int H, int W), RfftBasis> Cache = new();

    /// <summary>The basis of an (H, W) map (cached).</summary>
    public static RfftBasis For(int h, int w) => Cache.GetOrAdd((h, w), key => new RfftBasis(key.H, key.W));

    public int H { get; }
    public int W { get; }
    /// <summary>Columns of the half spectrum, ⌊W/2⌋ + 1.</summary>
    public int K { get; }
    /// <summary>True when this call should take the dense path (decided on the calling thread).</summary>
    public bool Dense => H * W <= Math.Min(DenseMaxPixels, 1024);

    // Dense: Forward (HW × 2HK), x·Forward = X; Inverse (2HK × HW), Y·Inverse = y with the c_k weights.
    // Separable: ForwardW (W × 2K), InverseW (2K × W); Cos/Sin (H × H), symmetric.
    private readonly Pair _forwardW, _inverseW, _cosH, _sinH;
    private readonly Lazy<Pair> _forward, _inverse;
    // Half-complex (W × W), for the F32 plane kernels: see BuildHalf.
    private readonly Lazy<Pair> _forwardHalf, _inverseHalfT;

    private RfftBasis(int h, int w)
    {
        H = h; W = w; K = w / 2 + 1;
        _forwardW = new Pair(BuildForwardW());
        _inverseW = new Pair(BuildInverseW());
        _cosH = new Pair(BuildH(Math.Cos));
        _sinH = new Pair(BuildH(Math.Sin));
        // The dense matrices grow as (HW)², so they are made only when a call takes the dense path.
        _forward = new Lazy<Pair>(() => new Pair(BuildForwardDense()));
        _inverse = new Lazy<Pair>(() => new Pair(BuildInverseDense()));
        _forwardHalf = new Lazy<Pair>(() => new Pair(BuildHalf(weighted: false)));
        _inverseHalfT = new Lazy<Pair>(() => new Pair(BuildHalf(weighted: true)));
    }

    /// <summary>The angle 2π·t/n for an integer t reduced mod n first, so large products lose no accuracy.</summary>
    private static double Angle(long t, long n) => 2 * Math.PI * (t % n) / n;

    /// <summary>c_k of the C2R sum: 1 for k = 0 and (even W) k = W/2, 2 for the interior columns.</summary>
    public double Weight(int k) => k == 0 || (W % 2 == 0 && k == W / 2) ? 1 : 2;

    private double[] BuildForwardW()
    {
        var m = new double[W * 2 * K];
        for (int x = 0; x < W; x++)
            for (int k = 0; k < K; k++)
            {
                double a = Angle((long)k * x, W);
                m[x * 2 * K + 2 * k] = Math.Cos(a);
                m[x * 2 * K + 2 * k + 1] = -Math.Sin(a);
            }
        return m;
    }

    private double[] BuildInverseW()
    {
        var m = new double[2 * K * W];
        for (int k = 0; k < K; k++)
            for (int x = 0; x < W; x++)
            {
                double a = Angle((long)k * x, W), c = Weight(k);
                m[2 * k * W + x] = c * Math.Cos(a);
                m[(2 * k + 1) * W + x] = -c * Math.Sin(a);
            }
        return m;
    }

    private double[] BuildH(Func<double, double> f)
    {
        var m = new double[H * H];
        for (int u = 0; u < H; u++)
            for (int n = 0; n < H; n++)
                m[u * H + n] = f(Angle((long)u * n, H));
        return m;
    }

    /// <summary>
    /// The W pass in half-complex form (W × W, row x, column j): column j &lt; K is c_k·cos(2πkx/W) with k = j,
    /// column K − 1 + k (0 &lt; k, K − 1 + k &lt; W) is −c_k·sin(2πkx/W). The imaginary parts of k = 0 and (even W)
    /// k = W/2 are identically zero, so they are left out and the product is square: W real outputs per row
    /// instead of 2K (for W = 32, one 32-float AVX-512 tile instead of two with 30 padding columns).
    /// c_k = 1 for rfft2; the C2R weights of <see cref="Weight"/> for the spectrum gradient of irfft2
    /// (the transpose of <see cref="InverseW{T}"/>).
    /// </summary>
    private double[] BuildHalf(bool weighted)
    {
        var m = new double[W * W];
        for (int x = 0; x < W; x++)
        {
            for (int k = 0; k < K; k++)
                m[x * W + k] = (weighted ? Weight(k) : 1) * Math.Cos(Angle((long)k * x, W));
            for (int k = 1; K - 1 + k < W; k++)
                m[x * W + K - 1 + k] = -(weighted ? Weight(k) : 1) * Math.Sin(Angle((long)k * x, W));
        }
        return m;
    }

    private double Angle2d(int u, int n, int k, int x) => Angle((long)(u * n % H) * W + (long)(k * x % W) * H, (long)H * W);

    private double[] BuildForwardDense()
    {
        int cols = 2 * H * K;
        var m = new double[H * W * cols];
        for (int n = 0; n < H; n++)
            for (int x = 0; x < W; x++)
                for (int u = 0; u < H; u++)
                    for (int k = 0; k < K; k++)
                    {
                        double a = Angle2d(u, n, k, x);
                        long at = (long)(n * W + x) * cols + 2 * (u * K + k);
                        m[at] = Math.Cos(a);
                        m[at + 1] = -Math.Sin(a);
                    }
        return m;
    }

    private double[] BuildInverseDense()
    {
        int cols = H * W;
        var m = new double[2 * H * K * cols];
        for (int u = 0; u < H; u++)
            for (int k = 0; k < K; k++)
                for (int n = 0; n < H; n++)
                    for (int x = 0; x < W; x++)
                    {
                        double a = Angle2d(u, n, k, x), c = Weight(k);
                        long row = 2 * (u * K + k);
                        m[row * cols + n * W + x] = c * Math.Cos(a);
                        m[(row + 1) * cols + n * W + x] = -c * Math.Sin(a);
                    }
        return m;
    }

    public T* Forward<T>() where T : unmanaged => _forward.Value.Get<T>();
    public T* Inverse<T>() where T : unmanaged => _inverse.Value.Get<T>();
    /// <summary>The half-complex W pass of rfft2 (see <see cref="BuildHalf"/>).</summary>
    public T* ForwardHalf<T>() where T : unmanaged => _forwardHalf.Value.Get<T>();
    /// <summary>The half-complex W pass of irfft2's spectrum gradient: c_k-weighted (see <see cref="BuildHalf"/>).</summary>
    public T* InverseHalfTransposed<T>() where T : unmanaged => _inverseHalfT.Value.Get<T>();
    public T* ForwardW<T>() where T : unmanaged => _forwardW.Get<T>();
    public T* InverseW<T>() where T : unmanaged => _inverseW.Get<T>();
    public T* CosH<T>() where T : unmanaged => _cosH.Get<T>();
    public T* SinH<T>() where T : unmanaged => _sinH.Get<T>();

    /// <summary>A matrix in double and (made on first use) float, in pinned arrays that live as long as the cache.</summary>
    private sealed class Pair(double[] values)
    {
        private readonly double[] _f64 = Pinned(values);
        private float[]? _f32;

        private static double[] Pinned(double[] v)
        {
            var p = GC.AllocateArray<double>(v.Length, pinned: true);
            v.CopyTo(p, 0);
            return p;
        }

        public T* Get<T>() where T : unmanaged
        {
            if (typeof(T) == typeof(double)) return (T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _f64[0]);
            var f = _f32;
            if (f is null)
            {
                f = GC.AllocateArray<float>(_f64.Length, pinned: true);
                for (int i = 0; i < f.Length; i++) f[i] = (float)_f64[i];
                Interlocked.CompareExchange(ref _f32, f, null);
                f = _f32!;
            }
            return (T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref f[0]);
        }
    }
}
