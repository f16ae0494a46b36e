using System.Numerics;
using Engine.Autograd;

namespace Engine.Models.Optim;

/// <summary>
/// The total norm of some gradients and the factor that clips them to a largest norm, as scalar float64
/// tensors on the gradients' device (<see cref="GradientClipping.ComputeScale"/>). Nothing was read to the
/// host: read <see cref="TotalNorm"/> only when it is wanted (for a log), since on a GPU that waits for it.
/// </summary>
public sealed class ClipScale : IDisposable
{
    internal ClipScale(Tensor totalNorm, Tensor scale) => (TotalNorm, Scale) = (totalNorm, scale);

    /// <summary>The total norm before clipping (rank 0, float64).</summary>
    public Tensor TotalNorm { get; }

    /// <summary>min(1, maxNorm / (total + 1e-6)) (rank 0, float64): pass it to <see cref="Optimizer.Step(Tensor?)"/>.</summary>
    public Tensor Scale { get; }

    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        TotalNorm.Dispose();
        Scale.Dispose();
    }
}

/// <summary>
/// Gradient clipping, as <c>torch.nn.utils.clip_grad_norm_</c>. On the CPU the norm is summed on the host; on
/// a CUDA device it is summed there (a fixed order across tensors and within, so the same gradients give the
/// same bits) and the clipping factor stays there: either the gradients are scaled in place
/// (<see cref="ClipGradNorm"/>) or the factor is folded into the optimizer's step (<see cref="ComputeScale"/>
/// then <see cref="Optimizer.Step(Tensor?)"/>), and neither reads anything back.
/// </summary>
public static class GradientClipping
{
    /// <summary>Elements per partial sum: fixed, so the norm's bits do not depend on the thread count.</summary>
    private const int Chunk = 1 << 15;

    /// <summary>
    /// Scales the gradients of <paramref name="parameters"/> in place so that their total norm (the norm of
    /// the vector of all gradient elements) is at most <paramref name="maxNorm"/>: each gradient is multiplied
    /// by min(1, maxNorm / (total + 1e-6)). Parameters without a gradient are skipped. Returns the total norm
    /// before clipping, as PyTorch does: a rank-0 float64 tensor on the gradients' device (0 on the CPU when no
    /// parameter has a gradient). Sums are taken in double. With <paramref name="errorIfNonfinite"/> the norm
    /// is read to the host to check it (on a GPU, a wait).
    /// </summary>
    /// <param name="parameters">The parameters whose <see cref="Tensor.Grad"/> to clip.</param>
    /// <param name="maxNorm">The largest total norm allowed.</param>
    /// <param name="normType">The p of the p-norm (positive), or <see cref="double.PositiveInfinity"/> for the largest absolute value.</param>
    /// <param name="errorIfNonfinite">Throw instead of clipping when the total norm is NaN or infinite.</param>
    public static Tensor ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2, bool errorIfNonfinite = false)
    {
        var grads = Gradients(parameters, normType);
        var clip = ScaleOf(grads, maxNorm, normType);
        using (clip.Scale)
        {
            if (errorIfNonfinite && !double.IsFinite(clip.TotalNorm.Item()))
            {
                clip.TotalNorm.Dispose();
                throw new InvalidOperationException($"The total norm of order {normType} for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set `errorIfNonfinite=false`");
            }
            using var noGrad = Tape.NoGrad();
            if (grads.Count > 0 && grads[0].Device.Type == DeviceType.Cuda) ScaleOnDevice(grads, clip.Scale);
            else
            {
                // Math.Min propagates NaN, as torch.clamp does: a NaN norm makes every gradient NaN.
                double clipCoef = clip.Scale.Item();
                if (clipCoef != 1.0)
                    foreach (var g in grads) g.MulInPlace(clipCoef);
            }
        }
        return clip.TotalNorm;
    }

    /// <summary>
    /// The total norm of the gradients of <paramref name="parameters"/> and the factor min(1, maxNorm / (total +
    /// 1e-6)) that clips them, computed where the gradients are, without changing them and without reading
    /// anything back. Fold the factor into the update with <c>optimizer.Step(clip.Scale)</c>: the same update as
    /// <see cref="ClipGradNorm"/> followed by <c>optimizer.Step()</c>. The gradients must all be on one device.
    /// </summary>
    public static ClipScale ComputeScale(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2) =>
        ScaleOf(Gradients(parameters, normType), maxNorm, normType);

    private static List<Tensor> Gradients(IEnumerable<Tensor> parameters, double normType)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(normType > 0)) throw new ArgumentException($"clip_grad_norm_: normType must be positive or infinity, got {normType}.");
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        if (grads.Select(g => g.Device).Distinct().Skip(1).Any())
            throw new ArgumentException($"clip_grad_norm_: the gradients are on several devices ({string.Join(", ", grads.Select(g => g.Device).Distinct())}); clip each device's parameters separately.");
        return grads;
    }

    private static ClipScale ScaleOf(List<Tensor> grads, double maxNorm, double normType)
    {
        if (grads.Count > 0 && grads[0].Device.Type == DeviceType.Cuda)
        {
            var device = grads[0].Device;
            using var noGrad = Tape.NoGrad();
            using var copies = new DisposableList();
            var contiguous = grads.Select(g => g.IsContiguous ? g : copies.Keep(g.Contiguous())).ToList();
            var norm = Tensor.Empty([], DType.F64, device);
            var scale = Tensor.Empty([], DType.F64, device);
            OptimCuda.Norm(contiguous, normType, maxNorm, norm, scale);
            return new ClipScale(norm, scale);
        }
        double total = HostTotal(grads, normType);
        return new ClipScale(Tensor.Scalar(total, DType.F64, Device.Cpu), Tensor.Scalar(Math.Min(maxNorm / (total + 1e-6), 1.0), DType.F64, Device.Cpu));
    }

    /// <summary>Multiplies gradients on a CUDA device by the device scalar <paramref name="scale"/>: one launch per table of contiguous gradients of one dtype.</summary>
    private static void ScaleOnDevice(List<Tensor> grads, Tensor scale)
    {
        foreach (var run in grads.Where(OptimCuda.CanUpdate).GroupBy(g => g.DType)) OptimCuda.Scale(run.ToList(), scale);
        foreach (var g in grads.Where(g => !OptimCuda.CanUpdate(g)))
        {
            using var scope = Tensor.Scope();
            g.CopyFrom(g.Mul(scale.ToDType(g.DType)));
        }
    }

    /// <summary>The total norm of gradients on the CPU, as PyTorch: the norm of the per-gradient norms (0 when there are none).</summary>
    private static double HostTotal(List<Tensor> grads, double normType)
    {
        if (grads.Count == 0) return 0;
        if (double.IsPositiveInfinity(normType)) return grads.Max(g => Reduce(g, normType));
        double sum = 0;
        foreach (var g in grads) sum += Math.Pow(Root(Reduce(g, normType), normType), normType);
        return Root(sum, normType);
    }

    private static double Root(double sum, double p) => p == 2 ? Math.Sqrt(sum) : p == 1 ? sum : Math.Pow(sum, 1 / p);

    /// <summary>sum |x|^p over the gradient (or max |x| for p = inf), in double.</summary>
    private static unsafe double Reduce(Tensor g, double p)
    {
        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        var c = g.Contiguous();
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
