using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The F32 real-to-half-spectrum transforms with the forward sign (rfft2, and the spectrum gradient of
/// irfft2), a few planes at a time so that every intermediate stays in the core's cache: the W pass of a block
/// of planes is one GEMM with the square half-complex basis of <see cref="RfftBasis"/> (the norm as its
/// alpha), and each plane's H pass is <see cref="ColumnFftF32"/> down its K columns at once, written
/// straight into the interleaved spectrum. The general path (<see cref="RfftKernels"/>) instead streams
/// the whole batch through memory five times: GEMM output, gather into rows, FFT in double, scatter.
/// </summary>
/// <remarks>
/// Blocks are fixed runs of planes (independent of the thread count) and each plane goes through the same
/// operations wherever it lies, so the bits do not depend on the thread count.
/// </remarks>
internal static unsafe class RfftPlanesF32
{
    [ThreadStatic] private static bool t_disabled;

    /// <summary>
    /// Whether F32 calls from this thread may take this path (default true); tests and benchmarks turn it off
    /// to run the general path in the same process.
    /// </summary>
    internal static bool Enabled
    {
        get => !t_disabled;
        set => t_disabled = !value;
    }

    /// <summary>
    /// True when this thread's call for the map of <paramref name="b"/> takes this path: not a dense-path map, the
    /// column length has direct butterflies, and 256-bit vectors are hardware (elsewhere the general path is faster).
    /// </summary>
    public static bool Applies(RfftBasis b) => Enabled && !b.Dense && ColumnFftF32.Supports(b.H) && Vector256.IsHardwareAccelerated;

    // About 32 KiB of input per block: the block's W-pass output and one plane's H-pass buffers stay in L1/L2.
    private const int BlockFloats = 8192;

    /// <summary>
    /// spectrum[p, u, k] = alpha · Σ_n e^{−2πiun/H} Σ_x x[p, n, x]·c_k·e^{−2πikx/W}: with c_k = 1
    /// (<paramref name="weighted"/> false) rfft2; with the C2R weights, the adjoint of irfft2.
    /// </summary>
    public static void Forward(float* x, float* spectrum, long planes, RfftBasis b, double alpha, bool weighted)
    {
        int h = b.H, w = b.W, k = b.K;
        long plane = (long)h * w, planeOut = 2L * h * k;
        float* basis = weighted ? b.InverseHalfTransposed<float>() : b.ForwardHalf<float>();
        var fft = ColumnFftF32.For(h);
        ForEachBlock(planes, b, fft, (p0, count, t, re, im, source, lanes) =>
        {
            CpuGemm.Gemm(count * h, w, w, (float)alpha, x + p0 * plane, w, 1, basis, w, 1, 0f, t, w);
            for (int q = 0; q < count; q++)
            {
                Unpack(t + q * plane, re, im, source, h, w, k, lanes);
                fft.Forward(re, im, lanes);
                Interleave(re, im, spectrum + (p0 + q) * planeOut, h, k, lanes);
            }
        });
    }

    /// <summary>
    /// y[p, n, x] = alpha · Σ_k c_k Re(e^{2πikx/W} Σ_u e^{2πiun/H} spectrum[p, u, k]): with the C2R weights
    /// (<paramref name="weighted"/> true) irfft2; with c_k = 1, the adjoint of rfft2. Each plane's H pass runs
    /// the forward column FFT on the conjugate (conj·FFT·conj is the inverse, negations are exact) and leaves
    /// the half-complex rows that the block's W pass, one GEMM with the transposed square basis, turns into
    /// real rows. The imaginary parts of k = 0 and (even W) k = W/2 meet sin = 0 there, so dropping them is exact.
    /// </summary>
    public static void Inverse(float* spectrum, float* y, long planes, RfftBasis b, double alpha, bool weighted)
    {
        int h = b.H, w = b.W, k = b.K;
        long plane = (long)h * w, planeIn = 2L * h * k;
        float* basis = weighted ? b.InverseHalfTransposed<float>() : b.ForwardHalf<float>();
        var fft = ColumnFftF32.For(h);
        ForEachBlock(planes, b, fft, (p0, count, t, re, im, source, lanes) =>
        {
            for (int q = 0; q < count; q++)
            {
                Deinterleave(spectrum + (p0 + q) * planeIn, re, im, source, h, k, lanes);
                fft.Forward(re, im, lanes);
                Pack(re, im, t + q * plane, h, w, k, lanes);
            }
            // y = t · basisᵀ: the basis is stored (x, j), read here as (j, x).
            CpuGemm.Gemm(count * h, w, w, (float)alpha, t, w, 1, basis, 1, w, 0f, y + p0 * plane, w);
        });
    }

    /// <summary>One block of planes [p0, p0 + count) with this thread's scratch: the block's W-pass matrix and one plane's planar rows.</summary>
    private delegate void BlockBody(long p0, int count, float* t, float* re, float* im, int* source, int lanes);

    /// <summary>
    /// Runs <paramref name="body"/> on the fixed blocks of planes in parallel, each thread with its own scratch:
    /// the block's W-pass matrix and planar rows padded to whole vectors of columns (lanes at or beyond K stay
    /// zero: only zeros ever enter them).
    /// </summary>
    private static void ForEachBlock(long planes, RfftBasis b, ColumnFftF32 fft, BlockBody body)
    {
        int h = b.H, w = b.W, k = b.K;
        int lanes = (k + ColumnFftF32.LaneStep - 1) / ColumnFftF32.LaneStep * ColumnFftF32.LaneStep;
        int block = Math.Max(1, BlockFloats / (h * w));
        long blocks = (planes + block - 1) / block, plane = (long)h * w;
        double cost = block * (2.0 * plane * w + 10.0 * h * lanes * Math.Max(1, Math.Log2(h)));
        CpuParallel.For(blocks, cost, (start, end) =>
        {
            float* t = RfftKernels.Alloc<float>(block * plane);
            float* re = RfftKernels.Alloc<float>(2L * h * lanes), im = re + (long)h * lanes;
            try
            {
                new Span<float>(re, 2 * h * lanes).Clear();
                fixed (int* source = fft.Source)
                    for (long bi = start; bi < end; bi++)
                    {
                        long p0 = bi * block;
                        body(p0, (int)Math.Min(block, planes - p0), t, re, im, source, lanes);
                    }
            }
            finally
            {
                NativeMemory.AlignedFree(t);
                NativeMemory.AlignedFree(re);
            }
        });
    }

    /// <summary>
    /// One plane's interleaved spectrum into planar rows, conjugated, row i from row source[i]. Lanes at or
    /// beyond K are never written and stay zero.
    /// </summary>
    private static void Deinterleave(float* src, float* re, float* im, int* source, int h, int k, int lanes)
    {
        for (int i = 0; i < h; i++)
        {
            float* s = src + 2L * source[i] * k, dr = re + (long)i * lanes, di = im + (long)i * lanes;
            int c = 0;
            if (Avx2.IsSupported)
                for (; c + 8 <= k; c += 8)
                {
                    Vector256<float> a = Avx.LoadVector256(s + 2 * c), b = Avx.LoadVector256(s + 2 * c + 8);
                    // Per 128-bit half: (r0 r1 r4 r5 | r2 r3 r6 r7), then the 64-bit pairs put in order.
                    Vector256<float> r = Avx.Shuffle(a, b, 0b10_00_10_00), v = Avx.Shuffle(a, b, 0b11_01_11_01);
                    Avx.Store(dr + c, Avx2.Permute4x64(r.AsDouble(), 0b11_01_10_00).AsSingle());
                    Avx.Store(di + c, -Avx2.Permute4x64(v.AsDouble(), 0b11_01_10_00).AsSingle());
                }
            for (; c < k; c++) { dr[c] = s[2 * c]; di[c] = -s[2 * c + 1]; }
        }
    }

    /// <summary>Planar rows of the conjugated H-pass output into half-complex rows (conjugated back).</summary>
    private static void Pack(float* re, float* im, float* t, int h, int w, int k, int lanes)
    {
        int imaginary = w - k;
        for (int n = 0; n < h; n++)
        {
            float* dr = t + (long)n * w, sr = re + (long)n * lanes, si = im + (long)n * lanes + 1;
            new ReadOnlySpan<float>(sr, k).CopyTo(new Span<float>(dr, k));
            for (int j = 0; j < imaginary; j++) dr[k + j] = -si[j];
        }
    }

    /// <summary>
    /// One plane's half-complex W-pass output (H rows of W) into planar rows of K complex values, row i
    /// from row source[i] (the H pass's digit reversal), the structurally zero imaginary parts restored.
    /// </summary>
    private static void Unpack(float* t, float* re, float* im, int* source, int h, int w, int k, int lanes)
    {
        int imaginary = w - k;
        for (int i = 0; i < h; i++)
        {
            float* s = t + (long)source[i] * w, dr = re + (long)i * lanes, di = im + (long)i * lanes;
            new ReadOnlySpan<float>(s, k).CopyTo(new Span<float>(dr, k));
            di[0] = 0;
            new ReadOnlySpan<float>(s + k, imaginary).CopyTo(new Span<float>(di + 1, imaginary));
            if (w % 2 == 0 && k > 1) di[k - 1] = 0;
        }
    }

    /// <summary>Planar rows of K complex values into the spectrum's interleaved (re, im) rows.</summary>
    private static void Interleave(float* re, float* im, float* dst, int h, int k, int lanes)
    {
        for (int u = 0; u < h; u++)
        {
            float* r = re + (long)u * lanes, i = im + (long)u * lanes, d = dst + 2L * u * k;
            int c = 0;
            if (Avx.IsSupported)
                for (; c + 8 <= k; c += 8)
                {
                    Vector256<float> vr = Avx.LoadVector256(r + c), vi = Avx.LoadVector256(i + c);
                    Vector256<float> lo = Avx.UnpackLow(vr, vi), hi = Avx.UnpackHigh(vr, vi);
                    Avx.Store(d + 2 * c, Avx.Permute2x128(lo, hi, 0x20));
                    Avx.Store(d + 2 * c + 8, Avx.Permute2x128(lo, hi, 0x31));
                }
            for (; c < k; c++) { d[2 * c] = r[c]; d[2 * c + 1] = i[c]; }
        }
    }
}
