using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// y = x·weightᵀ + bias over any leading dimensions, as PyTorch's <c>F.linear</c>. One fused node: the
    /// forward is one GEMM over the flattened leading dimensions, accumulating onto the bias rows; the
    /// backward is one GEMM for the input gradient (g·W), one for the weight gradient (gᵀ·X), both reading
    /// their operands through strides, and a column sum for the bias. Runs on the CPU (<c>Linear.Cpu.cs</c>: the
    /// engine's GEMM) and on CUDA (<c>Linear.Cuda.cs</c>: cuBLAS through the backend, no kernel of its own).
    /// </summary>
    /// <param name="input">Tensor of shape (*, in_features).</param>
    /// <param name="weight">Matrix of shape (out_features, in_features).</param>
    /// <param name="bias">Optional bias of shape (out_features), or one value broadcast to it.</param>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        const string op = "linear";
        CheckFloatInput(op, input);
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
        var device = input.Device;
        int[] outShape = [.. shape[..^1], outF];
        using var x = RowsOf(input, out long xRow, out long xCol);
        var y = Tensor.Empty(outShape, dtype, device);
        var xs = new LinearOperand(x, xRow, xCol);
        Tensor? b = null;
        if (bias is not null)
        {
            using var noGrad = Tape.NoGrad();
            using var expanded = bias.Expand([outF]);
            b = expanded.ContiguousHandle();
        }
        using (b)
        {
            switch (device.Type)
            {
                case DeviceType.Cpu: LinearCpu.Forward(xs, weight, b, y, m, inF, outF); break;
                case DeviceType.Cuda: LinearCuda.Forward(xs, weight, b, y, m, inF, outF); break;
                default: throw Kernel.Missing(op, input);
            }
        }

        if (Tape.ShouldRecord(input, weight, bias))
        {
            var sx = Tape.Save(x); var sw = Tape.Save(weight);
            bool needX = input.RequiresGrad, needW = weight.RequiresGrad, needB = bias is { RequiresGrad: true };
            var bShape = bias?.Shape;
            Tape.Record(op, [input, weight, bias], [y], g =>
            {
                using var gr = RowsOf(g[0], out long gRow, out long gCol);
                var gs = new LinearOperand(gr, gRow, gCol);
                var w = sw.Value;
                var dx = needX ? Tensor.Empty(shape, dtype, gr.Device) : null;
                var dw = needW ? Tensor.Empty([outF, inF], dtype, gr.Device) : null;
                using var full = needB ? Tensor.Empty([outF], dtype, gr.Device) : null;
                var inputs = new LinearOperand(sx.Value, xRow, xCol);
                switch (gr.Device.Type)
                {
                    case DeviceType.Cpu: LinearCpu.Backward(gs, inputs, w, dx, dw, full, m, inF, outF); break;
                    case DeviceType.Cuda: LinearCuda.Backward(gs, inputs, w, dx, dw, full, m, inF, outF); break;
                    default: throw Kernel.Missing(op + "_backward", gr);
                }
                return [dx, dw, full?.SumTo(bShape!)];
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
}

/// <summary>An operand of the linear layer seen as an (m, k) matrix: the tensor and the strides of its rows and columns.</summary>
internal readonly record struct LinearOperand(Tensor Tensor, long RowStride, long ColStride);
