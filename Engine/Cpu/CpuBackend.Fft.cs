using Engine.Backends;

namespace Engine.Cpu;

// The FFT primitive on the CPU, on the engine's own FFT (Engine/Cpu/Fft): the reference the cuFFT path is
// tested against. The operators keep their own tuned paths; this one favours plainness: every case is
// brought to full complex rows in double, transformed, and written back.
internal sealed unsafe partial class CpuBackend
{
    public void Fft(Tensor x, Tensor y, FftKind kind, int[] lengths, bool inverse)
    {
        if (lengths.Length is < 1 or > 2) throw new ArgumentException($"fft: 1 or 2 transformed dimensions, not {lengths.Length}.");
        int n0 = lengths[0], n1 = lengths.Length == 2 ? lengths[1] : 1;
        bool twoD = lengths.Length == 2;
        int rows = twoD ? n0 : 1, last = twoD ? n1 : n0;     // the transform is rows x last per batch item
        int half = last / 2 + 1;
        long perItem = (long)rows * last;
        long batch = kind == FftKind.R2C ? x.NumEl / perItem : y.NumEl / (kind == FftKind.C2R ? perItem : 2 * perItem);
        if (batch == 0) return;
        var re = new double[batch * perItem];
        var im = new double[batch * perItem];
        bool isF32 = x.DType == DType.F32;
        double Read(long i) => isF32 ? ((float*)BasePointer(x))[i] : ((double*)BasePointer(x))[i];
        void Write(long i, double v) { if (isF32) ((float*)BasePointer(y))[i] = (float)v; else ((double*)BasePointer(y))[i] = v; }

        switch (kind)
        {
            case FftKind.C2C:
                for (long i = 0; i < re.Length; i++) { re[i] = Read(2 * i); im[i] = Read(2 * i + 1); }
                Transform(re, im, batch, rows, last, inverse, twoD);
                for (long i = 0; i < re.Length; i++) { Write(2 * i, re[i]); Write(2 * i + 1, im[i]); }
                break;
            case FftKind.R2C:
                for (long i = 0; i < re.Length; i++) re[i] = Read(i);
                Transform(re, im, batch, rows, last, inverse: false, twoD);
                for (long b = 0; b < batch * rows; b++)
                    for (int k = 0; k < half; k++)
                    {
                        Write(2 * (b * half + k), re[b * last + k]);
                        Write(2 * (b * half + k) + 1, im[b * last + k]);
                    }
                break;
            case FftKind.C2R:
                // The inverse C2C along the first axis on the half spectrum, then a 1-D C2R along the last.
                var hre = new double[batch * rows * half];
                var him = new double[batch * rows * half];
                for (long i = 0; i < hre.Length; i++) { hre[i] = Read(2 * i); him[i] = Read(2 * i + 1); }
                if (twoD) Columns(hre, him, batch, rows, half, inverse: true);
                for (long b = 0; b < batch * rows; b++)
                    for (int k = 0; k < last; k++)
                    {
                        // The Hermitian extension: X[last - k] = conj(X[k]); zero and Nyquist bins are real.
                        bool mirrored = k >= half;
                        int source = mirrored ? last - k : k;
                        double r = hre[b * half + source], v = him[b * half + source];
                        if (source == 0 || (last % 2 == 0 && source == last / 2)) v = 0;
                        re[b * last + k] = r;
                        im[b * last + k] = mirrored ? -v : v;
                    }
                global::Engine.Cpu.Fft.Transform(re, im, last, checked((int)(batch * rows)), inverse: true);
                for (long i = 0; i < re.Length; i++) Write(i, re[i]);
                break;
        }
    }

    private static void Transform(double[] re, double[] im, long batch, int rows, int last, bool inverse, bool twoD)
    {
        global::Engine.Cpu.Fft.Transform(re, im, last, checked((int)(batch * rows)), inverse);
        if (twoD) Columns(re, im, batch, rows, last, inverse);
    }

    /// <summary>The transform along the first of two axes: each column copied out, transformed, copied back.</summary>
    private static void Columns(double[] re, double[] im, long batch, int rows, int cols, bool inverse)
    {
        var cr = new double[rows * cols];
        var ci = new double[rows * cols];
        for (long b = 0; b < batch; b++)
        {
            long at = b * rows * cols;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) { cr[j * rows + i] = re[at + i * cols + j]; ci[j * rows + i] = im[at + i * cols + j]; }
            global::Engine.Cpu.Fft.Transform(cr, ci, rows, cols, inverse);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) { re[at + i * cols + j] = cr[j * rows + i]; im[at + i * cols + j] = ci[j * rows + i]; }
        }
    }
}
