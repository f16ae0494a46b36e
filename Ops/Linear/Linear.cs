using System.Diagnostics;
using Engine.Autograd;
using Engine.Cpu;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// y = x·weightᵀ + bias over any leading dimensions, as PyTorch's <c>F.linear</c>. One fused node: the
    /// forward is one GEMM over the flattened leading dimensions, accumulating onto the bias rows; the
    /// backward is one GEMM for the input gradient (g·W), one for the weight gradient (gᵀ·X), both reading
    /// their operands through strides, and a column sum for the bias.
    /// </summary>
    /// <param name="input">Tensor of shape (*, in_features).</param>
    /// <param name="weight">Matrix of shape (out_features, in_features).</param>
    /// <param name="bias">Optional bias of shape (out_features), or one value broadcast to it.</param>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        const string op = "linear";
        CheckInput(op, input);
        ArgumentNullException.ThrowIfNull(weight);
        CheckCompanion(op, "weight", weight, input);
        CheckCompanion(op, "bias", bias, input);
        if (input.Rank == 0 || weight.Rank != 2)
            throw new ArgumentException($"{op}: expected an input of shape (*, in_features) and a weight of shape (out_features, in_features), but got input of shape {Shp(input)} and weight of shape {Shp(weight)}.");
        var shape = input.Layout.Shape;
        int inF = weight.Layout.Shape[1], outF = weight.Layout.Shape[0];
        long m = Layout.Count(shape.AsSpan(0, shape.Length - 1));
        if (shape[^1] != inF)
            throw new ArgumentException($"{op}: mat1 and mat2 shapes cannot be multiplied ({m}x{shape[^1]} and {inF}x{outF}): input of shape {Shp(input)}, weight of shape {Shp(weight)}.");
        if (bias is not null && (bias.Rank > 1 || bias.NumEl != outF && bias.NumEl != 1))
            throw new ArgumentException($"{op}: expected a bias of shape [{outF}] (out_features), but got bias of shape {Shp(bias)} with weight of shape {Shp(weight)}.");

        long t0 = Stopwatch.GetTimestamp();
        var dtype = input.DType;
        int[] outShape = [.. shape[..^1], outF];
        using var x = RowsOf(input, out long xRow, out long xCol);
        var y = Tensor.Empty(outShape, dtype);
        if (bias is not null)
        {
            using var noGrad = Tape.NoGrad();
            using var expanded = bias.Expand([outF]);
            using var b = expanded.ContiguousHandle();
            LinearBiasRows(y, m, outF, b);
        }
        LinearGemm(dtype, (int)m, outF, inF, x, xRow, xCol, weight, weight.Layout.Strides[1], weight.Layout.Strides[0], bias is null ? 0 : 1, y, outF);

        if (Tape.ShouldRecord(input, weight, bias))
        {
            var sx = Tape.Save(x); var sw = Tape.Save(weight);
            bool needX = input.RequiresGrad, needW = weight.RequiresGrad, needB = bias is { RequiresGrad: true };
            var bShape = bias?.Shape;
            Tape.Record(op, [input, weight, bias], [y], g =>
            {
                using var gr = RowsOf(g[0], out long gRow, out long gCol);
                var w = sw.Value;
                Tensor? dx = null, dw = null, db = null;
                if (needX)
                {
                    dx = Tensor.Empty(shape, dtype);
                    LinearGemm(dtype, (int)m, inF, outF, gr, gRow, gCol, w, w.Layout.Strides[0], w.Layout.Strides[1], 0, dx, inF);
                }
                if (needW)
                {
                    dw = Tensor.Empty([outF, inF], dtype);
                    LinearGemm(dtype, outF, inF, (int)m, gr, gCol, gRow, sx.Value, xRow, xCol, 0, dw, inF);
                }
                if (needB)
                {
                    var sums = LinearBiasGradient(gr, m, outF, gRow, gCol);
                    using var full = ToTensor(sums, [outF], dtype);
                    db = full.SumTo(bShape!);
                }
                return [dx, dw, db];
            }, [sx, sw], t0);
        }
        return y;
    }

    /// <summary>
    /// A handle on <paramref name="t"/> seen as an (m, k) matrix: the tensor itself when its leading
    /// dimensions merge into one stride (contiguous, sliced or broadcast rows), else a contiguous copy.
    /// </summary>
    private static Tensor RowsOf(Tensor t, out long rowStride, out long colStride)
    {
        var shape = t.Layout.Shape; var strides = t.Layout.Strides;
        int r = shape.Length;
        colStride = strides[r - 1];
        rowStride = -1;
        long next = 0;
        bool mergeable = true;
        for (int d = r - 2; d >= 0 && mergeable; d--)
        {
            if (shape[d] == 1) continue;
            if (rowStride < 0) rowStride = strides[d];
            else mergeable = strides[d] == next;
            next = strides[d] * shape[d];
        }
        if (mergeable)
        {
            if (rowStride < 0) rowStride = (long)shape[r - 1] * colStride; // at most one row: any stride will do
            return t.Alias();
        }
        var copy = t.ContiguousHandle();
        colStride = 1;
        rowStride = shape[r - 1];
        return copy;
    }

    private static unsafe void LinearBiasRows(Tensor y, long m, int n, Tensor bias)
    {
        if (y.DType == DType.F32) LinearKernels.FillRows(CpuBackend.Ptr<float>(y), m, n, CpuBackend.Ptr<float>(bias));
        else LinearKernels.FillRows(CpuBackend.Ptr<double>(y), m, n, CpuBackend.Ptr<double>(bias));
    }

    /// <summary>c = a·b (+ c when <paramref name="beta"/> is 1), with a (m, k) and b (k, n) read through the given strides.</summary>
    private static unsafe void LinearGemm(DType dtype, int m, int n, int k, Tensor a, long aRow, long aCol, Tensor b, long bRow, long bCol, int beta, Tensor c, long cRow)
    {
        if (m == 0 || n == 0) return;
        if (dtype == DType.F32)
            CpuGemm.Gemm(m, n, k, 1f, CpuBackend.Ptr<float>(a), aRow, aCol, CpuBackend.Ptr<float>(b), bRow, bCol, beta, CpuBackend.Ptr<float>(c), cRow);
        else
            CpuGemm.Gemm(m, n, k, 1.0, CpuBackend.Ptr<double>(a), aRow, aCol, CpuBackend.Ptr<double>(b), bRow, bCol, beta, CpuBackend.Ptr<double>(c), cRow);
    }

    private static unsafe double[] LinearBiasGradient(Tensor g, long m, int n, long gRow, long gCol)
    {
        var sums = new double[n];
        using var rows = gCol == 1 ? g.Alias() : g.ContiguousHandle();
        long rowStride = gCol == 1 ? gRow : n;
        if (g.DType == DType.F32) LinearKernels.SumRows(CpuBackend.Ptr<float>(rows), m, n, rowStride, sums);
        else LinearKernels.SumRows(CpuBackend.Ptr<double>(rows), m, n, rowStride, sums);
        return sums;
    }
}
