using System.Numerics;
using Engine.Autograd;

namespace Engine.Models.Optim;

/// <summary>Gradient clipping, as <c>torch.nn.utils.clip_grad_norm_</c>.</summary>
public static class GradientClipping
{
    /// <summary>Elements per partial sum: fixed, so the norm's bits do not depend on the thread count.</summary>
    private const int Chunk = 1 << 15;

    /// <summary>
    /// Scales the gradients of <paramref name="parameters"/> in place so that their total norm (the norm of
    /// the vector of all gradient elements) is at most <paramref name="maxNorm"/>: each gradient is multiplied
    /// by min(1, maxNorm / (total + 1e-6)). Parameters without a gradient are skipped. Returns the total norm
    /// before clipping (0 when no parameter has a gradient). Sums are taken in double.
    /// </summary>
    /// <param name="parameters">The parameters whose <see cref="Tensor.Grad"/> to clip.</param>
    /// <param name="maxNorm">The largest total norm allowed.</param>
    /// <param name="normType">The p of the p-norm (positive), or <see cref="double.PositiveInfinity"/> for the largest absolute value.</param>
    /// <param name="errorIfNonfinite">Throw instead of clipping when the total norm is NaN or infinite.</param>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(normType > 0)) throw new ArgumentException($"clip_grad_norm_: normType must be positive or infinity, got {normType}.");
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;

        double total;
        if (double.IsPositiveInfinity(normType)) total = grads.Max(g => Reduce(g, normType));
        else
        {
            // As PyTorch: the norm of the per-gradient norms.
            double sum = 0;
            foreach (var g in grads) sum += Math.Pow(Root(Reduce(g, normType), normType), normType);
            total = Root(sum, normType);
        }
        if (errorIfNonfinite && !double.IsFinite(total))
            throw new InvalidOperationException($"The total norm of order {normType} for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set `errorIfNonfinite=false`");

        // Math.Min propagates NaN, as torch.clamp does: a NaN norm makes every gradient NaN.
        double clipCoef = Math.Min(maxNorm / (total + 1e-6), 1.0);
        if (clipCoef != 1.0)
        {
            using var noGrad = Tape.NoGrad();
            foreach (var g in grads) g.MulInPlace(clipCoef);
        }
        return total;
    }

    private static double Root(double sum, double p) => p == 2 ? Math.Sqrt(sum) : p == 1 ? sum : Math.Pow(sum, 1 / p);

    /// <summary>sum |x|^p over the gradient (or max |x| for p = inf), in double.</summary>
    private static unsafe double Reduce(Tensor g, double p)
    {
        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        var c = g.ToDevice(Device.Cpu).Contiguous();
        long n = c.NumEl;
        int chunks = (int)((n + Chunk - 1) / Chunk);
        var partial = new double[chunks];
        nint basePtr = g.DType == DType.F32 ? (nint)OptimTensors.Ptr<float>(c) : (nint)OptimTensors.Ptr<double>(c);
        bool isFloat = g.DType == DType.F32;
        Engine.Cpu.CpuParallel.For(chunks, Chunk, (start, end) =>
        {
            for (long k = start; k < end; k++)
            {
                long from = k * Chunk, to = Math.Min(n, from + Chunk);
                partial[k] = isFloat ? ReduceRange((float*)basePtr, from, to, p) : ReduceRange((double*)basePtr, from, to, p);
            }
        });
        double result = 0;
        foreach (var v in partial) result = double.IsPositiveInfinity(p) ? Math.Max(result, v) : result + v;
        if (partial.Any(double.IsNaN)) result = double.NaN;
        return result;
    }

    private static unsafe double ReduceRange<T>(T* x, long from, long to, double p) where T : unmanaged, INumberBase<T>
    {
        if (p == 2 || p == 1) return SumPowers(x, from, to, square: p == 2);
        double acc = 0;
        if (double.IsPositiveInfinity(p))
        {
            for (long i = from; i < to; i++)
            {
                double a = Math.Abs(double.CreateTruncating(x[i]));
                if (double.IsNaN(a)) return double.NaN;
                acc = Math.Max(acc, a);
            }
        }
        else
            for (long i = from; i < to; i++) acc += Math.Pow(Math.Abs(double.CreateTruncating(x[i])), p);
        return acc;
    }

    /// <summary>sum x² or sum |x| in double, with vector accumulators (float elements are widened first).</summary>
    private static unsafe double SumPowers<T>(T* x, long from, long to, bool square) where T : unmanaged, INumberBase<T>
    {
        var acc = Vector<double>.Zero;
        long i = from;
        if (Vector.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            for (; i + Vector<float>.Count <= to; i += Vector<float>.Count)
            {
                Vector.Widen(Vector.Load((float*)x + i), out var lo, out var hi);
                acc += square ? lo * lo + hi * hi : Vector.Abs(lo) + Vector.Abs(hi);
            }
        }
        else if (Vector.IsHardwareAccelerated && typeof(T) == typeof(double))
        {
            for (; i + Vector<double>.Count <= to; i += Vector<double>.Count)
            {
                var v = Vector.Load((double*)x + i);
                acc += square ? v * v : Vector.Abs(v);
            }
        }
        double sum = Vector.Sum(acc);
        for (; i < to; i++)
        {
            double v = double.CreateTruncating(x[i]);
            sum += square ? v * v : Math.Abs(v);
        }
        return sum;
    }
}
