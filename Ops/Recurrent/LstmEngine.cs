using System.Numerics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>What the backward of a fused LSTM node needs from its forward: the input rows, the stacked input weights and each direction's buffers.</summary>
internal sealed class LstmTrace(Tensor input, Tensor weightIh, Tensor[] weightHh, Tensor[] gates, Tensor[] cells, Tensor[] tanhC, Tensor[] hiddens)
{
    public Tensor Input { get; } = input;
    public Tensor WeightIh { get; } = weightIh;
    public Tensor[] WeightHh { get; } = weightHh;
    public Tensor[] Gates { get; } = gates;
    public Tensor[] Cells { get; } = cells;
    public Tensor[] TanhC { get; } = tanhC;
    public Tensor[] Hiddens { get; } = hiddens;

    /// <summary>Every tensor, in a fixed order (for saving on the tape and for disposing).</summary>
    public Tensor[] All => [Input, WeightIh, .. WeightHh, .. Gates, .. Cells, .. TanhC, .. Hiddens];

    /// <summary>Rebuilds a trace from <see cref="All"/>'s order for <paramref name="directions"/> directions.</summary>
    public static LstmTrace From(Tensor[] all, int directions)
    {
        Tensor[] Take(int k) => all[(2 + k * directions)..(2 + (k + 1) * directions)];
        return new LstmTrace(all[0], all[1], Take(0), Take(1), Take(2), Take(3), Take(4));
    }
}

/// <summary>The gradients of a fused LSTM node.</summary>
internal sealed record LstmGradients(Tensor? Input, Tensor[] WeightIh, Tensor[] WeightHh, double[][] Bias, Tensor? H0, Tensor? C0);

/// <summary>
/// Runs a set of LSTM directions that read the same token rows: one GEMM (rows, C)·(C, ΣgateWidths) gives
/// every direction's input projection with both biases folded in, then the directions' recurrences run
/// concurrently (one task each), each writing its D output columns. The backward mirrors it: the
/// directions' BPTT loops concurrently, then one GEMM each for the input gradient and the stacked
/// input-weight gradient and one column sum for the biases.
/// </summary>
internal static unsafe class LstmEngine
{
    /// <summary>
    /// Forward. <paramref name="x"/> is (*, C) contiguous, one token per row; <paramref name="output"/> (*, Q) contiguous
    /// is fully written by the directions' columns. h0/c0, when given, are (directions, N, D) contiguous;
    /// hN/cN, when given, receive the final states in the same layout.
    /// </summary>
    public static LstmTrace Forward(Tensor x, DirectionPlan[] plans, DirectionWeights[] weights, Tensor output,
        Tensor? h0, Tensor? c0, Tensor? hN, Tensor? cN)
    {
        using var noGrad = Tape.NoGrad();
        var dtype = x.DType;
        long rows = Rows(x);
        int inputSize = x.Layout.Shape[^1], width = plans.Sum(p => 4 * p.Hidden);
        var weightIh = Tensor.Cat(weights.Select(w => w.WeightIh).ToArray(), 0);
        var biases = new double[width];
        for (int k = 0; k < plans.Length; k++)
        {
            if (weights[k].BiasIh is null) continue;
            var bi = weights[k].BiasIh!.ToArray<double>();
            var bh = weights[k].BiasHh!.ToArray<double>();
            for (int j = 0; j < bi.Length; j++) biases[plans[k].ProjectionColumn + j] = bi[j] + bh[j];
        }
        var weightHh = weights.Select(w => w.WeightHh.ContiguousHandle()).ToArray();
        Tensor Buffer(DirectionPlan p, int slots, int width) => Tensor.Empty([slots, p.Geometry.Sequences, width], dtype);
        var gates = plans.Select(p => Buffer(p, p.Geometry.Steps, 4 * p.Hidden)).ToArray();
        var cells = plans.Select(p => Buffer(p, p.Geometry.Steps + 1, p.Hidden)).ToArray();
        var tanhC = plans.Select(p => Buffer(p, p.Geometry.Steps, p.Hidden)).ToArray();
        var hiddens = plans.Select(p => Buffer(p, p.Geometry.Steps + 1, p.Hidden)).ToArray();
        var trace = new LstmTrace(x, weightIh, weightHh, gates, cells, tanhC, hiddens);

        using var projection = Tensor.Empty([checked((int)rows), width], dtype);
        using (var bias = NormArgs.ToTensor(biases, [width], dtype))
        {
            if (dtype == DType.F32) LinearKernels.FillRows(CpuBackend.Ptr<float>(projection), rows, width, CpuBackend.Ptr<float>(bias));
            else LinearKernels.FillRows(CpuBackend.Ptr<double>(projection), rows, width, CpuBackend.Ptr<double>(bias));
        }
        if (dtype == DType.F32) Forward<float>(trace, plans, projection, output, inputSize, h0, c0, hN, cN);
        else Forward<double>(trace, plans, projection, output, inputSize, h0, c0, hN, cN);
        return trace;
    }

