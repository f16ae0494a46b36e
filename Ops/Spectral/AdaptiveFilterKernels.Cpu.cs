using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// CPU kernels of the AFF token mixer's pieces on interleaved complex data. The complex group-linear of
/// one (sample, group) is a pair of real GEMMs on the group's contiguous (d, P·2) block:
/// out = Aᵀ·X + Bᵀ·(i·X) + bias, where i·(re, im) = (−im, re).
/// </summary>
internal static unsafe class AdaptiveFilterKernels
{
    /// <summary>Shapes of one complex group-linear call.</summary>
    public readonly record struct GroupShape(int Batch, int Groups, int In, int Out, long Pairs)
    {
        /// <summary>
        /// Small groups (AFFNet Nano's d = 6..10) run as vector loops: per-block GEMM calls cost more than
        /// their arithmetic. Decided on the calling thread (tests force either path per thread).
        /// </summary>
        public bool Direct { get; } = (long)In * Out <= DirectMaxWeights;
        /// <summary>Reals per channel (P complex values).</summary>
        public long Row => 2 * Pairs;
    }

    [ThreadStatic] private static int t_directMaxWeights;

    /// <summary>Groups with at most this many weights (dIn·dOut) take the vector loops; per calling thread, for tests (default 256).</summary>
    internal static int DirectMaxWeights
    {
        get => t_directMaxWeights == 0 ? 256 : t_directMaxWeights - 1;
        set => t_directMaxWeights = value + 1;
    }

    /// <summary>y += a·x + b·z over n elements.</summary>
    private static void Axpy2<T>(T* y, T a, T* x, T b, T* z, long n) where T : unmanaged, INumber<T>
    {
        long p = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
        {
            var va = new Vector<T>(a); var vb = new Vector<T>(b);
            for (; p <= n - Vector<T>.Count; p += Vector<T>.Count)
                Vector.Store(Vector.Load(y + p) + va * Vector.Load(x + p) + vb * Vector.Load(z + p), y + p);
        }
        for (; p < n; p++) y[p] += a * x[p] + b * z[p];
    }

    /// <summary>(Σ x·g, Σ z·g) over n elements, in a fixed order.</summary>
    private static (T, T) Dot2<T>(T* x, T* z, T* g, long n) where T : unmanaged, INumber<T>
    {
        long p = 0;
        T sx = T.Zero, sz = T.Zero;
        if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
        {
            var ax = Vector<T>.Zero; var az = Vector<T>.Zero;
            for (; p <= n - Vector<T>.Count; p += Vector<T>.Count)
            {
                var vg = Vector.Load(g + p);
                ax += Vector.Load(x + p) * vg;
                az += Vector.Load(z + p) * vg;
            }
            sx = Vector.Sum(ax); sz = Vector.Sum(az);
        }
        for (; p < n; p++) { sx += x[p] * g[p]; sz += z[p] * g[p]; }
        return (sx, sz);
    }

    public static void LinearForward<T>(T* x, T* w, T* bias, T* y, GroupShape s) where T : unmanaged, INumber<T>
    {
        long row = s.Row, wPart = (long)s.Groups * s.In * s.Out;
        CpuParallel.For((long)s.Batch * s.Groups, 4.0 * s.In * s.Out * row, (start, end) =>
        {
            T* ix = RfftKernels.Alloc<T>(s.In * row);
            try
            {
                for (long bg = start; bg < end; bg++)
                {
                    long b = bg / s.Groups, g = bg % s.Groups;
                    T* xs = x + (b * s.Groups * s.In + g * s.In) * row;
                    T* ys = y + (b * s.Groups * s.Out + g * s.Out) * row;
                    T* wa = w + g * s.In * s.Out, wb = wa + wPart;
                    for (int o = 0; o < s.Out; o++)
                    {
                        T re = bias is null ? T.Zero : bias[g * s.Out + o];
                        T im = bias is null ? T.Zero : bias[s.Groups * s.Out + g * s.Out + o];
                        T* yr = ys + o * row;
                        for (long p = 0; p < row; p += 2) { yr[p] = re; yr[p + 1] = im; }
                    }
                    TimesI(xs, ix, s.In * row, sign: 1);
                    if (s.Direct)
                        for (int o = 0; o < s.Out; o++)
                            for (int i = 0; i < s.In; i++)
                                Axpy2(ys + o * row, wa[i * s.Out + o], xs + i * row, wb[i * s.Out + o], ix + i * row, row);
                    else
                    {
                        RfftKernels.Gemm(s.Out, (int)row, s.In, 1, wa, 1, s.Out, xs, row, 1, 1, ys, row);
                        RfftKernels.Gemm(s.Out, (int)row, s.In, 1, wb, 1, s.Out, ix, row, 1, 1, ys, row);
                    }
                }
            }
            finally { NativeMemory.AlignedFree(ix); }
        });
    }

