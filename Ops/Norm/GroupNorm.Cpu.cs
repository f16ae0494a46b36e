using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The group norm on the CPU, over a contiguous (N, C, S) tensor with G groups: each (sample, group)
/// is one contiguous row of C/G channel runs of S values; statistics per row, affine per channel. The generic
/// kernels run in double (the affine parameters widened once per call); the float32 forward and backward run in float
/// lanes (GroupNormBackwardF32.Cpu.cs for the backward).
/// </summary>
internal static unsafe partial class GroupNormCpu
{
    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, GroupNormShape shape, double eps)
    {
        var (n, c, s, groups) = shape;
        if (x.DType == DType.F32 && (long)(c / groups) * s <= int.MaxValue)
        {
            ForwardF32(x, w, b, y, mean, rstd, shape, eps);
            return;
        }
        var gamma = LayerNormCpu.Widened(w, c, 1);
        var beta = LayerNormCpu.Widened(b, c, 0);
        if (x.DType == DType.F32)
            Forward(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd), n, c, s, groups, gamma, beta, eps);
        else
            Forward(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd), n, c, s, groups, gamma, beta, eps);
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, GroupNormShape shape)
    {
        var (n, c, s, groups) = shape;
        if (x.DType == DType.F32 && (long)(c / groups) * s <= int.MaxValue)
        {
            BackwardF32(g, x, w, mean, rstd, dx, dw, db, shape);
            return;
        }
        var gamma = LayerNormCpu.Widened(w, c, 1);
        double[]? dGamma = dw is null && db is null ? null : new double[c], dBeta = dGamma is null ? null : new double[c];
        if (x.DType == DType.F32)
            Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(mean), CpuBackend.Ptr<float>(rstd),
                dx is null ? null : CpuBackend.Ptr<float>(dx), n, c, s, groups, gamma, dGamma, dBeta);
        else
            Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(mean), CpuBackend.Ptr<double>(rstd),
                dx is null ? null : CpuBackend.Ptr<double>(dx), n, c, s, groups, gamma, dGamma, dBeta);
        if (dw is not null) LayerNormCpu.Narrowed(dGamma!, dw);
        if (db is not null) LayerNormCpu.Narrowed(dBeta!, db);
    }

    public static void Forward<T>(T* x, T* y, T* mean, T* rstd, int n, int c, long s, int groups, double[] gamma, double[] beta, double eps) where T : unmanaged
    {
        int perGroup = c / groups;
        long length = perGroup * s;
        CpuParallel.For((long)n * groups, 6.0 * length, (start, end) =>
        {
            var scratch = new double[2 * Wide.Tile];
            fixed (double* sp = scratch)
            {
                double* xs = sp, ys = sp + Wide.Tile;
                for (long row = start; row < end; row++)
                {
                    T* xr = x + row * length, yr = y + row * length;
                    double sum = 0, squares = 0;
                    for (long t = 0; t < length; t += Wide.Tile)
                    {
                        int len = (int)Math.Min(Wide.Tile, length - t);
                        sum += Wide.Sum(Wide.Load(xr + t, len, xs), len);
                    }
                    double mu = Wide.Average(sum, length);
                    for (long t = 0; t < length; t += Wide.Tile)
                    {
                        int len = (int)Math.Min(Wide.Tile, length - t);
                        squares += Wide.SumSquaredDeviations(Wide.Load(xr + t, len, xs), len, mu);
                    }
                    double rs = 1 / Math.Sqrt(Wide.Average(squares, length) + eps);
                    Wide.Set(mean + row, mu);
                    Wide.Set(rstd + row, rs);
                    for (int j = 0; j < perGroup; j++)
                    {
                        int ch = (int)(row % groups) * perGroup + j;
                        double scale = rs * gamma[ch], shift = beta[ch] - mu * scale;
                        for (long t = 0; t < s; t += Wide.Tile)
                        {
                            int len = (int)Math.Min(Wide.Tile, s - t);
                            long at = j * s + t;
                            double* target = Wide.Target(yr + at, ys);
                            Wide.ScaleShift(Wide.Load(xr + at, len, xs), scale, shift, target, len);
                            Wide.Store(target, yr + at, len);
                        }
                    }
                }
            }
        });
    }

    /// <summary>
    /// The float32 forward in float lanes, with the statistics of the F32 layer norm (LayerNormForwardF32.Cpu.cs:
    /// float lane runs ended in double, a corrected two-pass mean), each channel run then shifted and scaled in float.
    /// </summary>
    private static void ForwardF32(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, GroupNormShape shape, double eps)
    {
        var (n, c, s, groups) = shape;
        int perGroup = c / groups, length = (int)(perGroup * s);
        float* xp = CpuBackend.Ptr<float>(x), yp = CpuBackend.Ptr<float>(y), mp = CpuBackend.Ptr<float>(mean), rp = CpuBackend.Ptr<float>(rstd);
        float* wp = w is null ? null : CpuBackend.Ptr<float>(w), bp = b is null ? null : CpuBackend.Ptr<float>(b);
        CpuParallel.For((long)n * groups, 4.0 * length, (start, end) =>
        {
            for (long row = start; row < end; row++)
            {
                float* xr = xp + row * length, yr = yp + row * length;
                bool wide = VectorWidth.Use512;
                float centre = (float)Wide.Average(wide ? LayerNormCpu.RowSum512(xr, length) : LayerNormCpu.RowSum256(xr, length), length);
                var (shift, squares) = wide ? LayerNormCpu.RowCentred512(xr, centre, length) : LayerNormCpu.RowCentred256(xr, centre, length);
                double rest = Wide.Average(shift, length);
                double variance = Math.Max(0, Wide.Average(squares, length) - rest * rest);
                double rs = 1 / Math.Sqrt(variance + eps);
                mp[row] = (float)(centre + rest);
                rp[row] = (float)rs;
                for (int j = 0; j < perGroup; j++)
                {
                    int ch = (int)(row % groups) * perGroup + j;
                    float scale = (float)(rs * (wp == null ? 1 : wp[ch])), beta = bp == null ? 0 : bp[ch];
                    ShiftScale(xr + j * s, yr + j * s, centre, (float)rest, scale, beta, (int)s);
                }
            }
        });
    }

    /// <summary>y = ((x - centre) - rest) scale + beta over a channel run, in float.</summary>
    private static void ShiftScale(float* x, float* y, float centre, float rest, float scale, float beta, int n)
    {
        int i = 0;
        if (VectorWidth.Use512)
        {
            Vector512<float> m = Vector512.Create(centre), e = Vector512.Create(rest), k = Vector512.Create(scale), b = Vector512.Create(beta);
            for (; i <= n - 16; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(x + i) - m - e, k, b).Store(y + i);
        }
        else
        {
            Vector256<float> m = Vector256.Create(centre), e = Vector256.Create(rest), k = Vector256.Create(scale), b = Vector256.Create(beta);
            for (; i <= n - 8; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - m - e, k, b).Store(y + i);
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(x[i] - centre - rest, scale, beta);
    }

    /// <summary>
    /// Input gradient into <paramref name="dx"/> (skipped when null) and, when <paramref name="dGamma"/> is
    /// given, the affine gradients: each row writes its channels' sums for its sample, and the samples are
    /// added in order afterwards.
    /// </summary>
    public static void Backward<T>(T* g, T* x, T* mean, T* rstd, T* dx, int n, int c, long s, int groups, double[] gamma, double[]? dGamma, double[]? dBeta) where T : unmanaged
    {
        int perGroup = c / groups;
        long length = perGroup * s;
        var perSample = new double[2L * n * c]; // Σ g·x̂ and Σ g per (sample, channel)
        CpuParallel.For((long)n * groups, 8.0 * length, (start, end) =>
        {
            var scratch = new double[3 * Wide.Tile];
            fixed (double* sp = scratch, sums = perSample)
            {
                double* xs = sp, gs = sp + Wide.Tile, ds = sp + 2 * Wide.Tile;
                for (long row = start; row < end; row++)
                {
                    T* xr = x + row * length, gr = g + row * length;
                    double mu = Wide.Get(mean + row), rs = Wide.Get(rstd + row);
                    int first = (int)(row % groups) * perGroup;
                    double* dgs = sums + row / groups * c, dbs = dgs + (long)n * c;
                    double sumG = 0, sumGx = 0; // weighted by gamma
                    for (int j = 0; j < perGroup; j++)
                    {
                        double a = 0, b = 0;
                        if (typeof(T) == typeof(float)) (a, b) = Wide.SumAndCentredProducts((float*)(gr + j * s), (float*)(xr + j * s), s, mu);
                        else for (long t = 0; t < s; t += Wide.Tile)
                        {
                            int len = (int)Math.Min(Wide.Tile, s - t);
                            double* gt = Wide.Load(gr + j * s + t, len, gs);
                            a += Wide.Sum(gt, len);
                            b += Wide.SumCentredProducts(gt, Wide.Load(xr + j * s + t, len, xs), len, mu);
                        }
                        dgs[first + j] = b * rs;
                        dbs[first + j] = a;
                        sumG += gamma[first + j] * a;
                        sumGx += gamma[first + j] * b;
                    }
                    if (dx == null) continue;
                    double c1 = -rs * rs * rs * sumGx / length;
                    double c0 = -rs * sumG / length - c1 * mu;
                    T* dr = dx + row * length;
                    for (int j = 0; j < perGroup; j++)
                        if (typeof(T) == typeof(float)) Wide.Combine((float*)(gr + j * s), (float*)(xr + j * s), rs * gamma[first + j], c1, c0, (float*)(dr + j * s), s);
                        else for (long t = 0; t < s; t += Wide.Tile)
                        {
                            int len = (int)Math.Min(Wide.Tile, s - t);
                            long at = j * s + t;
                            double* target = Wide.Target(dr + at, ds);
                            Wide.Combine(Wide.Load(gr + at, len, gs), Wide.Load(xr + at, len, xs), rs * gamma[first + j], c1, c0, target, len);
                            Wide.Store(target, dr + at, len);
                        }
                }
            }
        });
        if (dGamma is null) return;
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                dGamma[ch] += perSample[(long)b * c + ch];
                dBeta![ch] += perSample[(long)n * c + (long)b * c + ch];
            }
    }
}