    private static void Forward<T>(LstmTrace trace, DirectionPlan[] plans, Tensor projection, Tensor output, int inputSize,
        Tensor? h0, Tensor? c0, Tensor? hN, Tensor? cN) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = projection.Layout.Shape[0], width = projection.Layout.Shape[1], outWidth = output.Layout.Shape[^1];
        T* p = CpuBackend.Ptr<T>(projection);
        // projection += x · W_ihᵀ for all directions at once.
        LstmDirectionRun<T>.Gemm(rows, width, inputSize, CpuBackend.Ptr<T>(trace.Input), inputSize, 1,
            CpuBackend.Ptr<T>(trace.WeightIh), 1, inputSize, true, p, width);
        T* o = CpuBackend.Ptr<T>(output);
        Tensor[] transposed;
        using (Engine.Autograd.Tape.NoGrad()) transposed = trace.WeightHh.Select(u => u.Transpose(0, 1).Contiguous()).ToArray();
        CpuParallel.ForEachTask(plans.Length, k =>
        {
            var plan = plans[k];
            long state = (long)plan.Geometry.Sequences * plan.Hidden;
            T* cells = CpuBackend.Ptr<T>(trace.Cells[k]), hiddens = CpuBackend.Ptr<T>(trace.Hiddens[k]);
            InitialState(h0, k * state, hiddens, state);
            InitialState(c0, k * state, cells, state);
            new LstmDirectionRun<T>(plan, width, outWidth, CpuBackend.Ptr<T>(trace.WeightHh[k]), CpuBackend.Ptr<T>(trace.Gates[k]),
                cells, CpuBackend.Ptr<T>(trace.TanhC[k]), hiddens).Forward(p, o, CpuBackend.Ptr<T>(transposed[k]));
            long last = plan.Geometry.Steps * state;
            if (hN is not null) new ReadOnlySpan<T>(hiddens + last, (int)state).CopyTo(new Span<T>(CpuBackend.Ptr<T>(hN) + k * state, (int)state));
            if (cN is not null) new ReadOnlySpan<T>(cells + last, (int)state).CopyTo(new Span<T>(CpuBackend.Ptr<T>(cN) + k * state, (int)state));
        });
        foreach (var t in transposed) t.Dispose();
    }

    /// <summary>The number of token rows: every dimension but the last.</summary>
    private static long Rows(Tensor t) => Layout.Count(t.Layout.Shape.AsSpan(0, t.Rank - 1));

    private static void InitialState<T>(Tensor? source, long offset, T* slot, long count) where T : unmanaged
    {
        var target = new Span<T>(slot, checked((int)count));
        if (source is null) target.Clear();
        else new ReadOnlySpan<T>(CpuBackend.Ptr<T>(source) + offset, (int)count).CopyTo(target);
    }

    /// <summary>
    /// Backward. <paramref name="gradOutput"/> is (rows, Q) contiguous; gradHN/gradCN (directions, N, D)
    /// contiguous or null (zero). The trace is only read.
    /// </summary>
    public static LstmGradients Backward(LstmTrace trace, DirectionPlan[] plans, Tensor gradOutput, Tensor? gradHN, Tensor? gradCN,
        bool needInput, bool needInitialState)
    {
        var dtype = trace.Input.DType;
        int rows = checked((int)Rows(trace.Input)), inputSize = trace.Input.Layout.Shape[^1], width = plans.Sum(p => 4 * p.Hidden);
        using var dProjection = Tensor.Empty([rows, width], dtype);
        var dWeightHh = plans.Select(p => Tensor.Empty([4 * p.Hidden, p.Hidden], dtype)).ToArray();
        // Per direction: the gradient of the hidden and of the cell state, carried backward through time.
        var dh = plans.Select(p => Tensor.Empty([p.Geometry.Sequences, p.Hidden], dtype)).ToArray();
        var dc = plans.Select(p => Tensor.Empty([p.Geometry.Sequences, p.Hidden], dtype)).ToArray();
        Tensor? dx = needInput ? Tensor.Empty(trace.Input.Shape, dtype) : null;
        var dWeightIh = Tensor.Empty([width, inputSize], dtype);
        var sums = new double[width];
        if (dtype == DType.F32) Backward<float>(trace, plans, gradOutput, gradHN, gradCN, dProjection, dWeightHh, dh, dc, dx, dWeightIh, sums);
        else Backward<double>(trace, plans, gradOutput, gradHN, gradCN, dProjection, dWeightHh, dh, dc, dx, dWeightIh, sums);
        var perDirection = plans.Select(p => dWeightIh.Narrow(0, p.ProjectionColumn, 4 * p.Hidden).Contiguous()).ToArray();
        dWeightIh.Dispose();
        var bias = plans.Select(p => sums.AsSpan(p.ProjectionColumn, 4 * p.Hidden).ToArray()).ToArray();
        // Initial states exist only where every direction has the same (N, D): the 1-D LSTM, (directions, N, D).
        Tensor? dh0 = needInitialState ? Tensor.Stack(dh, 0) : null, dc0 = needInitialState ? Tensor.Stack(dc, 0) : null;
        foreach (var t in dh.Concat(dc)) t.Dispose();
        return new LstmGradients(dx, perDirection, dWeightHh, bias, dh0, dc0);
    }

    private static void Backward<T>(LstmTrace trace, DirectionPlan[] plans, Tensor gradOutput, Tensor? gradHN, Tensor? gradCN,
        Tensor dProjection, Tensor[] dWeightHh, Tensor[] dh, Tensor[] dc, Tensor? dx, Tensor dWeightIh, double[] sums)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = dProjection.Layout.Shape[0], width = dProjection.Layout.Shape[1];
        int inputSize = trace.Input.Layout.Shape[^1], outWidth = gradOutput.Layout.Shape[^1];
        T* g = CpuBackend.Ptr<T>(gradOutput), dp = CpuBackend.Ptr<T>(dProjection);
        CpuParallel.ForEachTask(plans.Length, k =>
        {
            var plan = plans[k];
            long state = (long)plan.Geometry.Sequences * plan.Hidden;
            T* h = CpuBackend.Ptr<T>(dh[k]), c = CpuBackend.Ptr<T>(dc[k]);
            InitialState(gradHN, k * state, h, state);
            InitialState(gradCN, k * state, c, state);
            using var dz = Tensor.Empty(trace.Gates[k].Layout.Shape, trace.Gates[k].DType);
            var run = new LstmDirectionRun<T>(plan, width, outWidth, CpuBackend.Ptr<T>(trace.WeightHh[k]), CpuBackend.Ptr<T>(trace.Gates[k]),
                CpuBackend.Ptr<T>(trace.Cells[k]), CpuBackend.Ptr<T>(trace.TanhC[k]), CpuBackend.Ptr<T>(trace.Hiddens[k]));
            run.Backward(g, dp, h, c, CpuBackend.Ptr<T>(dz), CpuBackend.Ptr<T>(dWeightHh[k]));
            run.BiasGradient(CpuBackend.Ptr<T>(dz), sums.AsSpan(plan.ProjectionColumn, 4 * plan.Hidden));
        });
        T* w = CpuBackend.Ptr<T>(trace.WeightIh), x = CpuBackend.Ptr<T>(trace.Input);
        // dx = dP · W_ih (rows, P)·(P, C); dW_ih = dPᵀ · x (P, rows)·(rows, C). The biases' sums came from the tasks.
        if (dx is not null) LstmDirectionRun<T>.Gemm(rows, inputSize, width, dp, width, 1, w, inputSize, 1, false, CpuBackend.Ptr<T>(dx), inputSize);
        LstmDirectionRun<T>.Gemm(width, inputSize, rows, dp, 1, width, x, inputSize, 1, false, CpuBackend.Ptr<T>(dWeightIh), inputSize);
    }
}
