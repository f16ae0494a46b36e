namespace Engine.Cpu;

/// <summary>
/// Bluestein's chirp-z transform for lengths with a large prime factor: with jk = (j^2 + k^2 - (k-j)^2)/2,
/// the DFT becomes a chirp times a circular convolution of the chirped input with the conjugate chirp,
/// done by power-of-two FFTs of length m >= 2n - 1. O(n log n) for every n, at about three FFTs of
/// length m, so it is only used where a direct prime butterfly would cost more.
/// </summary>
internal sealed unsafe class BluesteinPlan : FftPlan
{
    private readonly int _m;
    private readonly FftPlan _inner;
    // w[k] = e^{-pi i k^2/n}, k < n.
    private readonly double[] _chirpRe, _chirpIm;
    // Forward FFT (length m) of the conjugate chirp laid out circularly, pre-scaled by 1/m for the inverse.
    private readonly double[] _kernelRe, _kernelIm;

    public BluesteinPlan(int n) : base(n)
    {
        if (n > 1 << 29)
            throw new NotSupportedException($"Fft.Transform: n={n} has a prime factor above {MaxDirectPrime} and is too long for Bluestein's power-of-two padding (at most {1 << 29}).");
        _m = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(2 * n - 1));
        _inner = For(_m);
        _chirpRe = new double[n];
        _chirpIm = new double[n];
        for (int k = 0; k < n; k++)
            // e^{-pi i k^2/n} = e^{-2 pi i (k^2 mod 2n) / 2n}: reduce in integers so the angle stays exact.
            (_chirpRe[k], _chirpIm[k]) = Root((long)k * k % (2L * n), 2L * n);

        _kernelRe = new double[_m];
        _kernelIm = new double[_m];
        for (int k = 0; k < n; k++)
        {
            _kernelRe[k] = _chirpRe[k];
            _kernelIm[k] = -_chirpIm[k];
            if (k > 0)
            {
                _kernelRe[_m - k] = _chirpRe[k];
                _kernelIm[_m - k] = -_chirpIm[k];
            }
        }
        var scratch = new double[_inner.ScratchLength];
        fixed (double* kr = _kernelRe, ki = _kernelIm, s = scratch)
            _inner.Forward(kr, ki, s);
        double scale = 1.0 / _m;
        for (int k = 0; k < _m; k++)
        {
            _kernelRe[k] *= scale;
            _kernelIm[k] *= scale;
        }
    }

    public override int ScratchLength => 2 * _m + _inner.ScratchLength;

    public override void Forward(double* re, double* im, double* scratch)
    {
        int n = N, m = _m;
        double* ar = scratch, ai = scratch + m, innerScratch = scratch + 2 * m;
        for (int k = 0; k < n; k++)
        {
            double cr = _chirpRe[k], ci = _chirpIm[k];
            ar[k] = re[k] * cr - im[k] * ci;
            ai[k] = re[k] * ci + im[k] * cr;
        }
        new Span<double>(ar + n, m - n).Clear();
        new Span<double>(ai + n, m - n).Clear();

        _inner.Forward(ar, ai, innerScratch);
        // Multiply by the kernel's spectrum and conjugate, so that the next forward FFT is an inverse
        // one up to a final conjugation (folded into the chirp multiply below).
        for (int k = 0; k < m; k++)
        {
            double xr = ar[k], xi = ai[k], kr = _kernelRe[k], ki = _kernelIm[k];
            ar[k] = xr * kr - xi * ki;
            ai[k] = -(xr * ki + xi * kr);
        }
        _inner.Forward(ar, ai, innerScratch);

        // X[k] = w[k] * conj(a[k])
        for (int k = 0; k < n; k++)
        {
            double cr = _chirpRe[k], ci = _chirpIm[k], yr = ar[k], yi = -ai[k];
            re[k] = yr * cr - yi * ci;
            im[k] = yr * ci + yi * cr;
        }
    }
}
