using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The float32 forward of the channels-first layer norms (<see cref="LayerNorm2dCpu"/>), in float lanes, one lane a
/// position: a block of two vectors of positions (32 with AVX-512, 16 with AVX2) is normalised over the channels in
/// three passes down the channels while its rows stay in the first-level cache, the statistics in registers (the
/// generic form widened every element to double through scratch buffers and walked whole 256-position tiles).
/// As the F32 layer norm's forward (LayerNormForwardF32.Cpu.cs): a first mean, rounded to float, centres the values
/// and the mean of the centred values corrects it. The first sums run in float lanes for at most
/// <see cref="LaneRun"/> channels before they are widened into double totals; the centred values are taken, summed
/// and squared in double; the per-position statistics are finished in double; the normalisation runs in float. Every lane does the same operations whatever the vector width and whichever block it falls in
/// (a last, partial block runs through zero-padded copies), so the bits depend neither on the width nor on the thread
/// count.
/// </summary>
internal static unsafe partial class LayerNorm2dCpu
{
    /// <summary>Channels a float lane sum runs before it is widened into the position's double total.</summary>
    private const int LaneRun = 8;

    /// <summary>Whether the float32 kernel runs here (it widens with AVX instructions); elsewhere the generic form does.</summary>
    private static bool F32Supported => Avx.IsSupported && Fma.IsSupported;

    private static void ForwardF32(float* x, float* y, float* mean, float* spread, int n, int c, long s, float[] gamma, float[] beta, double eps, bool epsOnStd)
    {
        bool use512 = VectorWidth.Use512 && Avx512F.IsSupported;
        int block = use512 ? 32 : 16;
        long perSample = (s + block - 1) / block;
        CpuParallel.For(n * perSample, 4.0 * c * block, (start, end) =>
        {
            // Statistics of the block (double sums, float factors) and, for a partial block, zero-padded copies.
            double[] sums = ArrayPool<double>.Shared.Rent(3 * block);
            float[] factors = ArrayPool<float>.Shared.Rent(3 * block);
            float[]? padded = null;
            try
            {
                fixed (double* sp = sums)
                fixed (float* fp = factors, gm = gamma, bt = beta)
                {
                    for (long item = start; item < end; item++)
                    {
                        long b = item / perSample, p = item % perSample * block;
                        int lanes = (int)Math.Min(block, s - p);
                        float* xb = x + b * c * s + p, yb = y + b * c * s + p;
                        float* mb = mean + b * s + p, sb = spread + b * s + p;
                        var f = new BlockFactors(sp, fp, block);
                        if (lanes == block)
                        {
                            Block(xb, yb, s, gm, bt, c, eps, epsOnStd, f, use512);
                            new ReadOnlySpan<float>(f.Mean, block).CopyTo(new Span<float>(mb, block));
                            new ReadOnlySpan<float>(f.Spread, block).CopyTo(new Span<float>(sb, block));
                            continue;
                        }
                        padded ??= new float[2 * c * block];
                        fixed (float* pad = padded)
                        {
                            new Span<float>(pad, c * block).Clear();
                            for (int ch = 0; ch < c; ch++) new ReadOnlySpan<float>(xb + ch * s, lanes).CopyTo(new Span<float>(pad + ch * block, lanes));
                            Block(pad, pad + c * block, block, gm, bt, c, eps, epsOnStd, f, use512);
                            for (int ch = 0; ch < c; ch++) new ReadOnlySpan<float>(pad + c * block + ch * block, lanes).CopyTo(new Span<float>(yb + ch * s, lanes));
                        }
                        new ReadOnlySpan<float>(f.Mean, lanes).CopyTo(new Span<float>(mb, lanes));
                        new ReadOnlySpan<float>(f.Spread, lanes).CopyTo(new Span<float>(sb, lanes));
                    }
                }
            }
            finally
            {
                ArrayPool<double>.Shared.Return(sums);
                ArrayPool<float>.Shared.Return(factors);
            }
        });
    }

