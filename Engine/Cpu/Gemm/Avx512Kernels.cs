using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

// AVX-512 has 32 zmm registers: a 12 x 2-vector tile keeps 24 accumulators, 2 B vectors and one
// broadcast live (27), leaving room so the JIT never spills. Per k-step it issues 24 FMAs against
// 2 loads and 12 broadcasts, so two 512-bit FMA pipes are the bottleneck rather than the two load
// ports. One generic body serves both types: the JIT specialises it per T and folds the type tests.
//
// Measured on an AMD EPYC Zen 4 (family 25 model 17; 512-bit FMAs double-pumped, so the AVX-512 FMA peak
// equals the AVX2 one, ~117 GFLOP/s f32 per core), December 2026, by the calling thread's CPU time under a
// load average of 35-50: with the tile in L1 both kernels reach the peak (115 GFLOP/s f32); in a whole
// 1024^3 SGEMM the AVX-512 kernel first ran at 0.75-0.9x the AVX2 one until the C tile was prefetched
// (the 24 lines of 12 rows far apart missed cache after the k loop), then at 0.96-1.02x (~98 GFLOP/s).
// For f64 (2048^3, same measure) MC 192 gave 49.5-50.5 GFLOP/s against 45-48 for MC 48-96.
// KC 512 (second pass, same machine, same-process A/B of the blockings alternated, thread CPU time, load 10-30):
// f64 2048^3 51.1-52.1 GFLOP/s against 50.4-50.7 with KC 384 (MC 144: 50.4-50.7; KC 768: 51.8-52.0); f32 512^3
// medians 96.8-97.9 against 94.8-95.4 and 2048^3 100.8-101.0 against 97.1-98.2. A product of depth 512 (the
// engine's usual layer widths) is then one k block: one pass over C and one packing of A instead of two. The
// packed A block is 768 KiB for both types, three quarters of the 1 MiB L2. The 2 x 512-bit pipes of Zen 5 are
// where this kernel should pull ahead; not measured here.

/// <summary>AVX-512 single-precision kernel, 12 x 32 tile.</summary>
internal unsafe struct Avx512KernelF32 : IGemmKernel<float>
{
    public static int MR => Avx512Tile<float>.MR;
    public static int NR => Avx512Tile<float>.NR;
    public static int MC => 384;
    public static int KC => 512;
    public static int NC => 4096;
    public static bool Fused => true;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(int kc, float* a, float* b, float* c, long rsc, float* alphaBeta) =>
        Avx512Tile<float>.Run(kc, a, b, c, rsc, alphaBeta);
}

/// <summary>AVX-512 double-precision kernel, 12 x 16 tile.</summary>
internal unsafe struct Avx512KernelF64 : IGemmKernel<double>
{
    public static int MR => Avx512Tile<double>.MR;
    public static int NR => Avx512Tile<double>.NR;
    public static int MC => 192;
    public static int KC => 512;
    public static int NC => 4096;
    public static bool Fused => true;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(int kc, double* a, double* b, double* c, long rsc, double* alphaBeta) =>
        Avx512Tile<double>.Run(kc, a, b, c, rsc, alphaBeta);
}

/// <summary>The 12 x (2 x Vector512) register tile shared by both AVX-512 kernels.</summary>
internal static unsafe class Avx512Tile<T> where T : unmanaged
{
    public const int MR = 12;

