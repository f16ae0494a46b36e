using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The linear layer on the CPU: the engine's GEMM reading its operands through their strides, the bias copied
/// into the output rows first (the GEMM accumulates onto them), and the bias gradient as column sums in double.
/// </summary>
internal static unsafe class LinearCpu
{
    /// <summary>y = x·wᵀ (+ bias rows); <paramref name="bias"/> is contiguous (out_features) or null.</summary>
    public static void Forward(LinearOperand x, Tensor weight, Tensor? bias, Tensor y, long m, int inF, int outF)
    {
        if (bias is not null)
        {
            if (y.DType == DType.F32) LinearKernels.FillRows(CpuBackend.Ptr<float>(y), m, outF, CpuBackend.Ptr<float>(bias));
            else LinearKernels.FillRows(CpuBackend.Ptr<double>(y), m, outF, CpuBackend.Ptr<double>(bias));
        }
        Gemm(y.DType, (int)m, outF, inF, x.Tensor, x.RowStride, x.ColStride, weight, weight.Layout.Strides[1], weight.Layout.Strides[0], bias is null ? 0 : 1, y, outF);
    }

    /// <summary>dx = g·w, dw = gᵀ·x and db = the column sums of g, each skipped when null (contiguous targets).</summary>
    public static void Backward(LinearOperand g, LinearOperand x, Tensor weight, Tensor? dx, Tensor? dw, Tensor? db, long m, int inF, int outF)
    {
        var dtype = g.Tensor.DType;
        if (dx is not null)
            Gemm(dtype, (int)m, inF, outF, g.Tensor, g.RowStride, g.ColStride, weight, weight.Layout.Strides[0], weight.Layout.Strides[1], 0, dx, inF);
        if (dw is not null)
            Gemm(dtype, outF, inF, (int)m, g.Tensor, g.ColStride, g.RowStride, x.Tensor, x.RowStride, x.ColStride, 0, dw, inF);
        if (db is not null) BiasGradient(g, m, outF, db);
    }

    /// <summary>c = a·b (+ c when <paramref name="beta"/> is 1), with a (m, k) and b (k, n) read through the given strides.</summary>
    private static void Gemm(DType dtype, int m, int n, int k, Tensor a, long aRow, long aCol, Tensor b, long bRow, long bCol, int beta, Tensor c, long cRow)
    {
        if (m == 0 || n == 0) return;
        if (dtype == DType.F32)
            CpuGemm.Gemm(m, n, k, 1f, CpuBackend.Ptr<float>(a), aRow, aCol, CpuBackend.Ptr<float>(b), bRow, bCol, beta, CpuBackend.Ptr<float>(c), cRow);
        else
            CpuGemm.Gemm(m, n, k, 1.0, CpuBackend.Ptr<double>(a), aRow, aCol, CpuBackend.Ptr<double>(b), bRow, bCol, beta, CpuBackend.Ptr<double>(c), cRow);
    }

    /// <summary>The column sums of g, accumulated in double, narrowed into <paramref name="db"/> (contiguous, out_features).</summary>
    private static void BiasGradient(LinearOperand g, long m, int n, Tensor db)
    {
        var sums = new double[n];
        using var rows = g.ColStride == 1 ? g.Tensor.Alias() : g.Tensor.ContiguousHandle();
        long rowStride = g.ColStride == 1 ? g.RowStride : n;
        if (db.DType == DType.F32)
        {
            LinearKernels.SumRows(CpuBackend.Ptr<float>(rows), m, n, rowStride, sums);
            float* target = CpuBackend.Ptr<float>(db);
            for (int j = 0; j < n; j++) target[j] = (float)sums[j];
        }
        else
        {
            LinearKernels.SumRows(CpuBackend.Ptr<double>(rows), m, n, rowStride, sums);
            sums.CopyTo(new Span<double>(CpuBackend.Ptr<double>(db), n));
        }
    }
}

