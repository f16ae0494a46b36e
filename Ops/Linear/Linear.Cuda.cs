using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

/// <summary>
/// The linear layer on CUDA, from the backend's primitives alone (no kernel of its own): cuBLAS GEMMs through
/// <c>IBackend.Gemm</c>, which reads transposed views without copying; the bias copied into the output rows
/// first and the GEMM accumulating onto them (beta = 1), as on the CPU; the bias gradient by the backend's
/// fixed-order column sum (double accumulation), so the same input gives the same bits.
/// </summary>
internal static class LinearCuda
{
    /// <summary>y = x·wᵀ (+ bias rows); <paramref name="bias"/> is contiguous (out_features) or null.</summary>
    public static void Forward(LinearOperand x, Tensor weight, Tensor? bias, Tensor y, long m, int inF, int outF)
    {
        if (m == 0 || outF == 0) return;
        using var noGrad = Tape.NoGrad();
        using var a = Matrix(x.Tensor, m, inF);
        using var wT = weight.Transpose(0, 1);
        using var c = y.View(checked((int)m), outF);
        if (bias is not null)
        {
            using var row = bias.View(1, outF);
            using var rows = row.Expand(checked((int)m), outF);
            y.Backend.Copy(rows, c);
        }
        y.Backend.Gemm(a, wT, c, 1, bias is null ? 0 : 1);
    }

    /// <summary>dx = g·w, dw = gᵀ·x and db = the column sums of g, each skipped when null (contiguous targets).</summary>
    public static void Backward(LinearOperand g, LinearOperand x, Tensor weight, Tensor? dx, Tensor? dw, Tensor? db, long m, int inF, int outF)
    {
        using var noGrad = Tape.NoGrad();
        using var gm = Matrix(g.Tensor, m, outF);
        if (dx is not null && m > 0 && inF > 0)
        {
            using var target = dx.View(checked((int)m), inF);
            dx.Backend.Gemm(gm, weight, target, 1, 0);
        }
        if (dw is not null && outF > 0 && inF > 0)
        {
            using var xm = Matrix(x.Tensor, m, inF);
            using var gT = gm.Transpose(0, 1);
            dw.Backend.Gemm(gT, xm, dw, 1, 0);
        }
        if (db is not null && outF > 0)
        {
            using var target = db.View(1, outF);
            db.Backend.Reduce(ReduceKind.Sum, gm, [0], target);
        }
    }

    /// <summary>An operand as an (m, k) matrix: a view when its leading dimensions merge (they do after <c>RowsOf</c>), else a copy.</summary>
    private static Tensor Matrix(Tensor t, long m, int k) => t.Reshape(checked((int)m), k);
}
