using System.Buffers;
using System.Numerics.Tensors;

namespace Engine.Cpu;

/// <summary>Complex discrete Fourier transforms of any length on the CPU.</summary>
/// <remarks>
/// Mixed-radix decimation in time for lengths whose prime factors are small, Bluestein's chirp-z
/// transform otherwise; plans are built once per length and shared by all threads. Both precisions
/// compute in double, so a float transform is as accurate as float storage allows. Rows are
/// independent and each is computed in a fixed order, so results do not depend on the thread count.
/// </remarks>
public static unsafe class Fft
{
    /// <summary>
    /// Transforms <paramref name="batch"/> contiguous rows of length <paramref name="n"/> in place, the
    /// real parts in <paramref name="re"/> and the imaginary parts in <paramref name="im"/>.
    /// Forward: X[k] = sum_j x[j] e^{-2 pi i jk/n}. Inverse: the same with +i, unnormalised (no 1/n).
    /// </summary>
    /// <param name="re">Real parts, at least n*batch long; only the first n*batch are touched.</param>
    /// <param name="im">Imaginary parts, at least n*batch long.</param>
    /// <param name="n">Row length, at least 1.</param>
    /// <param name="batch">Number of rows, at least 0.</param>
    /// <param name="inverse">True for the inverse (positive exponent) transform.</param>
    public static void Transform(Span<double> re, Span<double> im, int n, int batch, bool inverse)
    {
        long total = Validate(re.Length, im.Length, n, batch);
        if (total == 0) return;
        var plan = FftPlan.For(n);
        fixed (double* pr = re, pi = im)
        {
            double* baseRe = pr, baseIm = pi;
            CpuParallel.For(batch, CostPerRow(n), (start, end) =>
            {
                double[] scratch = ArrayPool<double>.Shared.Rent(plan.ScratchLength);
                fixed (double* s = scratch)
                    for (long row = start; row < end; row++)
                        TransformRow(plan, baseRe + row * n, baseIm + row * n, s, inverse);
                ArrayPool<double>.Shared.Return(scratch);
            });
        }
    }

    /// <inheritdoc cref="Transform(Span{double}, Span{double}, int, int, bool)"/>
    public static void Transform(Span<float> re, Span<float> im, int n, int batch, bool inverse)
    {
        long total = Validate(re.Length, im.Length, n, batch);
        if (total == 0) return;
        var plan = FftPlan.For(n);
        fixed (float* pr = re, pi = im)
        {
            float* baseRe = pr, baseIm = pi;
            CpuParallel.For(batch, CostPerRow(n), (start, end) =>
            {
                double[] scratch = ArrayPool<double>.Shared.Rent(2 * n + plan.ScratchLength);
                fixed (double* s = scratch)
                {
                    double* rowRe = s, rowIm = s + n, planScratch = s + 2 * n;
                    for (long row = start; row < end; row++)
                    {
                        var fr = new Span<float>(baseRe + row * n, n);
                        var fi = new Span<float>(baseIm + row * n, n);
                        // Widening is exact; narrowing rounds to nearest, the result's only rounding in float.
                        TensorPrimitives.ConvertTruncating<float, double>(fr, new Span<double>(rowRe, n));
                        TensorPrimitives.ConvertTruncating<float, double>(fi, new Span<double>(rowIm, n));
                        TransformRow(plan, rowRe, rowIm, planScratch, inverse);
                        TensorPrimitives.ConvertTruncating<double, float>(new ReadOnlySpan<double>(rowRe, n), fr);
                        TensorPrimitives.ConvertTruncating<double, float>(new ReadOnlySpan<double>(rowIm, n), fi);
                    }
                }
                ArrayPool<double>.Shared.Return(scratch);
            });
        }
    }

    // The inverse is the forward transform of the conjugate, conjugated: negations are exact, so one
    // forward plan serves both directions at no cost in accuracy.
    private static void TransformRow(FftPlan plan, double* re, double* im, double* scratch, bool inverse)
    {
        if (inverse) Negate(im, plan.N);
        plan.Forward(re, im, scratch);
        if (inverse) Negate(im, plan.N);
    }

    private static void Negate(double* x, int n)
    {
        for (int i = 0; i < n; i++) x[i] = -x[i];
    }

    private static double CostPerRow(int n) => 5.0 * n * Math.Max(1, Math.Log2(n));

    private static long Validate(int reLength, int imLength, int n, int batch)
    {
        if (n < 1)
            throw new ArgumentOutOfRangeException(nameof(n), n, $"Fft.Transform: the length n must be at least 1, got n={n} (batch={batch}).");
        if (batch < 0)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"Fft.Transform: batch must be at least 0, got batch={batch} (n={n}).");
        long total = (long)n * batch;
        if (reLength < total)
            throw new ArgumentException($"Fft.Transform: re has {reLength} elements but n={n} x batch={batch} needs {total}.", "re");
        if (imLength < total)
            throw new ArgumentException($"Fft.Transform: im has {imLength} elements but n={n} x batch={batch} needs {total}.", "im");
        return total;
    }
}
