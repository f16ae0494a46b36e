using System.Numerics;
using System.Numerics.Tensors;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The fused classification losses on the CPU (the CUDA side is <c>Losses.Cuda.cs</c>), on contiguous data viewed as
/// (outer, C, inner). Position i = (o, j) reads its C values with stride inner. The forward computes each position's
/// log-sum-exp (saved for the backward) and loss; per-position results are combined serially afterwards, so the bits
/// do not depend on the thread count. With z = log-sum-exp, p = softmax and the smoothed, weighted target
/// distribution q of a position (q_c = w_c t'_c), loss = Σ_c q_c (z - x_c) and its gradient is
/// (Σ_c q_c) p - q: for class indices, q = (1 - ε) w_t δ_t + (ε / C) w.
/// </summary>
internal static unsafe partial class LossCpu
{
    /// <summary>
    /// Checks the class targets (throwing at once), then writes the loss into <paramref name="output"/> (per position
    /// for 'none', else the scalar), the log-sum-exp per position into <paramref name="lse"/> (null for nll_loss), and
    /// (the 'mean' denominator, Σ_c w_c) into <paramref name="stats"/>.
    /// </summary>
    public static void Forward(LossProblem problem, Tensor x, Tensor target, Tensor? weight, Tensor output, Tensor? lse, Tensor stats)
    {
        var g = problem.Geometry;
        if (!problem.Soft) CheckTargetValues(problem, target);
        var losses = new double[g.Positions];
        var denominators = new double[g.Positions];
        if (g.Positions > 0 && g.Classes > 0)
        {
            if (x.DType == DType.F32) Forward<float>(problem, x, target, weight, lse, losses, denominators);
            else Forward<double>(problem, x, target, weight, lse, losses, denominators);
        }
        double denominator;
        if (problem.Soft) denominator = g.Positions;
        else
        {
            denominator = 0;
            foreach (var d in denominators) denominator += d;
        }
        Reduce(g, losses, denominator, output);
        double* st = CpuBackend.Ptr<double>(stats);
        st[0] = denominator;
        st[1] = WeightSum(weight, g.Classes);
    }

    /// <summary>Every class index is in [0, C) or the ignore index.</summary>
    private static void CheckTargetValues(LossProblem problem, Tensor target)
    {
        long* t = CpuBackend.Ptr<long>(target);
        int classes = problem.Geometry.Classes;
        for (long i = 0; i < problem.Geometry.Positions; i++)
        {
            long v = t[i];
            if (v != problem.IgnoreIndex && (v < 0 || v >= classes)) throw problem.TargetOutOfBounds(v);
        }
    }

    /// <summary>The loss from the per-position losses: all of them ('none'), their sum, or sum / denominator.</summary>
    private static void Reduce(LossGeometry g, double[] losses, double denominator, Tensor output)
    {
        if (g.Reduction == "none")
        {
            if (output.DType == DType.F32)
            {
                float* p = CpuBackend.Ptr<float>(output);
                for (long i = 0; i < losses.LongLength; i++) p[i] = (float)losses[i];
            }
            else
            {
                losses.AsSpan().CopyTo(new Span<double>(CpuBackend.Ptr<double>(output), losses.Length));
            }
            return;
        }
        // A serial sum in double: fixed order, so the bits do not depend on the thread count.
        double sum = 0;
        foreach (var l in losses) sum += l;
        double value = g.Reduction == "sum" ? sum : sum / denominator;
        if (output.DType == DType.F32) *CpuBackend.Ptr<float>(output) = (float)value;
        else *CpuBackend.Ptr<double>(output) = value;
    }

    private static double WeightSum(Tensor? weight, int classes)
    {
        double sum = 0;
        if (weight is null) { for (int c = 0; c < classes; c++) sum += 1; return sum; }
        if (weight.DType == DType.F32) { float* w = CpuBackend.Ptr<float>(weight); for (int c = 0; c < classes; c++) sum += w[c]; }
        else { double* w = CpuBackend.Ptr<double>(weight); for (int c = 0; c < classes; c++) sum += w[c]; }
        return sum;
    }

    /// <summary>What each position's loss gradient is multiplied by, given the output's gradient.</summary>
    private static double[] Scales(LossGeometry geometry, Tensor g, double denominator)
    {
        var scales = new double[geometry.Positions];
        if (geometry.Reduction == "none")
        {
            if (g.DType == DType.F32)
            {
                float* p = CpuBackend.Ptr<float>(g);
                for (long i = 0; i < scales.LongLength; i++) scales[i] = p[i];
            }
            else
            {
                new ReadOnlySpan<double>(CpuBackend.Ptr<double>(g), scales.Length).CopyTo(scales);
            }
            return scales;
        }
        double s = g.DType == DType.F32 ? *CpuBackend.Ptr<float>(g) : *CpuBackend.Ptr<double>(g);
        Array.Fill(scales, geometry.Reduction == "sum" ? s : s / denominator);
        return scales;
    }

