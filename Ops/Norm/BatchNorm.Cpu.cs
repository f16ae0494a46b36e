using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The batch norm on the CPU, over a contiguous (N, C, S) tensor: statistics per channel over N·S
/// values. Each channel is handled whole by one thread (its N runs of S contiguous values, in order), so
/// statistics, running-stat updates and affine gradients are written once, by one thread. The affine
/// parameters are widened to double once per call. The float32 backward runs in float lanes (BatchNormBackwardF32.Cpu.cs).
/// </summary>
internal static unsafe partial class BatchNormCpu
{
    /// <summary>num_batches_tracked += 1.</summary>
    public static void CountBatch(Tensor counter) => *CpuBackend.Ptr<long>(counter) += 1;

    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, BatchNormRunning running, BatchNormShape shape, double eps)
    {
        var (n, c, s, training) = shape;
        var gamma = LayerNormCpu.Widened(w, c, 1);
        var beta = LayerNormCpu.Widened(b, c, 0);
        nint rm = running.Mean is null ? 0 : CpuBackend.BasePointer(running.Mean), rv = running.Var is null ? 0 : CpuBackend.BasePointer(running.Var);
        // momentum = None: PyTorch's cumulative average, weight 1 / num_batches_tracked.
        double momentum = running.Batches is null ? running.Momentum : 1.0 / *CpuBackend.Ptr<long>(running.Batches);
        if (x.DType == DType.F32)
            Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd),
                new Running<float>(rm, running.MeanStride, rv, running.VarStride), n, c, s, gamma, beta, training, momentum, eps);
        else
            Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
                new Running<double>(rm, running.MeanStride, rv, running.VarStride), n, c, s, gamma, beta, training, momentum, eps);
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, BatchNormShape shape)
    {
        var (n, c, s, training) = shape;
        if (x.DType == DType.F32 && s <= int.MaxValue)
        {
            BackwardF32(g, x, w, mean, rstd, dx, dw, db, shape);
            return;
        }
        var gamma = LayerNormCpu.Widened(w, c, 1);
        double[]? dGamma = dw is null && db is null ? null : new double[c], dBeta = dGamma is null ? null : new double[c];
        if (x.DType == DType.F32)
            Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd),
                dx is null ? null : CpuBackend.Ptr<float>(dx), n, c, s, gamma, dGamma, dBeta, training);
        else
            Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
                dx is null ? null : CpuBackend.Ptr<double>(dx), n, c, s, gamma, dGamma, dBeta, training);
        if (dw is not null) LayerNormCpu.Narrowed(dGamma!, dw);
        if (db is not null) LayerNormCpu.Narrowed(dBeta!, db);
    }

    /// <summary>The running statistics to blend into, read and written through their strides; null pointers when absent.</summary>
    public readonly record struct Running<T>(nint Mean, long MeanStride, nint Var, long VarStride) where T : unmanaged
    {
        public T* MeanAt(int ch) => (T*)Mean + ch * MeanStride;
        public T* VarAt(int ch) => (T*)Var + ch * VarStride;
    }

    /// <summary>
    /// Training: normalises with the batch mean and biased variance, saves them (as mean and 1/sqrt(var + eps))
    /// and blends them into the running statistics, the variance unbiased (n/(n-1)). Evaluation: normalises
    /// with the running statistics and saves those.
    /// </summary>
    public static void Forward<T>(T* x, T* y, T* saveMean, T* saveRstd, Running<T> running, int n, int c, long s, double[] gamma, double[] beta, bool training, double momentum, double eps) where T : unmanaged
    {
        long count = n * s;
        CpuParallel.For(c, 6.0 * count, (start, end) =>
        {
            var scratch = new double[2 * Wide.Tile];
            fixed (double* sp = scratch)
            {
                double* xs = sp, ys = sp + Wide.Tile;
                for (int ch = (int)start; ch < end; ch++)
                {
                    double mu, rs;
                    if (training && typeof(T) == typeof(float))
                    {
                        // Float runs are widened in registers, without scratch tiles.
                        double sum = 0, squares = 0;
                        for (int b = 0; b < n; b++)
                            sum += SumWidened((float*)(x + ((long)b * c + ch) * s), s);
                        mu = Wide.Average(sum, count);
                        for (int b = 0; b < n; b++)
                            squares += SumSquaredDeviationsWidened((float*)(x + ((long)b * c + ch) * s), s, mu);
                        double variance = Wide.Average(squares, count);
                        rs = 1 / Math.Sqrt(variance + eps);
                        if (running.Mean != 0) Wide.Set(running.MeanAt(ch), (1 - momentum) * Wide.Get(running.MeanAt(ch)) + momentum * mu);
                        if (running.Var != 0) Wide.Set(running.VarAt(ch), (1 - momentum) * Wide.Get(running.VarAt(ch)) + momentum * variance * count / (count - 1));
                    }
                    else if (training)
                    {
                        double sum = 0, squares = 0;
                        for (int b = 0; b < n; b++)
                            for (long run = ((long)b * c + ch) * s, t = 0; t < s; t += Wide.Tile)
                            {
                                int len = (int)Math.Min(Wide.Tile, s - t);
                                sum += Wide.Sum(Wide.Load(x + run + t, len, xs), len);
                            }
                        mu = Wide.Average(sum, count);
                        for (int b = 0; b < n; b++)
                            for (long run = ((long)b * c + ch) * s, t = 0; t < s; t += Wide.Tile)
                            {
                                int len = (int)Math.Min(Wide.Tile, s - t);
                                squares += Wide.SumSquaredDeviations(Wide.Load(x + run + t, len, xs), len, mu);
                            }
                        double variance = Wide.Average(squares, count);
                        rs = 1 / Math.Sqrt(variance + eps);
                        if (running.Mean != 0) Wide.Set(running.MeanAt(ch), (1 - momentum) * Wide.Get(running.MeanAt(ch)) + momentum * mu);
                        if (running.Var != 0) Wide.Set(running.VarAt(ch), (1 - momentum) * Wide.Get(running.VarAt(ch)) + momentum * variance * count / (count - 1));
                    }
                    else
                    {
                        mu = Wide.Get(running.MeanAt(ch));
                        rs = 1 / Math.Sqrt(Wide.Get(running.VarAt(ch)) + eps);
                    }
                    Wide.Set(saveMean + ch, mu);
                    Wide.Set(saveRstd + ch, rs);
                    double scale = rs * gamma[ch], shift = beta[ch] - mu * scale;
                    for (int b = 0; b < n; b++)
                    {
                        long run = ((long)b * c + ch) * s;
                        if (typeof(T) == typeof(float))
                        {
                            ScaleShiftWidened((float*)(x + run), scale, shift, (float*)(y + run), s);
                            continue;
                        }
                        for (long t = 0; t < s; t += Wide.Tile)
                        {
                            int len = (int)Math.Min(Wide.Tile, s - t);
                            double* target = Wide.Target(y + run + t, ys);
                            Wide.ScaleShift(Wide.Load(x + run + t, len, xs), scale, shift, target, len);
                            Wide.Store(target, y + run + t, len);
                        }
                    }
                }
            }
        });
    }

    /// <summary>
    /// Input gradient into <paramref name="dx"/> (skipped when null) and the affine gradients (when
    /// <paramref name="dGamma"/> is given). In training the saved statistics depend on the input, which adds
    /// the two mean terms; in evaluation they are constants and dx = g·weight·rstd.
    /// </summary>
    public static void Backward<T>(T* g, T* x, T* saveMean, T* saveRstd, T* dx, int n, int c, long s, double[] gamma, double[]? dGamma, double[]? dBeta, bool training) where T : unmanaged
    {
        long count = n * s;
        CpuParallel.For(c, 8.0 * count, (start, end) =>
        {
            var scratch = new double[3 * Wide.Tile];
            fixed (double* sp = scratch)
            {
                double* xs = sp, gs = sp + Wide.Tile, ds = sp + 2 * Wide.Tile;
                for (int ch = (int)start; ch < end; ch++)
                {
                    double mu = Wide.Get(saveMean + ch), rs = Wide.Get(saveRstd + ch);
                    double sumG = 0, sumGx = 0;
                    for (int b = 0; b < n; b++)
                    {
                        long run = ((long)b * c + ch) * s;
                        if (typeof(T) == typeof(float))
                        {
                            // Float runs are widened in registers, without scratch tiles.
                            var (a, p) = Wide.SumAndCentredProducts((float*)(g + run), (float*)(x + run), s, mu);
                            sumG += a;
                            sumGx += p;
                            continue;
                        }
                        for (long t = 0; t < s; t += Wide.Tile)
                        {
                            int len = (int)Math.Min(Wide.Tile, s - t);
                            double* gt = Wide.Load(g + run + t, len, gs);
                            sumG += Wide.Sum(gt, len);
                            sumGx += Wide.SumCentredProducts(gt, Wide.Load(x + run + t, len, xs), len, mu);
                        }
                    }
                    if (dGamma is not null) { dGamma[ch] = sumGx * rs; dBeta![ch] = sumG; }
                    if (dx == null) continue;
                    double alpha = gamma[ch] * rs;
                    double c1 = training ? -alpha * rs * rs * sumGx / count : 0;
                    double c0 = training ? -alpha * sumG / count - c1 * mu : 0;
                    for (int b = 0; b < n; b++)
                    {
                        long run = ((long)b * c + ch) * s;
                        if (typeof(T) == typeof(float))
                        {
                            Wide.Combine((float*)(g + run), (float*)(x + run), alpha, c1, c0, (float*)(dx + run), s);
                            continue;
                        }
                        for (long t = 0; t < s; t += Wide.Tile)
                        {
                            int len = (int)Math.Min(Wide.Tile, s - t);
                            double* target = Wide.Target(dx + run + t, ds);
                            Wide.Combine(Wide.Load(g + run + t, len, gs), Wide.Load(x + run + t, len, xs), alpha, c1, c0, target, len);
                            Wide.Store(target, dx + run + t, len);
                        }
                    }
                }
            }
        });
    }

    private static int W => Vector<double>.Count;

    /// <summary>Σ x over float data, widened in registers, four double accumulators.</summary>
    private static double SumWidened(float* x, long n)
    {
        Vector<double> a0 = default, a1 = default, a2 = default, a3 = default;
        long i = 0;
        for (; i <= n - 4 * W; i += 4 * W)
        {
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            Vector.Widen(Vector.Load(x + i + 2 * W), out var x2, out var x3);
            a0 += x0; a1 += x1; a2 += x2; a3 += x3;
        }
        double sum = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>Σ (x - mean)² over float data, widened in registers.</summary>
    private static double SumSquaredDeviationsWidened(float* x, long n, double mean)
    {
        Vector<double> a0 = default, a1 = default, a2 = default, a3 = default, m = new(mean);
        long i = 0;
        for (; i <= n - 4 * W; i += 4 * W)
        {
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            Vector.Widen(Vector.Load(x + i + 2 * W), out var x2, out var x3);
            x0 -= m; x1 -= m; x2 -= m; x3 -= m;
            a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3;
        }
        double sum = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) { double d = x[i] - mean; sum += d * d; }
        return sum;
    }

    /// <summary>y = x·scale + shift over float data, in double and rounded once.</summary>
    private static void ScaleShiftWidened(float* x, double scale, double shift, float* y, long n)
    {
        Vector<double> a = new(scale), b = new(shift);
        long i = 0;
        for (; i <= n - 2 * W; i += 2 * W)
        {
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            Vector.Narrow(x0 * a + b, x1 * a + b).Store(y + i);
        }
        for (; i < n; i++) y[i] = (float)(x[i] * scale + shift);
    }
}