    public static int NR => 2 * Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run(int kc, T* a, T* b, T* c, long rsc, T* alphaBeta)
    {
        int w = Vector512<T>.Count;
        // The C tile is 12 rows far apart in memory, usually not in cache: ask for its 24 lines now, so that
        // they arrive while the k loop runs instead of stalling the update after it.
        for (int i = 0; i < MR; i++)
        {
            Sse.Prefetch0(c + i * rsc);
            Sse.Prefetch0(c + i * rsc + w);
        }
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<T> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<T> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;

        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.LoadAligned(b);
            Vector512<T> b1 = Vector512.LoadAligned(b + w);
            Vector512<T> ai = Vector512.Create(a[0]);
            c00 = Fma(ai, b0, c00); c01 = Fma(ai, b1, c01);
            ai = Vector512.Create(a[1]);
            c10 = Fma(ai, b0, c10); c11 = Fma(ai, b1, c11);
            ai = Vector512.Create(a[2]);
            c20 = Fma(ai, b0, c20); c21 = Fma(ai, b1, c21);
            ai = Vector512.Create(a[3]);
            c30 = Fma(ai, b0, c30); c31 = Fma(ai, b1, c31);
            ai = Vector512.Create(a[4]);
            c40 = Fma(ai, b0, c40); c41 = Fma(ai, b1, c41);
            ai = Vector512.Create(a[5]);
            c50 = Fma(ai, b0, c50); c51 = Fma(ai, b1, c51);
            ai = Vector512.Create(a[6]);
            c60 = Fma(ai, b0, c60); c61 = Fma(ai, b1, c61);
            ai = Vector512.Create(a[7]);
            c70 = Fma(ai, b0, c70); c71 = Fma(ai, b1, c71);
            ai = Vector512.Create(a[8]);
            c80 = Fma(ai, b0, c80); c81 = Fma(ai, b1, c81);
            ai = Vector512.Create(a[9]);
            c90 = Fma(ai, b0, c90); c91 = Fma(ai, b1, c91);
            ai = Vector512.Create(a[10]);
            ca0 = Fma(ai, b0, ca0); ca1 = Fma(ai, b1, ca1);
            ai = Vector512.Create(a[11]);
            cb0 = Fma(ai, b0, cb0); cb1 = Fma(ai, b1, cb1);
            a += MR;
            b += 2 * w;
        }

