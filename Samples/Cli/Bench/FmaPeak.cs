using System.Numerics;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Cpu;

namespace Engine.Samples.Cli.Bench;

/// <summary>The vector width a peak is measured at.</summary>
internal enum FmaIsa { Avx2, Avx512 }

/// <summary>
/// The machine's fused multiply-add throughput: twelve independent FMA chains per thread, so that
/// neither the FMA latency (4 cycles) times the pipes (2 on Zen 4/5 and recent Intel) nor a load limits
/// it. What a GEMM reaches is stated as a share of this figure, measured in the same run.
/// </summary>
internal static class FmaPeak
{
    /// <summary>Whether this process can run the given width (AVX-512 also follows <c>DOTNET_EnableAVX512</c>).</summary>
    public static bool Supported(FmaIsa isa) => isa switch
    {
        FmaIsa.Avx2 => Fma.IsSupported && Avx2.IsSupported,
        FmaIsa.Avx512 => Avx512F.IsSupported && Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>The widest width this process supports, or null without FMA.</summary>
    public static FmaIsa? Widest => Supported(FmaIsa.Avx512) ? FmaIsa.Avx512 : Supported(FmaIsa.Avx2) ? FmaIsa.Avx2 : null;

    /// <summary>
    /// GFLOP/s (one FMA = 2 flops) of <paramref name="threads"/> threads of the engine's team, each running
    /// the same chains; the best of <paramref name="samples"/> timed forks of about
    /// <paramref name="sampleSeconds"/> each after a calibration.
    /// </summary>
    public static double Measure(FmaIsa isa, bool f64, int threads, int samples = 5, double sampleSeconds = 0.1)
    {
        if (!Supported(isa)) throw new PlatformNotSupportedException($"bench peak: {isa} FMA is not supported in this process.");
        int lanes = (isa == FmaIsa.Avx512 ? 64 : 32) / (f64 ? 8 : 4);
        int saved = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            long iterations = 1 << 14;
            double seconds;
            // Calibrate: grow until one fork takes a tenth of a sample, which also warms up the JIT and the team.
            while ((seconds = Fork(isa, f64, threads, iterations)) < sampleSeconds / 10) iterations *= 4;
            iterations = Math.Max(iterations, (long)(iterations * sampleSeconds / seconds));
            double best = double.MaxValue;
            for (int s = 0; s < samples; s++) best = Math.Min(best, Fork(isa, f64, threads, iterations));
            return (double)threads * iterations * Chains * lanes * 2 / best / 1e9;
        }
        finally { CpuParallel.ThreadCount = saved; }
    }

    private const int Chains = 12;

    // Keeps the results observable, so that the JIT cannot drop the loops.
    private static double s_sink;

    private static double Fork(FmaIsa isa, bool f64, int threads, long iterations)
    {
        long t0 = Stopwatch.GetTimestamp();
        CpuParallel.ForEachTask(threads, _ =>
        {
            double r = (isa, f64) switch
            {
                (FmaIsa.Avx512, false) => Chains512<float>(iterations),
                (FmaIsa.Avx512, true) => Chains512<double>(iterations),
                (_, false) => Chains256<float>(iterations),
                _ => Chains256<double>(iterations),
            };
            s_sink += r;
        });
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    // Each chain is x = x*m + d, which converges to d/(1-m) and so never overflows nor goes denormal.
    // The accumulators are plain locals: RyuJIT keeps those in registers, not array elements. T is float or
    // double; the JIT compiles one loop per type and folds the type tests in Fma512/Fma256 away.

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Chains512<T>(long n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector512<T> m = Vector512.Create(T.CreateChecked(0.999)), d = Vector512.Create(T.CreateChecked(1e-3));
        Vector512<T> x0 = Vector512<T>.Zero, x1 = Vector512<T>.One, x2 = x1 + x1, x3 = x2 + x1;
        Vector512<T> x4 = x0 + d, x5 = x1 + d, x6 = x2 + d, x7 = x3 + d, x8 = x0 - d, x9 = x1 - d, x10 = x2 - d, x11 = x3 - d;
        for (long i = 0; i < n; i++)
        {
            x0 = Fma512(x0, m, d); x1 = Fma512(x1, m, d); x2 = Fma512(x2, m, d);
            x3 = Fma512(x3, m, d); x4 = Fma512(x4, m, d); x5 = Fma512(x5, m, d);
            x6 = Fma512(x6, m, d); x7 = Fma512(x7, m, d); x8 = Fma512(x8, m, d);
            x9 = Fma512(x9, m, d); x10 = Fma512(x10, m, d); x11 = Fma512(x11, m, d);
        }
        return double.CreateChecked(Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Chains256<T>(long n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector256<T> m = Vector256.Create(T.CreateChecked(0.999)), d = Vector256.Create(T.CreateChecked(1e-3));
        Vector256<T> x0 = Vector256<T>.Zero, x1 = Vector256<T>.One, x2 = x1 + x1, x3 = x2 + x1;
        Vector256<T> x4 = x0 + d, x5 = x1 + d, x6 = x2 + d, x7 = x3 + d, x8 = x0 - d, x9 = x1 - d, x10 = x2 - d, x11 = x3 - d;
        for (long i = 0; i < n; i++)
        {
            x0 = Fma256(x0, m, d); x1 = Fma256(x1, m, d); x2 = Fma256(x2, m, d);
            x3 = Fma256(x3, m, d); x4 = Fma256(x4, m, d); x5 = Fma256(x5, m, d);
            x6 = Fma256(x6, m, d); x7 = Fma256(x7, m, d); x8 = Fma256(x8, m, d);
            x9 = Fma256(x9, m, d); x10 = Fma256(x10, m, d); x11 = Fma256(x11, m, d);
        }
        return double.CreateChecked(Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma512<T>(Vector512<T> x, Vector512<T> m, Vector512<T> d) where T : unmanaged =>
        typeof(T) == typeof(float)
            ? Vector512.FusedMultiplyAdd(x.AsSingle(), m.AsSingle(), d.AsSingle()).As<float, T>()
            : Vector512.FusedMultiplyAdd(x.AsDouble(), m.AsDouble(), d.AsDouble()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma256<T>(Vector256<T> x, Vector256<T> m, Vector256<T> d) where T : unmanaged =>
        typeof(T) == typeof(float)
            ? Fma.MultiplyAdd(x.AsSingle(), m.AsSingle(), d.AsSingle()).As<float, T>()
            : Fma.MultiplyAdd(x.AsDouble(), m.AsDouble(), d.AsDouble()).As<double, T>();
}