    /// <summary>Scratch of one block: double sums per position, then the float factors and the saved statistics.</summary>
    private readonly struct BlockFactors(double* sums, float* factors, int block)
    {
        public readonly double* Sum = sums, Shift = sums + block, Squares = sums + 2 * block;
        public readonly float* Centre = factors, Rest = factors + block, Rstd = factors + 2 * block;
        // The saved statistics reuse the centre's and the rest's slots once the block's output is written.
        public float* Mean => Centre;
        public float* Spread => Rest;
    }

    /// <summary>One block of positions: <paramref name="stride"/> apart from channel to channel in x and y.</summary>
    private static void Block(float* x, float* y, long stride, float* gamma, float* beta, int c, double eps, bool epsOnStd, BlockFactors f, bool use512)
    {
        int block = use512 ? 32 : 16;
        if (use512) Sums512(x, stride, c, f.Sum);
        else Sums256(x, stride, c, f.Sum);
        for (int i = 0; i < block; i += 4)
        {
            var centre = Vector256.Load(f.Sum + i) / Vector256.Create((double)c);
            Avx.ConvertToVector128Single(centre).Store(f.Centre + i);
        }
        if (use512) Centred512(x, stride, c, f.Shift, f.Squares, f.Centre);
        else Centred256(x, stride, c, f.Shift, f.Squares, f.Centre);
        var count = Vector256.Create((double)c);
        var e = Vector256.Create(eps);
        for (int i = 0; i < block; i += 4)
        {
            var rest = Vector256.Load(f.Shift + i) / count;
            // Σ (x - mean)² = Σ (x - centre)² - c (mean - centre)².
            var variance = Vector256.Max(Vector256.Load(f.Squares + i) / count - rest * rest, Vector256<double>.Zero);
            var std = Vector256.Sqrt(variance);
            var rstd = epsOnStd ? Vector256<double>.One / (std + e) : Vector256<double>.One / Vector256.Sqrt(variance + e);
            Avx.ConvertToVector128Single(rest).Store(f.Rest + i);
            Avx.ConvertToVector128Single(rstd).Store(f.Rstd + i);
            // Kept in double for the saved statistics, written once the block's output is (their slots hold the factors till then).
            rest.Store(f.Shift + i);
            (epsOnStd ? std : rstd).Store(f.Squares + i);
        }
        if (use512) Normalize512(x, y, stride, gamma, beta, c, f.Centre, f.Rest, f.Rstd);
        else Normalize256(x, y, stride, gamma, beta, c, f.Centre, f.Rest, f.Rstd);
        for (int i = 0; i < block; i += 4)
        {
            // mean = centre + rest in double, then narrowed; the spread saved is the std or the rstd.
            var centre = Avx.ConvertToVector256Double(Vector128.Load(f.Centre + i));
            Avx.ConvertToVector128Single(centre + Vector256.Load(f.Shift + i)).Store(f.Mean + i);
            Avx.ConvertToVector128Single(Vector256.Load(f.Squares + i)).Store(f.Spread + i);
        }
    }

    /// <summary>Σ x down the channels of two vectors of positions, in float lanes for <see cref="LaneRun"/> channels at a time, widened into double totals.</summary>
    private static void Sums512(float* x, long stride, int c, double* sum)
    {
        Vector512<double> s0 = Vector512<double>.Zero, s1 = s0, s2 = s0, s3 = s0;
        for (int ch0 = 0; ch0 < c; ch0 += LaneRun)
        {
            Vector512<float> a0 = Vector512<float>.Zero, a1 = a0;
            for (int ch = ch0, stop = Math.Min(c, ch0 + LaneRun); ch < stop; ch++)
            {
                a0 += Vector512.Load(x + ch * stride);
                a1 += Vector512.Load(x + ch * stride + 16);
            }
            s0 += Avx512F.ConvertToVector512Double(a0.GetLower());
            s1 += Avx512F.ConvertToVector512Double(a0.GetUpper());
            s2 += Avx512F.ConvertToVector512Double(a1.GetLower());
            s3 += Avx512F.ConvertToVector512Double(a1.GetUpper());
        }
        s0.Store(sum); s1.Store(sum + 8); s2.Store(sum + 16); s3.Store(sum + 24);
    }

