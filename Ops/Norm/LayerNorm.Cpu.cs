using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// LayerNorm on the CPU: kernels over the rows of a contiguous (rows, d) matrix, statistics per row (two
/// passes in double), affine parameters per column, widened once to double for the SIMD loops.
/// </summary>
internal static unsafe partial class LayerNormCpu
{
    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, long rows, int d, double eps)
    {
        var gamma = Widened(w, d, 1);
        var beta = Widened(b, d, 0);
        if (x.DType == DType.F32)
            Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd), rows, d, gamma, beta, eps);
        else
            Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd), rows, d, gamma, beta, eps);
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, long rows, int d)
    {
        if (x.DType == DType.F32)
        {
            BackwardF32(g, x, w, mean, rstd, dx, dw, db, rows, d);
            return;
        }
        var gamma = Widened(w, d, 1);
        double[]? dGamma = dw is null && db is null ? null : new double[d], dBeta = dGamma is null ? null : new double[d];
        Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
            dx is null ? null : CpuBackend.Ptr<double>(dx), rows, d, gamma, dGamma, dBeta);
        if (dw is not null) Narrowed(dGamma!, dw);
        if (db is not null) Narrowed(dBeta!, db);
    }

    /// <summary>A contiguous parameter widened to double for the kernels, or <paramref name="count"/> copies of <paramref name="fill"/> when absent.</summary>
    internal static double[] Widened(Tensor? t, int count, double fill)
    {
        var v = new double[count];
        if (t is null) { Array.Fill(v, fill); return v; }
        if (t.DType == DType.F32) { float* p = CpuBackend.Ptr<float>(t); for (int i = 0; i < count; i++) v[i] = p[i]; }
        else new ReadOnlySpan<double>(CpuBackend.Ptr<double>(t), count).CopyTo(v);
        return v;
    }

    /// <summary>Writes double sums into a contiguous gradient tensor of the parameter's dtype.</summary>
    internal static void Narrowed(double[] values, Tensor target)
    {
        if (target.DType == DType.F32) { float* p = CpuBackend.Ptr<float>(target); for (int i = 0; i < values.Length; i++) p[i] = (float)values[i]; }
        else values.CopyTo(new Span<double>(CpuBackend.Ptr<double>(target), values.Length));
    }

    public static void Forward<T>(T* x, T* y, T* mean, T* rstd, long rows, int d, double[] gamma, double[] beta, double eps) where T : unmanaged
    {
        // A row that fits one tile is widened once and reused by the three passes.
        bool oneTile = d <= Wide.Tile;
        CpuParallel.For(rows, 8.0 * d, (start, end) =>
        {
            var scratch = new double[2 * Wide.Tile];
            fixed (double* s = scratch, gm = gamma, bt = beta)
            {
                double* xs = s, ys = s + Wide.Tile;
                for (long r = start; r < end; r++)
                {
                    T* xr = x + r * d, yr = y + r * d;
                    if (typeof(T) == typeof(float) && oneTile)
                    {
                        // A float row of one tile is widened in registers: the same operations, in the same order, as on a widened tile.
                        var (m, rsf) = ForwardFloatRow((float*)xr, (float*)yr, gm, bt, d, eps);
                        Wide.Set(mean + r, m);
                        Wide.Set(rstd + r, rsf);
                        continue;
                    }
                    double sum = 0, squares = 0;
                    double* xt = null;
                    for (int t = 0; t < d; t += Wide.Tile)
                    {
                        int n = Math.Min(Wide.Tile, d - t);
                        sum += Wide.Sum(xt = Wide.Load(xr + t, n, xs), n);
                    }
                    double mu = Wide.Average(sum, d);
                    for (int t = 0; t < d; t += Wide.Tile)
                    {
                        int n = Math.Min(Wide.Tile, d - t);
                        squares += Wide.SumSquaredDeviations(oneTile ? xt : Wide.Load(xr + t, n, xs), n, mu);
                    }
                    double rs = 1 / Math.Sqrt(Wide.Average(squares, d) + eps);
                    for (int t = 0; t < d; t += Wide.Tile)
                    {
                        int n = Math.Min(Wide.Tile, d - t);
                        double* target = Wide.Target(yr + t, ys);
                        Wide.NormalizeAffine(oneTile ? xt : Wide.Load(xr + t, n, xs), mu, rs, gm + t, bt + t, target, n);
                        Wide.Store(target, yr + t, n);
                    }
                    Wide.Set(mean + r, mu);
                    Wide.Set(rstd + r, rs);
                }
            }
        });
    }

    /// <summary>
    /// <see cref="Wide.Sum"/>, <see cref="Wide.SumSquaredDeviations"/> and <see cref="Wide.NormalizeAffine"/> on one float
    /// row of at most one tile, widened in registers instead of through a scratch tile; returns the mean and rstd.
    /// </summary>
    private static (double Mean, double Rstd) ForwardFloatRow(float* x, float* y, double* gamma, double* beta, int n, double eps)
    {
        if (VectorWidth.Use512) return ForwardFloatRow512(x, y, gamma, beta, n, eps);
        int w = Vector<double>.Count;
        Vector<double> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            Vector.Widen(Vector.Load(x + i + 2 * w), out var x2, out var x3);
            a0 += x0; a1 += x1; a2 += x2; a3 += x3;
        }
        for (; i <= n - w; i += w) a0 += WidenOne(x + i);
        double sum = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += x[i];
        double mu = Wide.Average(sum, n);

        Vector<double> m = new(mu);
        a0 = a1 = a2 = a3 = default;
        i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            Vector.Widen(Vector.Load(x + i + 2 * w), out var x2, out var x3);
            var d0 = x0 - m; var d1 = x1 - m; var d2 = x2 - m; var d3 = x3 - m;
            a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3;
        }
        for (; i <= n - w; i += w) { var d = WidenOne(x + i) - m; a0 += d * d; }
        double squares = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) { double d = x[i] - mu; squares += d * d; }
        double rs = 1 / Math.Sqrt(Wide.Average(squares, n) + eps);

        Vector<double> r = new(rs);
        i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            Vector.Widen(Vector.Load(x + i), out var x0, out var x1);
            var y0 = (x0 - m) * r * Vector.Load(gamma + i) + Vector.Load(beta + i);
            var y1 = (x1 - m) * r * Vector.Load(gamma + i + w) + Vector.Load(beta + i + w);
            Vector.Narrow(y0, y1).Store(y + i);
        }
        for (; i < n; i++) y[i] = (float)((x[i] - mu) * rs * gamma[i] + beta[i]);
        return (mu, rs);
    }

    /// <summary>The <c>Vector&lt;double&gt;.Count</c> floats at <paramref name="x"/>, widened.</summary>
    private static Vector<double> WidenOne(float* x)
    {
        Span<double> lanes = stackalloc double[Vector<double>.Count];
        for (int k = 0; k < lanes.Length; k++) lanes[k] = x[k];
        return new Vector<double>(lanes);
    }

    /// <summary>
    /// Input gradient into <paramref name="dx"/> (skipped when null) and, when <paramref name="dGamma"/> is
    /// given, the affine gradients (the generic form; float32 tensors take <c>BackwardF32</c>). Those are sums over
    /// rows: each block of rows (a split fixed by the shape, not by the thread count) adds into its own partial
    /// sums, which are then added in block order.
    /// </summary>
    public static void Backward<T>(T* g, T* x, T* mean, T* rstd, T* dx, long rows, int d, double[] gamma, double[]? dGamma, double[]? dBeta) where T : unmanaged
    {
        bool affine = dGamma is not null;
        long blocks = affine ? AffineBlocks(rows, d) : rows;
        long rowsPerBlock = blocks == 0 ? 0 : (rows + blocks - 1) / blocks;
        var partial = affine ? new double[blocks * 2 * d] : [];
        bool oneTile = d <= Wide.Tile;
        CpuParallel.For(blocks, 12.0 * d * rowsPerBlock, (start, end) =>
        {
            var scratch = new double[3 * Wide.Tile];
            fixed (double* s = scratch, gm = gamma, part = partial)
            {
                double* xs = s, gs = s + Wide.Tile, ds = s + 2 * Wide.Tile;
                for (long b = start; b < end; b++)
                {
                    double* pg = part + b * 2 * d, pb = pg + d;
                    for (long r = b * rowsPerBlock; r < Math.Min(rows, (b + 1) * rowsPerBlock); r++)
                    {
                        T* xr = x + r * d, gr = g + r * d;
                        double mu = Wide.Get(mean + r), rs = Wide.Get(rstd + r);
                        double sumG = 0, sumGx = 0;
                        double* xt = null, gt = null;
                        for (int t = 0; t < d; t += Wide.Tile)
                        {
                            int n = Math.Min(Wide.Tile, d - t);
                            xt = Wide.Load(xr + t, n, xs);
                            gt = Wide.Load(gr + t, n, gs);
                            if (dx != null)
                            {
                                var (a, c) = Wide.SumWeighted(gt, gm + t, xt, mu, n);
                                sumG += a;
                                sumGx += c;
                            }
                            if (affine) Wide.AddAffineGradients(pg + t, pb + t, gt, xt, mu, rs, n);
                        }
                        if (dx == null) continue;
                        // dx = rstd·(γg - mean(γg) - x̂·mean(γg·x̂)), written as rstd·γ·g + c1·x + c0.
                        double c1 = -rs * rs * rs * sumGx / d;
                        double c0 = -rs * sumG / d - c1 * mu;
                        T* dr = dx + r * d;
                        for (int t = 0; t < d; t += Wide.Tile)
                        {
                            int n = Math.Min(Wide.Tile, d - t);
                            double* target = Wide.Target(dr + t, ds);
                            Wide.Combine(oneTile ? gt : Wide.Load(gr + t, n, gs), gm + t, oneTile ? xt : Wide.Load(xr + t, n, xs), rs, c1, c0, target, n);
                            Wide.Store(target, dr + t, n);
                        }
                    }
                }
            }
        });
        if (affine) SumBlocks(partial, blocks, d, dGamma!, dBeta!);
    }

    /// <summary>How many row blocks keep affine partial sums: enough to share among threads, few enough that the partials stay small.</summary>
    private static long AffineBlocks(long rows, int d) =>
        rows == 0 ? 0 : Math.Clamp(Math.Min(32, (1L << 18) / Math.Max(d, 1)), 1, rows);

    private static void SumBlocks(double[] partial, long blocks, int d, double[] dGamma, double[] dBeta)
    {
        for (long b = 0; b < blocks; b++)
            for (int j = 0; j < d; j++)
            {
                dGamma[j] += partial[b * 2 * d + j];
                dBeta[j] += partial[b * 2 * d + d + j];
            }
    }
}