/// <summary>CPU pieces of the linear layer besides the GEMMs: the bias rows and the bias gradient (also used by the LSTM's projection).</summary>
internal static unsafe class LinearKernels
{
    private const int ColumnTile = 256;

    /// <summary>Copies the <paramref name="n"/>-element <paramref name="bias"/> into each of the <paramref name="m"/> rows of <paramref name="c"/>.</summary>
    public static void FillRows<T>(T* c, long m, int n, T* bias) where T : unmanaged
    {
        CpuParallel.For(m, n, (start, end) =>
        {
            var row = new ReadOnlySpan<T>(bias, n);
            for (long i = start; i < end; i++) row.CopyTo(new Span<T>(c + i * n, n));
        });
    }

    /// <summary>
    /// Column sums of an (m, n) matrix with contiguous rows <paramref name="rowStride"/> apart, added in row
    /// order in double: each tile of columns is summed by one thread, whatever the thread count.
    /// </summary>
    public static void SumRows<T>(T* g, long m, int n, long rowStride, double[] sums) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            SumRowsFloat((float*)g, m, n, rowStride, sums);
            return;
        }
        long tiles = (n + ColumnTile - 1) / ColumnTile;
        CpuParallel.For(tiles, 2.0 * m * ColumnTile, (start, end) =>
        {
            var scratch = new double[ColumnTile];
            fixed (double* s = scratch, acc = sums)
            {
                for (long tile = start; tile < end; tile++)
                {
                    int j0 = (int)tile * ColumnTile, width = Math.Min(ColumnTile, n - j0);
                    for (long i = 0; i < m; i++) Wide.Add(acc + j0, Wide.Load(g + i * rowStride + j0, width, s), width);
                }
            }
        });
    }

    /// <summary>
    /// <see cref="SumRows{T}"/> on float rows: strips of <see cref="FloatStrip"/> columns, each summed by one thread
    /// in registers (widened to double as loaded); each column still adds its rows in order, so the sums are those
    /// of the tiled path, and a narrow layer still spreads over the threads.
    /// </summary>
    private static void SumRowsFloat(float* g, long m, int n, long rowStride, double[] sums)
    {
        long strips = (n + FloatStrip - 1) / FloatStrip;
        CpuParallel.For(strips, 2.0 * m * FloatStrip, (start, end) =>
        {
            fixed (double* acc = sums)
            {
                for (long strip = start; strip < end; strip++)
                {
                    int j0 = (int)strip * FloatStrip, width = Math.Min(FloatStrip, n - j0);
                    float* col = g + j0;
                    if (width < FloatStrip || Vector<float>.Count != 8)
                    {
                        for (int j = 0; j < width; j++)
                        {
                            double s = acc[j0 + j];
                            for (long i = 0; i < m; i++) s += col[i * rowStride + j];
                            acc[j0 + j] = s;
                        }
                        continue;
                    }
                    int w = Vector<double>.Count;
                    Vector<double> a0 = Vector.Load(acc + j0), a1 = Vector.Load(acc + j0 + w);
                    Vector<double> a2 = Vector.Load(acc + j0 + 2 * w), a3 = Vector.Load(acc + j0 + 3 * w);
                    for (long i = 0; i < m; i++)
                    {
                        float* row = col + i * rowStride;
                        Vector.Widen(Vector.Load(row), out var x0, out var x1);
                        Vector.Widen(Vector.Load(row + 2 * w), out var x2, out var x3);
                        a0 += x0; a1 += x1; a2 += x2; a3 += x3;
                    }
                    a0.Store(acc + j0); a1.Store(acc + j0 + w); a2.Store(acc + j0 + 2 * w); a3.Store(acc + j0 + 3 * w);
                }
            }
        });
    }

    /// <summary>Columns per strip of the float column sums: four double vectors, two float vectors.</summary>
    private const int FloatStrip = 16;
}
