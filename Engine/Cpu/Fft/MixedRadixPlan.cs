namespace Engine.Cpu;

/// <summary>
/// Iterative decimation-in-time FFT for lengths whose prime factors are at most
/// <see cref="FftPlan.MaxDirectPrime"/>: one digit-reversing gather, then one pass per radix
/// (4, 2, 3, 5 specialised; other small primes by a direct butterfly).
/// </summary>
internal sealed unsafe class MixedRadixPlan : FftPlan
{
    private readonly int[] _radices;
    // _source[i]: which input element lands at position i, so that each pass combines adjacent sub-transforms.
    private readonly int[] _source;
    // Per pass, the twiddles w_L^{j*q} for j < span (length of the sub-transforms) and 1 <= q < p, j fastest
    // so that consecutive butterflies read consecutive twiddles.
    private readonly double[][] _twiddleRe, _twiddleIm;
    // Per pass with a generic radix p, the p-th roots of unity e^{-2 pi i k/p}; null for specialised radices.
    private readonly double[]?[] _rootRe, _rootIm;

    public MixedRadixPlan(int n) : base(n)
    {
        _radices = Factor(n);
        _source = DigitReversal(n, _radices);
        int passes = _radices.Length;
        _twiddleRe = new double[passes][];
        _twiddleIm = new double[passes][];
        _rootRe = new double[passes][];
        _rootIm = new double[passes][];
        int span = 1;
        for (int s = 0; s < passes; s++)
        {
            int p = _radices[s], length = span * p;
            var re = new double[span * (p - 1)];
            var im = new double[span * (p - 1)];
            for (int j = 0; j < span; j++)
                for (int q = 1; q < p; q++)
                    (re[(q - 1) * span + j], im[(q - 1) * span + j]) = Root((long)j * q, length);
            _twiddleRe[s] = re;
            _twiddleIm[s] = im;
            if (p > 5)
            {
                _rootRe[s] = new double[p];
                _rootIm[s] = new double[p];
                for (int k = 0; k < p; k++) (_rootRe[s]![k], _rootIm[s]![k]) = Root(k, p);
            }
            span = length;
        }
    }

    public override int ScratchLength => 2 * N;

    /// <summary>Radices in pass order: fours first (fewest passes), then a two, then odd primes.</summary>
    internal static int[] Factor(int n)
    {
        var radices = new List<int>();
        while (n % 4 == 0) { radices.Add(4); n /= 4; }
        if (n % 2 == 0) { radices.Add(2); n /= 2; }
        for (int p = 3; n > 1; p += 2)
            while (n % p == 0) { radices.Add(p); n /= p; }
        return radices.ToArray();
    }

    // The last pass combines p sub-transforms of the elements congruent to q mod p, stored one after
    // another; each of those is ordered the same way, recursively, by the earlier passes.
    internal static int[] DigitReversal(int n, int[] radices)
    {
        var source = new int[n];
        for (int i = 0; i < n; i++)
        {
            int position = 0, rest = i, size = n;
            for (int s = radices.Length - 1; s >= 0; s--)
            {
                int p = radices[s];
                size /= p;
                position += rest % p * size;
                rest /= p;
            }
            source[position] = i;
        }
        return source;
    }

    public override void Forward(double* re, double* im, double* scratch)
    {
        int n = N;
        double* wr = scratch, wi = scratch + n;
        for (int i = 0; i < n; i++)
        {
            int from = _source[i];
            wr[i] = re[from];
            wi[i] = im[from];
        }
        int span = 1;
        for (int s = 0; s < _radices.Length; s++)
        {
            int p = _radices[s];
            fixed (double* tr = _twiddleRe[s], ti = _twiddleIm[s])
            {
                switch (p)
                {
                    case 2: Butterflies.Radix2(wr, wi, n, span, tr, ti); break;
                    case 3: Butterflies.Radix3(wr, wi, n, span, tr, ti); break;
                    case 4: Butterflies.Radix4(wr, wi, n, span, tr, ti); break;
                    case 5: Butterflies.Radix5(wr, wi, n, span, tr, ti); break;
                    default:
                        fixed (double* rr = _rootRe[s], ri = _rootIm[s])
                            Butterflies.Generic(wr, wi, n, span, p, tr, ti, rr, ri);
                        break;
                }
            }
            span *= p;
        }
        new ReadOnlySpan<double>(wr, n).CopyTo(new Span<double>(re, n));
        new ReadOnlySpan<double>(wi, n).CopyTo(new Span<double>(im, n));
    }
}