    /// <summary>
    /// Down the channels of two vectors of positions: Σ (x - centre) into <paramref name="sum"/> and Σ (x - centre)²
    /// into <paramref name="squares"/>, in double (the differences of two floats are exact there). Float differences
    /// were rounded wherever x and the centre are not within a factor of two, which moved a saved mean or std by an
    /// ulp in one position of ten; the backward divides by the std, and the input gradient of two channels, a near
    /// cancellation, moved by 1e-5 against the float64 form.
    /// </summary>
    private static void Centred512(float* x, long stride, int c, double* sum, double* squares, float* centre)
    {
        Vector512<double> s0 = Vector512<double>.Zero, s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
        Vector512<float> c0 = Vector512.Load(centre), c1 = Vector512.Load(centre + 16);
        Vector512<double> m0 = Avx512F.ConvertToVector512Double(c0.GetLower()), m1 = Avx512F.ConvertToVector512Double(c0.GetUpper()), m2 = Avx512F.ConvertToVector512Double(c1.GetLower()), m3 = Avx512F.ConvertToVector512Double(c1.GetUpper());
        for (int ch = 0; ch < c; ch++)
        {
            var x0 = Vector512.Load(x + ch * stride);
            var x1 = Vector512.Load(x + ch * stride + 16);
            Vector512<double> e0 = Avx512F.ConvertToVector512Double(x0.GetLower()) - m0, e1 = Avx512F.ConvertToVector512Double(x0.GetUpper()) - m1;
            Vector512<double> e2 = Avx512F.ConvertToVector512Double(x1.GetLower()) - m2, e3 = Avx512F.ConvertToVector512Double(x1.GetUpper()) - m3;
            s0 += e0; s1 += e1; s2 += e2; s3 += e3;
            q0 = Vector512.FusedMultiplyAdd(e0, e0, q0);
            q1 = Vector512.FusedMultiplyAdd(e1, e1, q1);
            q2 = Vector512.FusedMultiplyAdd(e2, e2, q2);
            q3 = Vector512.FusedMultiplyAdd(e3, e3, q3);
        }
        s0.Store(sum); s1.Store(sum + 8); s2.Store(sum + 16); s3.Store(sum + 24);
        q0.Store(squares); q1.Store(squares + 8); q2.Store(squares + 16); q3.Store(squares + 24);
    }

    /// <summary>y = ((x - centre) - rest) rstd γ + β down the channels of two vectors of positions.</summary>
    private static void Normalize512(float* x, float* y, long stride, float* gamma, float* beta, int c, float* centre, float* rest, float* rstd)
    {
        Vector512<float> m0 = Vector512.Load(centre), m1 = Vector512.Load(centre + 16);
        Vector512<float> e0 = Vector512.Load(rest), e1 = Vector512.Load(rest + 16);
        Vector512<float> r0 = Vector512.Load(rstd), r1 = Vector512.Load(rstd + 16);
        for (int ch = 0; ch < c; ch++)
        {
            Vector512<float> g = Vector512.Create(gamma[ch]), b = Vector512.Create(beta[ch]);
            long at = ch * stride;
            Vector512.FusedMultiplyAdd((Vector512.Load(x + at) - m0 - e0) * r0, g, b).Store(y + at);
            Vector512.FusedMultiplyAdd((Vector512.Load(x + at + 16) - m1 - e1) * r1, g, b).Store(y + at + 16);
        }
    }