    private static void Forward<T>(LossProblem problem, Tensor xt, Tensor tt, Tensor? wt, Tensor? lset, double[] losses, double[] denominators)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = problem.Geometry;
        nint xBase = CpuBackend.BasePointer(xt), tBase = CpuBackend.BasePointer(tt);
        nint wBase = wt is null ? 0 : CpuBackend.BasePointer(wt);
        nint lseBase = lset is null ? 0 : CpuBackend.BasePointer(lset);
        if (lset is not null && g.Inner == 1 && !problem.Soft)
        {
            RowsForward<T>(problem, xBase, tBase, wBase, lseBase, losses, denominators);
            return;
        }
        if (lset is not null) LogSumExp<T>(xBase, lseBase, g.Outer, g.Classes, g.Inner);
        int classes = g.Classes;
        long inner = g.Inner;
        double eps = problem.Smoothing;
        CpuParallel.For(g.Positions, 4.0 * classes, (start, end) =>
        {
            T* x = (T*)xBase, w = (T*)wBase, lse = (T*)lseBase;
            for (long i = start; i < end; i++)
            {
                long o = i / inner, j = i % inner;
                T* xp = x + o * classes * inner + j;
                if (problem.Soft)
                {
                    T* tp = (T*)tBase + o * classes * inner + j;
                    double z = double.CreateTruncating(lse[i]), sum = 0;
                    for (int c = 0; c < classes; c++)
                    {
                        double q = Smoothed(double.CreateTruncating(tp[c * inner]), eps, classes) * Weight(w, c);
                        sum += q * (z - double.CreateTruncating(xp[c * inner]));
                    }
                    losses[i] = sum;
                    continue;
                }
                long t = ((long*)tBase)[i];
                if (t == problem.IgnoreIndex) continue;
                double wt = Weight(w, (int)t);
                denominators[i] = wt;
                if (problem.LogProbabilities)
                {
                    losses[i] = -wt * double.CreateTruncating(xp[t * inner]);
                    continue;
                }
                double zt = double.CreateTruncating(lse[i]);
                double loss = wt * (zt - double.CreateTruncating(xp[t * inner]));
                if (eps > 0)
                {
                    double smooth = 0;
                    for (int c = 0; c < classes; c++) smooth += Weight(w, c) * (zt - double.CreateTruncating(xp[c * inner]));
                    loss = (1 - eps) * loss + eps / classes * smooth;
                }
                losses[i] = loss;
            }
        });
    }

    private static double Weight<T>(T* w, int c) where T : unmanaged, IFloatingPointIeee754<T> => w == null ? 1 : double.CreateTruncating(w[c]);

    private static double Smoothed(double t, double eps, int classes) => eps > 0 ? t * (1 - eps) + eps / classes : t;

    /// <summary>lse[o, j] = log Σ_c exp(x[o, c, j]), with the maximum taken out first.</summary>
    private static void LogSumExp<T>(nint xBase, nint lseBase, long outer, int classes, long inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1)
        {
            CpuParallel.For(outer, 4.0 * classes, (start, end) =>
            {
                var scratch = new T[classes];
                for (long r = start; r < end; r++)
                {
                    var row = new ReadOnlySpan<T>((T*)xBase + r * classes, classes);
                    T max = TensorPrimitives.Max(row);
                    TensorPrimitives.Subtract(row, max, scratch);
                    TensorPrimitives.Exp(scratch, scratch);
                    ((T*)lseBase)[r] = max + T.Log(TensorPrimitives.Sum<T>(scratch));
                }
            });
            return;
        }
        CpuParallel.For(outer, 4.0 * classes * inner, (start, end) =>
        {
            var max = new T[inner];
            var sum = new T[inner];
            var tmp = new T[inner];
            for (long o = start; o < end; o++)
            {
                T* x = (T*)xBase + o * classes * inner;
                new ReadOnlySpan<T>(x, (int)inner).CopyTo(max);
                for (int c = 1; c < classes; c++) TensorPrimitives.Max(max, new ReadOnlySpan<T>(x + c * inner, (int)inner), max);
                Array.Clear(sum);
                for (int c = 0; c < classes; c++)
                {
                    TensorPrimitives.Subtract(new ReadOnlySpan<T>(x + c * inner, (int)inner), max, tmp);
                    TensorPrimitives.Exp(tmp, tmp);
                    TensorPrimitives.Add(sum, tmp, sum);
                }
                TensorPrimitives.Log(sum, sum);
                TensorPrimitives.Add(max, sum, new Span<T>((T*)lseBase + o * inner, (int)inner));
            }
        });
    }

    /// <summary>
    /// Gradients of the input and (soft targets) of the target into <paramref name="gx"/> and <paramref name="gt"/>
    /// (either may be null), from the output's gradient <paramref name="g"/> (contiguous) and the forward's saved
    /// log-sum-exp and stats.
    /// </summary>
    public static void Backward(LossProblem problem, Tensor x, Tensor target, Tensor? weight, Tensor? lse, Tensor stats, Tensor g, Tensor? gx, Tensor? gt)
    {
        double* st = CpuBackend.Ptr<double>(stats);
        var scales = Scales(problem.Geometry, g, st[0]);
        if (x.DType == DType.F32) Backward<float>(problem, x, target, weight, lse, scales, st[1], gx, gt);
        else Backward<double>(problem, x, target, weight, lse, scales, st[1], gx, gt);
    }

    private static void Backward<T>(LossProblem problem, Tensor xt, Tensor tt, Tensor? wt, Tensor? lset, double[] scales, double weightSum, Tensor? gxt, Tensor? gtt)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = problem.Geometry;
        nint xBase = CpuBackend.BasePointer(xt), tBase = CpuBackend.BasePointer(tt);
        nint wBase = wt is null ? 0 : CpuBackend.BasePointer(wt);
        nint lseBase = lset is null ? 0 : CpuBackend.BasePointer(lset);
        nint gxBase = gxt is null ? 0 : CpuBackend.BasePointer(gxt), gtBase = gtt is null ? 0 : CpuBackend.BasePointer(gtt);
        int classes = g.Classes;
        long inner = g.Inner;
        double eps = problem.Smoothing;
        CpuParallel.For(g.Positions, 6.0 * classes, (start, end) =>
        {
            T* w = (T*)wBase;
            for (long i = start; i < end; i++)
            {
                long o = i / inner, j = i % inner, at = o * classes * inner + j;
                T* xp = (T*)xBase + at;
                T* gx = (T*)gxBase + at;
                double s = scales[i];
                if (problem.Soft)
                {
                    T* tp = (T*)tBase + at;
                    T zs = ((T*)lseBase)[i];
                    double z = double.CreateTruncating(zs), mass = 0;
                    for (int c = 0; c < classes; c++) mass += Smoothed(double.CreateTruncating(tp[c * inner]), eps, classes) * Weight(w, c);
                    if (gxBase != 0)
                    {
                        if (inner == 1)
                        {
                            // s (mass p - q): the softmax row with vector ops, then the target term.
                            var p = new Span<T>(gx, classes);
                            TensorPrimitives.Subtract(new ReadOnlySpan<T>(xp, classes), zs, p);
                            TensorPrimitives.Exp(p, p);
                            TensorPrimitives.Multiply(p, T.CreateTruncating(s * mass), p);
                            for (int c = 0; c < classes; c++)
                                gx[c] -= T.CreateTruncating(s * Smoothed(double.CreateTruncating(tp[c]), eps, classes) * Weight(w, c));
                        }
                        else
                        {
                            for (int c = 0; c < classes; c++)
                            {
                                double q = Smoothed(double.CreateTruncating(tp[c * inner]), eps, classes) * Weight(w, c);
                                gx[c * inner] = T.CreateTruncating(s * (mass * Math.Exp(double.CreateTruncating(xp[c * inner]) - z) - q));
                            }
                        }
                    }
                    if (gtBase != 0)
                        for (int c = 0; c < classes; c++)
                            ((T*)gtBase)[at + c * inner] = T.CreateTruncating(s * (1 - eps) * Weight(w, c) * (z - double.CreateTruncating(xp[c * inner])));
                    continue;
                }
                long t = ((long*)tBase)[i];
                if (t == problem.IgnoreIndex)
                {
                    for (int c = 0; c < classes; c++) gx[c * inner] = T.Zero;
                    continue;
                }
                double wt = Weight(w, (int)t);
                if (problem.LogProbabilities)
                {
                    for (int c = 0; c < classes; c++) gx[c * inner] = T.Zero;
                    gx[t * inner] = T.CreateTruncating(-s * wt);
                    continue;
                }
                T zt = ((T*)lseBase)[i];
                double pCoefficient = s * ((1 - eps) * wt + eps / classes * weightSum);
                double uniform = s * eps / classes;
                if (inner == 1)
                {
                    // The common (N, C) case: softmax row with vector ops, then the target and smoothing terms.
                    var row = new ReadOnlySpan<T>(xp, classes);
                    var o2 = new Span<T>(gx, classes);
                    TensorPrimitives.Subtract(row, zt, o2);
                    TensorPrimitives.Exp(o2, o2);
                    TensorPrimitives.Multiply(o2, T.CreateTruncating(pCoefficient), o2);
                    if (eps > 0)
                    {
                        if (w == null) TensorPrimitives.Subtract(o2, T.CreateTruncating(uniform), o2);
                        else TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(w, classes), T.CreateTruncating(-uniform), o2, o2);
                    }
                }
                else
                {
                    for (int c = 0; c < classes; c++)
                        gx[c * inner] = T.CreateTruncating(pCoefficient * double.CreateTruncating(T.Exp(xp[c * inner] - zt)) - uniform * Weight(w, c));
                }
                gx[t * inner] -= T.CreateTruncating(s * (1 - eps) * wt);
            }
        });
    }
}
