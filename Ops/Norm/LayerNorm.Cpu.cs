using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// LayerNorm on the CPU: kernels over the rows of a contiguous (rows, d) matrix, statistics per row (two
/// passes), affine parameters per column. Float64 runs the generic kernels here, in double through
/// <see cref="Wide"/>; float32 runs its own, in float lanes with every sum ended in double
/// (LayerNormForwardF32.Cpu.cs, LayerNormBackwardF32.Cpu.cs).
/// </summary>
internal static unsafe partial class LayerNormCpu
{
    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, long rows, int d, double eps)
    {
        if (x.DType == DType.F32)
        {
            ForwardF32(x, w, b, y, mean, rstd, rows, d, eps);
            return;
        }
        var gamma = Widened(w, d, 1);
        var beta = Widened(b, d, 0);
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

    /// <summary>
    /// The blocks' partials added in block order into <paramref name="dGamma"/> and <paramref name="dBeta"/>: each
    /// column's sum takes the same additions in the same order whichever thread made which block, so the bits do not
    /// depend on the thread count. Whole columns at a time (vector adds, one column a lane): the same additions
    /// (0.98x the backward's time of [8192, 256], same process, loaded machine).
    /// </summary>
    private static void SumBlocks(double[] partial, long blocks, int d, double[] dGamma, double[] dBeta)
    {
        for (long b = 0; b < blocks; b++)
        {
            var block = partial.AsSpan(checked((int)(b * 2 * d)), 2 * d);
            System.Numerics.Tensors.TensorPrimitives.Add(dGamma, block[..d], dGamma);
            System.Numerics.Tensors.TensorPrimitives.Add(dBeta, block[d..], dBeta);
        }
    }
}
