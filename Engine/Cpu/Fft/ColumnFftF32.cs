using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using V = System.Runtime.Intrinsics.Vector256<float>;

namespace Engine.Cpu;

/// <summary>
/// Forward complex DFTs down the columns of a planar block in float: re and im each hold N rows of
/// <c>lanes</c> floats (lanes a multiple of <see cref="LaneStep"/>), and every column is one transform of
/// length N. Each butterfly is vector arithmetic across eight columns with scalar twiddles, so a short
/// column transform needs no transpose and no per-column call (the H pass of rfft2 over a map's K columns).
/// </summary>
/// <remarks>
/// Mixed-radix decimation in time with <see cref="MixedRadixPlan"/>'s factors and digit reversal: the caller
/// loads row i of the block from input row <see cref="Source"/>[i], and the passes then run in place. Twiddles
/// are computed in double and rounded once; plain multiplies and adds (no FMA), and every column goes through
/// the same operations, so results depend neither on the thread count nor on a column's position.
/// </remarks>
internal sealed unsafe class ColumnFftF32
{
    /// <summary>The lane count of one vector step; a block's row length must be a multiple of it.</summary>
    public const int LaneStep = 8;

    private static readonly ConcurrentDictionary<int, ColumnFftF32> Cache = new();

    private const float Sin60 = 0.8660254037844386f;
    private static readonly float Cos72 = (float)Math.Cos(2 * Math.PI / 5), Cos144 = (float)Math.Cos(4 * Math.PI / 5);
    private static readonly float Sin72 = (float)Math.Sin(2 * Math.PI / 5), Sin144 = (float)Math.Sin(4 * Math.PI / 5);

    private readonly int[] _radices;
    // Per pass, the twiddles w_L^{j*q} (j < span, 1 <= q < p) at (q-1)*span + j, as in MixedRadixPlan.
    private readonly float[][] _twiddleRe, _twiddleIm;
    // Per pass with a radix above 5, the p-th roots of unity; null otherwise.
    private readonly float[]?[] _rootRe, _rootIm;

    private ColumnFftF32(int n)
    {
        N = n;
        _radices = MixedRadixPlan.Factor(n);
        Source = MixedRadixPlan.DigitReversal(n, _radices);
        int passes = _radices.Length, span = 1;
        _twiddleRe = new float[passes][];
        _twiddleIm = new float[passes][];
        _rootRe = new float[passes][];
        _rootIm = new float[passes][];
        for (int s = 0; s < passes; s++)
        {
            int p = _radices[s], length = span * p;
            _twiddleRe[s] = new float[span * (p - 1)];
            _twiddleIm[s] = new float[span * (p - 1)];
            for (int j = 0; j < span; j++)
                for (int q = 1; q < p; q++)
                {
                    var (re, im) = FftPlan.Root((long)j * q, length);
                    _twiddleRe[s][(q - 1) * span + j] = (float)re;
                    _twiddleIm[s][(q - 1) * span + j] = (float)im;
                }
            if (p > 5)
            {
                _rootRe[s] = new float[p];
                _rootIm[s] = new float[p];
                for (int k = 0; k < p; k++)
                {
                    var (re, im) = FftPlan.Root(k, p);
                    _rootRe[s]![k] = (float)re;
                    _rootIm[s]![k] = (float)im;
                }
            }
            span = length;
        }
    }

    /// <summary>True when every prime factor of <paramref name="n"/> has a direct butterfly (at most <see cref="FftPlan.MaxDirectPrime"/>).</summary>
    public static bool Supports(int n) => n >= 1 && FftPlan.LargestPrimeFactor(n) <= FftPlan.MaxDirectPrime;

    /// <summary>The plan for columns of length <paramref name="n"/> (cached; see <see cref="Supports"/>).</summary>
    public static ColumnFftF32 For(int n)
    {
        if (!Supports(n)) throw new ArgumentOutOfRangeException(nameof(n), n, $"ColumnFftF32: length {n} has a prime factor above {FftPlan.MaxDirectPrime}.");
        return Cache.GetOrAdd(n, static m => new ColumnFftF32(m));
    }