    /// <summary>The input gradient: dX = A·gY + (−i)·(B·gY).</summary>
    public static void LinearInputGrad<T>(T* gy, T* w, T* dx, GroupShape s) where T : unmanaged, INumber<T>
    {
        long row = s.Row, wPart = (long)s.Groups * s.In * s.Out;
        CpuParallel.For((long)s.Batch * s.Groups, 4.0 * s.In * s.Out * row, (start, end) =>
        {
            T* t = RfftKernels.Alloc<T>(Math.Max(s.In, s.Out) * row);
            try
            {
                for (long bg = start; bg < end; bg++)
                {
                    long b = bg / s.Groups, g = bg % s.Groups;
                    T* gs = gy + (b * s.Groups * s.Out + g * s.Out) * row;
                    T* ds = dx + (b * s.Groups * s.In + g * s.In) * row;
                    T* wa = w + g * s.In * s.Out, wb = wa + wPart;
                    if (s.Direct)
                    {
                        TimesI(gs, t, s.Out * row, sign: -1);
                        new Span<T>(ds, checked((int)(s.In * row))).Clear();
                        for (int i = 0; i < s.In; i++)
                            for (int o = 0; o < s.Out; o++)
                                Axpy2(ds + i * row, wa[i * s.Out + o], gs + o * row, wb[i * s.Out + o], t + o * row, row);
                        continue;
                    }
                    RfftKernels.Gemm(s.In, (int)row, s.Out, 1, wa, s.Out, 1, gs, row, 1, 0, ds, row);
                    RfftKernels.Gemm(s.In, (int)row, s.Out, 1, wb, s.Out, 1, gs, row, 1, 0, t, row);
                    long n = s.In * row;
                    for (long p = 0; p < n; p += 2) { ds[p] += t[p + 1]; ds[p + 1] -= t[p]; }
                }
            }
            finally { NativeMemory.AlignedFree(t); }
        });
    }

    /// <summary>
    /// Weight and bias gradients, summed over the batch in order (one thread per group, so the sums do
    /// not depend on the thread count): dA = Σ_b X·gYᵀ, dB = Σ_b (i·X)·gYᵀ.
    /// </summary>
    public static void LinearParamGrad<T>(T* x, T* gy, T* dw, T* dBias, GroupShape s) where T : unmanaged, INumber<T>
    {
        long row = s.Row, wPart = (long)s.Groups * s.In * s.Out;
        CpuParallel.For(s.Groups, 4.0 * s.Batch * s.In * s.Out * row, (start, end) =>
        {
            T* ix = dw is null ? null : RfftKernels.Alloc<T>(s.In * row);
            try
            {
                for (long g = start; g < end; g++)
                    for (long b = 0; b < s.Batch; b++)
                    {
                        T* gs = gy + (b * s.Groups * s.Out + g * s.Out) * row;
                        if (dw is not null)
                        {
                            T* xs = x + (b * s.Groups * s.In + g * s.In) * row;
                            T* da = dw + g * s.In * s.Out, db = da + wPart;
                            TimesI(xs, ix, s.In * row, sign: 1);
                            if (s.Direct)
                                for (int i = 0; i < s.In; i++)
                                    for (int o = 0; o < s.Out; o++)
                                    {
                                        var (sa, sb) = Dot2(xs + i * row, ix + i * row, gs + o * row, row);
                                        da[i * s.Out + o] += sa;
                                        db[i * s.Out + o] += sb;
                                    }
                            else
                            {
                                RfftKernels.Gemm(s.In, s.Out, (int)row, 1, xs, row, 1, gs, 1, row, 1, da, s.Out);
                                RfftKernels.Gemm(s.In, s.Out, (int)row, 1, ix, row, 1, gs, 1, row, 1, db, s.Out);
                            }
                        }
                        if (dBias is not null)
                            for (int o = 0; o < s.Out; o++)
                            {
                                T* gr = gs + o * row;
                                T re = T.Zero, im = T.Zero;
                                for (long p = 0; p < row; p += 2) { re += gr[p]; im += gr[p + 1]; }
                                dBias[g * s.Out + o] += re;
                                dBias[s.Groups * s.Out + g * s.Out + o] += im;
                            }
                    }
            }
            finally { if (ix is not null) NativeMemory.AlignedFree(ix); }
        });
    }

    /// <summary>dst = sign·i·src on interleaved pairs: (re, im) → sign·(−im, re).</summary>
    private static void TimesI<T>(T* src, T* dst, long count, int sign) where T : unmanaged, INumber<T>
    {
        if (sign > 0) for (long p = 0; p < count; p += 2) { dst[p] = -src[p + 1]; dst[p + 1] = src[p]; }
        else for (long p = 0; p < count; p += 2) { dst[p] = src[p + 1]; dst[p + 1] = -src[p]; }
    }

    /// <summary>y = a ⊙ b on interleaved complex pairs.</summary>
    public static void Multiply<T>(T* a, T* b, T* y, long pairs) where T : unmanaged, INumber<T>
    {
        CpuParallel.For(pairs, 6, (start, end) =>
        {
            for (long p = 2 * start; p < 2 * end; p += 2)
            {
                T ar = a[p], ai = a[p + 1], br = b[p], bi = b[p + 1];
                y[p] = ar * br - ai * bi;
                y[p + 1] = ar * bi + ai * br;
            }
        });
    }

    /// <summary>da = g ⊙ conj(b) and db = g ⊙ conj(a); either may be null.</summary>
    public static void MultiplyGrad<T>(T* g, T* a, T* b, T* da, T* db, long pairs) where T : unmanaged, INumber<T>
    {
        CpuParallel.For(pairs, 8, (start, end) =>
        {
            for (long p = 2 * start; p < 2 * end; p += 2)
            {
                T gr = g[p], gi = g[p + 1];
                if (da is not null) { da[p] = gr * b[p] + gi * b[p + 1]; da[p + 1] = gi * b[p] - gr * b[p + 1]; }
                if (db is not null) { db[p] = gr * a[p] + gi * a[p + 1]; db[p + 1] = gi * a[p] - gr * a[p + 1]; }
            }
        });
    }
}