        // alpha and beta are read only now, so they take no register during the loop.
        var va = Vector512.Create(alphaBeta[0]);
        T beta = alphaBeta[1];
        if (IsZero(beta))
        {
            Vector512.Store(va * c00, c); Vector512.Store(va * c01, c + w); c += rsc;
            Vector512.Store(va * c10, c); Vector512.Store(va * c11, c + w); c += rsc;
            Vector512.Store(va * c20, c); Vector512.Store(va * c21, c + w); c += rsc;
            Vector512.Store(va * c30, c); Vector512.Store(va * c31, c + w); c += rsc;
            Vector512.Store(va * c40, c); Vector512.Store(va * c41, c + w); c += rsc;
            Vector512.Store(va * c50, c); Vector512.Store(va * c51, c + w); c += rsc;
            Vector512.Store(va * c60, c); Vector512.Store(va * c61, c + w); c += rsc;
            Vector512.Store(va * c70, c); Vector512.Store(va * c71, c + w); c += rsc;
            Vector512.Store(va * c80, c); Vector512.Store(va * c81, c + w); c += rsc;
            Vector512.Store(va * c90, c); Vector512.Store(va * c91, c + w); c += rsc;
            Vector512.Store(va * ca0, c); Vector512.Store(va * ca1, c + w); c += rsc;
            Vector512.Store(va * cb0, c); Vector512.Store(va * cb1, c + w);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Update(c, w, va, vb, c00, c01); c += rsc;
            Update(c, w, va, vb, c10, c11); c += rsc;
            Update(c, w, va, vb, c20, c21); c += rsc;
            Update(c, w, va, vb, c30, c31); c += rsc;
            Update(c, w, va, vb, c40, c41); c += rsc;
            Update(c, w, va, vb, c50, c51); c += rsc;
            Update(c, w, va, vb, c60, c61); c += rsc;
            Update(c, w, va, vb, c70, c71); c += rsc;
            Update(c, w, va, vb, c80, c81); c += rsc;
            Update(c, w, va, vb, c90, c91); c += rsc;
            Update(c, w, va, vb, ca0, ca1); c += rsc;
            Update(c, w, va, vb, cb0, cb1);
        }
    }

    /// <summary>
    /// The first 4 rows of <see cref="Run"/>'s tile, for an A panel with 4 or fewer live rows (the others are
    /// padding): C[0..4) = A·B written to <paramref name="c"/> (row stride <paramref name="ldc"/>), no scaling.
    /// Each element is the same chain of fused multiply-adds as in the full tile, so the same bits, without
    /// computing the padded rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void RunRows4(int kc, T* a, T* b, T* c, long ldc)
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.LoadAligned(b);
            Vector512<T> b1 = Vector512.LoadAligned(b + w);
            Vector512<T> ai;
            ai = Vector512.Create(a[0]);
            c00 = Fma(ai, b0, c00); c01 = Fma(ai, b1, c01);
            ai = Vector512.Create(a[1]);
            c10 = Fma(ai, b0, c10); c11 = Fma(ai, b1, c11);
            ai = Vector512.Create(a[2]);
            c20 = Fma(ai, b0, c20); c21 = Fma(ai, b1, c21);
            ai = Vector512.Create(a[3]);
            c30 = Fma(ai, b0, c30); c31 = Fma(ai, b1, c31);
            a += MR;
            b += 2 * w;
        }
        Vector512.Store(c00, c + 0 * ldc); Vector512.Store(c01, c + 0 * ldc + w);
        Vector512.Store(c10, c + 1 * ldc); Vector512.Store(c11, c + 1 * ldc + w);
        Vector512.Store(c20, c + 2 * ldc); Vector512.Store(c21, c + 2 * ldc + w);
        Vector512.Store(c30, c + 3 * ldc); Vector512.Store(c31, c + 3 * ldc + w);
    }

    /// <summary>
    /// The first 8 rows of <see cref="Run"/>'s tile, for an A panel with 8 or fewer live rows (the others are
    /// padding): C[0..8) = A·B written to <paramref name="c"/> (row stride <paramref name="ldc"/>), no scaling.
    /// Each element is the same chain of fused multiply-adds as in the full tile, so the same bits, without
    /// computing the padded rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void RunRows8(int kc, T* a, T* b, T* c, long ldc)
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.LoadAligned(b);
            Vector512<T> b1 = Vector512.LoadAligned(b + w);
            Vector512<T> ai;
            ai = Vector512.Create(a[0]);
            c00 = Fma(ai, b0, c00); c01 = Fma(ai, b1, c01);
            ai = Vector512.Create(a[1]);
            c10 = Fma(ai, b0, c10); c11 = Fma(ai, b1, c11);
            ai = Vector512.Create(a[2]);
            c20 = Fma(ai, b0, c20); c21 = Fma(ai, b1, c21);
            ai = Vector512.Create(a[3]);
            c30 = Fma(ai, b0, c30); c31 = Fma(ai, b1, c31);
            ai = Vector512.Create(a[4]);
            c40 = Fma(ai, b0, c40); c41 = Fma(ai, b1, c41);
            ai = Vector512.Create(a[5]);
            c50 = Fma(ai, b0, c50); c51 = Fma(ai, b1, c51);
            ai = Vector512.Create(a[6]);
            c60 = Fma(ai, b0, c60); c61 = Fma(ai, b1, c61);
            ai = Vector512.Create(a[7]);
            c70 = Fma(ai, b0, c70); c71 = Fma(ai, b1, c71);
            a += MR;
            b += 2 * w;
        }
        Vector512.Store(c00, c + 0 * ldc); Vector512.Store(c01, c + 0 * ldc + w);
        Vector512.Store(c10, c + 1 * ldc); Vector512.Store(c11, c + 1 * ldc + w);
        Vector512.Store(c20, c + 2 * ldc); Vector512.Store(c21, c + 2 * ldc + w);
        Vector512.Store(c30, c + 3 * ldc); Vector512.Store(c31, c + 3 * ldc + w);
        Vector512.Store(c40, c + 4 * ldc); Vector512.Store(c41, c + 4 * ldc + w);
        Vector512.Store(c50, c + 5 * ldc); Vector512.Store(c51, c + 5 * ldc + w);
        Vector512.Store(c60, c + 6 * ldc); Vector512.Store(c61, c + 6 * ldc + w);
        Vector512.Store(c70, c + 7 * ldc); Vector512.Store(c71, c + 7 * ldc + w);
    }

    // C = fma(alpha, ab, beta * C): the same formula as GemmSmall.UpdateEdge with fused = true.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* row, int w, Vector512<T> va, Vector512<T> vb, Vector512<T> x0, Vector512<T> x1)
    {
        Vector512.Store(Fma(va, x0, vb * Vector512.Load(row)), row);
        Vector512.Store(Fma(va, x1, vb * Vector512.Load(row + w)), row + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> z)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsZero(T x) => typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref x) == 0f : Unsafe.As<T, double>(ref x) == 0d;
}