    /// <summary>The column length.</summary>
    public int N { get; }

    /// <summary>Row i of the block must hold input row Source[i] before <see cref="Forward"/>.</summary>
    public int[] Source { get; }

    /// <summary>
    /// X[u] = Σ_n x[n] e^{−2πi un/N} down every column, in place, the rows already in <see cref="Source"/> order.
    /// </summary>
    /// <param name="re">Real parts: N rows of <paramref name="lanes"/> floats.</param>
    /// <param name="im">Imaginary parts, same shape.</param>
    /// <param name="lanes">Row length, a positive multiple of <see cref="LaneStep"/>.</param>
    public void Forward(float* re, float* im, int lanes)
    {
        if (lanes <= 0 || lanes % LaneStep != 0)
            throw new ArgumentOutOfRangeException(nameof(lanes), lanes, $"ColumnFftF32: lanes must be a positive multiple of {LaneStep}.");
        int span = 1;
        for (int s = 0; s < _radices.Length; s++)
        {
            int p = _radices[s];
            fixed (float* tr = _twiddleRe[s], ti = _twiddleIm[s])
            {
                switch (p)
                {
                    case 2: Radix2(re, im, lanes, span, tr, ti); break;
                    case 3: Radix3(re, im, lanes, span, tr, ti); break;
                    case 4: Radix4(re, im, lanes, span, tr, ti); break;
                    case 5: Radix5(re, im, lanes, span, tr, ti); break;
                    default:
                        fixed (float* rr = _rootRe[s], ri = _rootIm[s])
                            Generic(re, im, lanes, span, p, tr, ti, rr, ri);
                        break;
                }
            }
            span *= p;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V L(float* p) => Vector256.Load(p);

    // x times the twiddle (wr, wi); the j = 0 twiddle is exactly 1, so it is skipped (same value for finite x).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (V Re, V Im) Twiddle(float* xr, float* xi, V wr, V wi, bool unit)
    {
        V r = L(xr), i = L(xi);
        return unit ? (r, i) : (r * wr - i * wi, r * wi + i * wr);
    }

    private void Radix2(float* re, float* im, int lanes, int span, float* tr, float* ti)
    {
        long stride = (long)span * lanes;
        for (int b = 0; b < N; b += 2 * span)
            for (int j = 0; j < span; j++)
            {
                float* r0 = re + (long)(b + j) * lanes, i0 = im + (long)(b + j) * lanes;
                V w1r = Vector256.Create(tr[j]), w1i = Vector256.Create(ti[j]);
                bool unit = j == 0;
                for (int c = 0; c < lanes; c += LaneStep)
                {
                    var (xr, xi) = Twiddle(r0 + stride + c, i0 + stride + c, w1r, w1i, unit);
                    V ar = L(r0 + c), ai = L(i0 + c);
                    (ar + xr).Store(r0 + c); (ai + xi).Store(i0 + c);
                    (ar - xr).Store(r0 + stride + c); (ai - xi).Store(i0 + stride + c);
                }
            }
    }

    private void Radix3(float* re, float* im, int lanes, int span, float* tr, float* ti)
    {
        long stride = (long)span * lanes;
        V half = Vector256.Create(0.5f), s60 = Vector256.Create(Sin60);
        for (int b = 0; b < N; b += 3 * span)
            for (int j = 0; j < span; j++)
            {
                float* r0 = re + (long)(b + j) * lanes, i0 = im + (long)(b + j) * lanes;
                V w1r = Vector256.Create(tr[j]), w1i = Vector256.Create(ti[j]);
                V w2r = Vector256.Create(tr[span + j]), w2i = Vector256.Create(ti[span + j]);
                bool unit = j == 0;
                for (int c = 0; c < lanes; c += LaneStep)
                {
                    V a0r = L(r0 + c), a0i = L(i0 + c);
                    var (a1r, a1i) = Twiddle(r0 + stride + c, i0 + stride + c, w1r, w1i, unit);
                    var (a2r, a2i) = Twiddle(r0 + 2 * stride + c, i0 + 2 * stride + c, w2r, w2i, unit);
                    V sr = a1r + a2r, si = a1i + a2i;
                    V mr = a0r - half * sr, mi = a0i - half * si;
                    // −i·sin60·(a1 − a2)
                    V nr = s60 * (a1i - a2i), ni = s60 * (a2r - a1r);
                    (a0r + sr).Store(r0 + c); (a0i + si).Store(i0 + c);
                    (mr + nr).Store(r0 + stride + c); (mi + ni).Store(i0 + stride + c);
                    (mr - nr).Store(r0 + 2 * stride + c); (mi - ni).Store(i0 + 2 * stride + c);
                }
            }
    }

    private void Radix4(float* re, float* im, int lanes, int span, float* tr, float* ti)
    {
        long stride = (long)span * lanes;
        for (int b = 0; b < N; b += 4 * span)
            for (int j = 0; j < span; j++)
            {
                float* r0 = re + (long)(b + j) * lanes, i0 = im + (long)(b + j) * lanes;
                V w1r = Vector256.Create(tr[j]), w1i = Vector256.Create(ti[j]);
                V w2r = Vector256.Create(tr[span + j]), w2i = Vector256.Create(ti[span + j]);
                V w3r = Vector256.Create(tr[2 * span + j]), w3i = Vector256.Create(ti[2 * span + j]);
                bool unit = j == 0;
                for (int c = 0; c < lanes; c += LaneStep)
                {
                    V a0r = L(r0 + c), a0i = L(i0 + c);
                    var (a1r, a1i) = Twiddle(r0 + stride + c, i0 + stride + c, w1r, w1i, unit);
                    var (a2r, a2i) = Twiddle(r0 + 2 * stride + c, i0 + 2 * stride + c, w2r, w2i, unit);
                    var (a3r, a3i) = Twiddle(r0 + 3 * stride + c, i0 + 3 * stride + c, w3r, w3i, unit);
                    V s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i;
                    V s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i;
                    (s02r + s13r).Store(r0 + c); (s02i + s13i).Store(i0 + c);
                    (s02r - s13r).Store(r0 + 2 * stride + c); (s02i - s13i).Store(i0 + 2 * stride + c);
                    // y1 = d02 − i·d13, y3 = d02 + i·d13
                    (d02r + d13i).Store(r0 + stride + c); (d02i - d13r).Store(i0 + stride + c);
                    (d02r - d13i).Store(r0 + 3 * stride + c); (d02i + d13r).Store(i0 + 3 * stride + c);
                }
            }
    }

    private void Radix5(float* re, float* im, int lanes, int span, float* tr, float* ti)
    {
        long stride = (long)span * lanes;
        V c1 = Vector256.Create(Cos72), c2 = Vector256.Create(Cos144), s1 = Vector256.Create(Sin72), s2 = Vector256.Create(Sin144);
        for (int b = 0; b < N; b += 5 * span)
            for (int j = 0; j < span; j++)
            {
                float* r0 = re + (long)(b + j) * lanes, i0 = im + (long)(b + j) * lanes;
                V w1r = Vector256.Create(tr[j]), w1i = Vector256.Create(ti[j]);
                V w2r = Vector256.Create(tr[span + j]), w2i = Vector256.Create(ti[span + j]);
                V w3r = Vector256.Create(tr[2 * span + j]), w3i = Vector256.Create(ti[2 * span + j]);
                V w4r = Vector256.Create(tr[3 * span + j]), w4i = Vector256.Create(ti[3 * span + j]);
                bool unit = j == 0;
                for (int c = 0; c < lanes; c += LaneStep)
                {
                    V a0r = L(r0 + c), a0i = L(i0 + c);
                    var (a1r, a1i) = Twiddle(r0 + stride + c, i0 + stride + c, w1r, w1i, unit);
                    var (a2r, a2i) = Twiddle(r0 + 2 * stride + c, i0 + 2 * stride + c, w2r, w2i, unit);
                    var (a3r, a3i) = Twiddle(r0 + 3 * stride + c, i0 + 3 * stride + c, w3r, w3i, unit);
                    var (a4r, a4i) = Twiddle(r0 + 4 * stride + c, i0 + 4 * stride + c, w4r, w4i, unit);
                    V b1r = a1r + a4r, b1i = a1i + a4i, d1r = a1r - a4r, d1i = a1i - a4i;
                    V b2r = a2r + a3r, b2i = a2i + a3i, d2r = a2r - a3r, d2i = a2i - a3i;
                    V m1r = a0r + c1 * b1r + c2 * b2r, m1i = a0i + c1 * b1i + c2 * b2i;
                    V m2r = a0r + c2 * b1r + c1 * b2r, m2i = a0i + c2 * b1i + c1 * b2i;
                    // n1 = −i(s1 d1 + s2 d2), n2 = −i(s2 d1 − s1 d2); −i(x + iy) = y − ix
                    V e1r = s1 * d1r + s2 * d2r, e1i = s1 * d1i + s2 * d2i;
                    V e2r = s2 * d1r - s1 * d2r, e2i = s2 * d1i - s1 * d2i;
                    (a0r + b1r + b2r).Store(r0 + c); (a0i + b1i + b2i).Store(i0 + c);
                    (m1r + e1i).Store(r0 + stride + c); (m1i - e1r).Store(i0 + stride + c);
                    (m1r - e1i).Store(r0 + 4 * stride + c); (m1i + e1r).Store(i0 + 4 * stride + c);
                    (m2r + e2i).Store(r0 + 2 * stride + c); (m2i - e2r).Store(i0 + 2 * stride + c);
                    (m2r - e2i).Store(r0 + 3 * stride + c); (m2i + e2r).Store(i0 + 3 * stride + c);
                }
            }
    }

    // Any radix up to MaxDirectPrime by the direct p-point sum; roots[k] = e^{−2πik/p}.
    private void Generic(float* re, float* im, int lanes, int span, int p, float* tr, float* ti, float* rootRe, float* rootIm)
    {
        long stride = (long)span * lanes;
        V* ar = stackalloc V[p];
        V* ai = stackalloc V[p];
        for (int b = 0; b < N; b += p * span)
            for (int j = 0; j < span; j++)
            {
                float* r0 = re + (long)(b + j) * lanes, i0 = im + (long)(b + j) * lanes;
                bool unit = j == 0;
                for (int c = 0; c < lanes; c += LaneStep)
                {
                    ar[0] = L(r0 + c); ai[0] = L(i0 + c);
                    for (int q = 1; q < p; q++)
                        (ar[q], ai[q]) = Twiddle(r0 + q * stride + c, i0 + q * stride + c,
                            Vector256.Create(tr[(q - 1) * span + j]), Vector256.Create(ti[(q - 1) * span + j]), unit);
                    for (int k = 0; k < p; k++)
                    {
                        V yr = ar[0], yi = ai[0];
                        int r = 0;
                        for (int q = 1; q < p; q++)
                        {
                            r += k;
                            if (r >= p) r -= p;
                            V wr = Vector256.Create(rootRe[r]), wi = Vector256.Create(rootIm[r]);
                            yr += ar[q] * wr - ai[q] * wi;
                            yi += ar[q] * wi + ai[q] * wr;
                        }
                        yr.Store(r0 + k * stride + c); yi.Store(i0 + k * stride + c);
                    }
                }
            }
    }
}