    /// <summary><see cref="Sums512"/> on eight-lane vectors.</summary>
    private static void Sums256(float* x, long stride, int c, double* sum)
    {
        Vector256<double> s0 = Vector256<double>.Zero, s1 = s0, s2 = s0, s3 = s0;
        for (int ch0 = 0; ch0 < c; ch0 += LaneRun)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0;
            for (int ch = ch0, stop = Math.Min(c, ch0 + LaneRun); ch < stop; ch++)
            {
                a0 += Vector256.Load(x + ch * stride);
                a1 += Vector256.Load(x + ch * stride + 8);
            }
            s0 += Avx.ConvertToVector256Double(a0.GetLower());
            s1 += Avx.ConvertToVector256Double(a0.GetUpper());
            s2 += Avx.ConvertToVector256Double(a1.GetLower());
            s3 += Avx.ConvertToVector256Double(a1.GetUpper());
        }
        s0.Store(sum); s1.Store(sum + 4); s2.Store(sum + 8); s3.Store(sum + 12);
    }

    /// <summary><see cref="Centred512"/> on eight-lane vectors.</summary>
    private static void Centred256(float* x, long stride, int c, double* sum, double* squares, float* centre)
    {
        Vector256<double> s0 = Vector256<double>.Zero, s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
        Vector256<float> c0 = Vector256.Load(centre), c1 = Vector256.Load(centre + 8);
        Vector256<double> m0 = Avx.ConvertToVector256Double(c0.GetLower()), m1 = Avx.ConvertToVector256Double(c0.GetUpper()), m2 = Avx.ConvertToVector256Double(c1.GetLower()), m3 = Avx.ConvertToVector256Double(c1.GetUpper());
        for (int ch = 0; ch < c; ch++)
        {
            var x0 = Vector256.Load(x + ch * stride);
            var x1 = Vector256.Load(x + ch * stride + 8);
            Vector256<double> e0 = Avx.ConvertToVector256Double(x0.GetLower()) - m0, e1 = Avx.ConvertToVector256Double(x0.GetUpper()) - m1;
            Vector256<double> e2 = Avx.ConvertToVector256Double(x1.GetLower()) - m2, e3 = Avx.ConvertToVector256Double(x1.GetUpper()) - m3;
            s0 += e0; s1 += e1; s2 += e2; s3 += e3;
            q0 = Vector256.FusedMultiplyAdd(e0, e0, q0);
            q1 = Vector256.FusedMultiplyAdd(e1, e1, q1);
            q2 = Vector256.FusedMultiplyAdd(e2, e2, q2);
            q3 = Vector256.FusedMultiplyAdd(e3, e3, q3);
        }
        s0.Store(sum); s1.Store(sum + 4); s2.Store(sum + 8); s3.Store(sum + 12);
        q0.Store(squares); q1.Store(squares + 4); q2.Store(squares + 8); q3.Store(squares + 12);
    }

    /// <summary>(<see cref="Normalize512"/> on eight-lane vectors.) y = ((x - centre) - rest) rstd γ + β down the channels of two vectors of positions.</summary>
    private static void Normalize256(float* x, float* y, long stride, float* gamma, float* beta, int c, float* centre, float* rest, float* rstd)
    {
        Vector256<float> m0 = Vector256.Load(centre), m1 = Vector256.Load(centre + 8);
        Vector256<float> e0 = Vector256.Load(rest), e1 = Vector256.Load(rest + 8);
        Vector256<float> r0 = Vector256.Load(rstd), r1 = Vector256.Load(rstd + 8);
        for (int ch = 0; ch < c; ch++)
        {
            Vector256<float> g = Vector256.Create(gamma[ch]), b = Vector256.Create(beta[ch]);
            long at = ch * stride;
            Vector256.FusedMultiplyAdd((Vector256.Load(x + at) - m0 - e0) * r0, g, b).Store(y + at);
            Vector256.FusedMultiplyAdd((Vector256.Load(x + at + 8) - m1 - e1) * r1, g, b).Store(y + at + 8);
        }
    }
}
