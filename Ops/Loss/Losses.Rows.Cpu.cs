using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

// Cross-entropy's forward over (N, C) rows with class-index targets, the common case (the general one is in Losses.Cpu.cs).
internal static unsafe partial class LossCpu
{
    /// <summary>
    /// Cross-entropy with class indices over (N, C) rows, one pass per row while it is in cache: the row's log-sum-exp
    /// (the same operations as <see cref="LogSumExp"/>), then its loss; the label-smoothing sum in double vector lanes.
    /// </summary>
    private static void RowsForward<T>(LossProblem problem, nint xBase, nint tBase, nint wBase, nint lseBase, double[] losses, double[] denominators)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int classes = problem.Geometry.Classes;
        double eps = problem.Smoothing;
        CpuParallel.For(problem.Geometry.Outer, 6.0 * classes, (start, end) =>
        {
            var scratch = new T[classes];
            T* w = (T*)wBase;
            for (long r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<T>((T*)xBase + r * classes, classes);
                T max = TensorPrimitives.Max(row);
                TensorPrimitives.Subtract(row, max, scratch);
                TensorPrimitives.Exp(scratch, scratch);
                T lse = max + T.Log(TensorPrimitives.Sum<T>(scratch));
                ((T*)lseBase)[r] = lse;
                long t = ((long*)tBase)[r];
                if (t == problem.IgnoreIndex) continue;
                double wt = Weight(w, (int)t);
                denominators[r] = wt;
                double zt = double.CreateTruncating(lse);
                double loss = wt * (zt - double.CreateTruncating(row[(int)t]));
                if (eps > 0) loss = (1 - eps) * loss + eps / classes * SmoothingSum(row, w, zt);
                losses[r] = loss;
            }
        });
    }

    /// <summary>Σ_c w_c (z - x_c) over a row (w_c = 1 without weights), in double, four lanes and two accumulators.</summary>
    private static double SmoothingSum<T>(ReadOnlySpan<T> row, T* w, double z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = row.Length, c = 0;
        var vz = Vector256.Create(z);
        Vector256<double> a0 = Vector256<double>.Zero, a1 = Vector256<double>.Zero;
        fixed (T* x = row)
        {
            if (typeof(T) == typeof(float))
            {
                for (; c + 8 <= n; c += 8)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Load((float*)x + c));
                    if (w == null) { a0 += vz - lo; a1 += vz - hi; }
                    else
                    {
                        var (wlo, whi) = Vector256.Widen(Vector256.Load((float*)w + c));
                        a0 += wlo * (vz - lo);
                        a1 += whi * (vz - hi);
                    }
                }
            }
            else
            {
                for (; c + 8 <= n; c += 8)
                {
                    var lo = Vector256.Load((double*)x + c);
                    var hi = Vector256.Load((double*)x + c + 4);
                    if (w == null) { a0 += vz - lo; a1 += vz - hi; }
                    else
                    {
                        a0 += Vector256.Load((double*)w + c) * (vz - lo);
                        a1 += Vector256.Load((double*)w + c + 4) * (vz - hi);
                    }
                }
            }
        }
        double sum = Vector256.Sum(a0 + a1);
        for (; c < n; c++) sum += Weight(w, c) * (z - double.CreateTruncating(row[c]));
        return sum;
    }
}
