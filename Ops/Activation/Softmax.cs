using System.Diagnostics;
using Engine.Autograd;

namespace Engine.Ops;

/// <summary>Softmax and log-softmax along one axis: one fused tape node each, with its own backward.</summary>
internal static class SoftmaxFunction
{
    public static Tensor Apply(Tensor input, int dim, bool log)
    {
        string op = log ? "log_softmax" : "softmax";
        FamilyGuards.Float(op, input);
        FamilyGuards.Cpu(op, input);
        int axis = Layout.NormalizeDim(dim, input.Rank, op);
        long t0 = Stopwatch.GetTimestamp();
        var (outer, n, inner) = SoftmaxKernels.Split(input.Layout.Shape, axis);
        var y = Tensor.Empty(input.Layout.Shape, input.DType, input.Device);
        if (y.NumEl > 0)
        {
            using var x = FamilyGuards.Dense(input);
            SoftmaxKernels.Forward(x, y, outer, n, inner, log);
        }
        if (Tape.ShouldRecord(input))
        {
            var sy = Tape.Save(y);
            Tape.Record(op, [input], [y], g =>
            {
                var yv = sy.Value;
                var gx = Tensor.Empty(yv.Layout.Shape, yv.DType, yv.Device);
                if (gx.NumEl > 0)
                {
                    using var gc = FamilyGuards.Dense(g[0]);
                    SoftmaxKernels.Backward(gc, yv, gx, outer, n, inner, log);
                }
                return [gx];
            }, [sy], t0);
        }
        return y;
    }
}
