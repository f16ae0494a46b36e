using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

/// <summary>
/// What the backward of a fused LSTM node needs from its forward: the input rows, the stacked input weights, each
/// direction's recurrent weight, and each group's buffers (see <see cref="DirectionGroup"/>), all of shape
/// (K, slots, N, width): gates (K, S, N, 4D) after activation, cells and hiddens (K, S+1, N, D) with the initial
/// state in slot 0, tanh(c) (K, S, N, D).
/// </summary>
internal sealed class LstmTrace(Tensor input, Tensor weightIh, Tensor[] weightHh, DirectionGroup[] groups,
    Tensor[] gates, Tensor[] cells, Tensor[] tanhC, Tensor[] hiddens)
{
    public Tensor Input { get; } = input;
    public Tensor WeightIh { get; } = weightIh;
    /// <summary>Per direction, U (4D, D) contiguous.</summary>
    public Tensor[] WeightHh { get; } = weightHh;
    public DirectionGroup[] Groups { get; } = groups;
    /// <summary>Per group.</summary>
    public Tensor[] Gates { get; } = gates;
    /// <summary>Per group.</summary>
    public Tensor[] Cells { get; } = cells;
    /// <summary>Per group.</summary>
    public Tensor[] TanhC { get; } = tanhC;
    /// <summary>Per group.</summary>
    public Tensor[] Hiddens { get; } = hiddens;

    /// <summary>Every tensor, in a fixed order (for saving on the tape and for disposing).</summary>
    public Tensor[] All => [Input, WeightIh, .. WeightHh, .. Gates, .. Cells, .. TanhC, .. Hiddens];

    /// <summary>The group of direction <paramref name="direction"/> and its slot (index) within the group.</summary>
    public (int Group, int Slot) Locate(int direction)
    {
        for (int g = 0; g < Groups.Length; g++)
            if (direction < Groups[g].First + Groups[g].Count) return (g, direction - Groups[g].First);
        throw new ArgumentOutOfRangeException(nameof(direction));
    }

    /// <summary>Rebuilds a trace from <see cref="All"/>'s order.</summary>
    public static LstmTrace From(Tensor[] all, int directions, DirectionGroup[] groups)
    {
        int g = groups.Length;
        Tensor[] Take(int k) => all[(2 + directions + k * g)..(2 + directions + (k + 1) * g)];
        return new LstmTrace(all[0], all[1], all[2..(2 + directions)], groups, Take(0), Take(1), Take(2), Take(3));
    }
}

/// <summary>
/// The gradients of a fused LSTM node, as tensors on the input's device: per direction dW_ih (4D, C), dW_hh (4D, D)
/// and the bias gradient (4D) (the same for b_ih and b_hh); the initial states' gradients (directions, N, D) when
/// asked for.
/// </summary>
internal sealed record LstmGradients(Tensor? Input, Tensor[] WeightIh, Tensor[] WeightHh, Tensor[] Bias, Tensor? H0, Tensor? C0);

/// <summary>
/// Runs a set of LSTM directions that read the same token rows (docs/ops-notes/lstm.md): the input projection of
/// every direction as one GEMM with both biases folded in, then the recurrences, each direction writing its D output
/// columns. The backward mirrors it: backward through time per direction, then one GEMM each for the input gradient
/// and the stacked input-weight gradient, and a column sum for the biases. This file allocates every buffer on the
/// input's device and dispatches; the kernels are in <c>LstmEngine.Cpu.cs</c> (with <c>LstmDirectionRun.Cpu.cs</c>
/// and <c>LstmCell.Cpu.cs</c>) and <c>LstmEngine.Cuda.cs</c> with <c>LstmEngine.cu</c>.
/// </summary>
internal static class LstmEngine
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
        var device = x.Device;
        int rows = checked((int)Rows(x)), width = plans.Sum(p => 4 * p.Hidden);
        var groups = DirectionGroup.Of(plans);
        var weightIh = Tensor.Cat(weights.Select(w => w.WeightIh).ToArray(), 0);
        var weightHh = weights.Select(w => w.WeightHh.ContiguousHandle()).ToArray();
        Tensor Buffer(DirectionGroup g, int extraSlot, int columns)
        {
            var geometry = plans[g.First].Geometry;
            return Tensor.Empty([g.Count, geometry.Steps + extraSlot, geometry.Sequences, columns], dtype, device);
        }
        var gates = groups.Select(g => Buffer(g, 0, 4 * plans[g.First].Hidden)).ToArray();
        var cells = groups.Select(g => Buffer(g, 1, plans[g.First].Hidden)).ToArray();
        var tanhC = groups.Select(g => Buffer(g, 0, plans[g.First].Hidden)).ToArray();
        var hiddens = groups.Select(g => Buffer(g, 1, plans[g.First].Hidden)).ToArray();
        var trace = new LstmTrace(x, weightIh, weightHh, groups, gates, cells, tanhC, hiddens);

        using var projection = Tensor.Empty([rows, width], dtype, device);
        using var bias = ProjectionBias(weights, plans, dtype, device);
        switch (device.Type)
        {
            case DeviceType.Cpu: LstmCpu.Forward(trace, plans, bias, projection, output, h0, c0, hN, cN); break;
            case DeviceType.Cuda: LstmCuda.Forward(trace, plans, bias, projection, output, h0, c0, hN, cN); break;
            default: throw Kernel.Missing("lstm", x);
        }
        return trace;
    }

    /// <summary>b_ih + b_hh of every direction, side by side as the projection's columns (zeros where there are none).</summary>
    private static Tensor ProjectionBias(DirectionWeights[] weights, DirectionPlan[] plans, DType dtype, Device device)
    {
        var parts = weights.Select((w, k) => w.BiasIh is null ? Tensor.Zeros([4 * plans[k].Hidden], dtype, device) : w.BiasIh + w.BiasHh!).ToArray();
        try { return Tensor.Cat(parts, 0); }
        finally { foreach (var t in parts) t.Dispose(); }
    }

    /// <summary>The number of token rows: every dimension but the last.</summary>
    private static long Rows(Tensor t) => Layout.Count(t.Layout.Shape.AsSpan(0, t.Rank - 1));

    /// <summary>
    /// Backward. <paramref name="gradOutput"/> is (rows, Q) contiguous; gradHN/gradCN (directions, N, D)
    /// contiguous or null (zero). The trace is only read.
    /// </summary>
    public static LstmGradients Backward(LstmTrace trace, DirectionPlan[] plans, Tensor gradOutput, Tensor? gradHN, Tensor? gradCN,
        bool needInput, bool needInitialState)
    {
        using var noGrad = Tape.NoGrad();
        var dtype = trace.Input.DType;
        var device = trace.Input.Device;
        int rows = checked((int)Rows(trace.Input)), inputSize = trace.Input.Layout.Shape[^1], width = plans.Sum(p => 4 * p.Hidden);
        using var dProjection = Tensor.Empty([rows, width], dtype, device);
        var dWeightHh = plans.Select(p => Tensor.Empty([4 * p.Hidden, p.Hidden], dtype, device)).ToArray();
        // Per group: the gradient of the hidden and of the cell state, carried backward through time; they end as those of h0 and c0.
        var dh = trace.Groups.Select(g => Tensor.Empty([g.Count, plans[g.First].Geometry.Sequences, plans[g.First].Hidden], dtype, device)).ToArray();
        var dc = trace.Groups.Select(g => Tensor.Empty([g.Count, plans[g.First].Geometry.Sequences, plans[g.First].Hidden], dtype, device)).ToArray();
        Tensor? dx = needInput ? Tensor.Empty(trace.Input.Shape, dtype, device) : null;
        using var dWeightIh = Tensor.Empty([width, inputSize], dtype, device);
        using var dBias = Tensor.Empty([width], dtype, device);
        switch (device.Type)
        {
            case DeviceType.Cpu: LstmCpu.Backward(trace, plans, gradOutput, gradHN, gradCN, dProjection, dWeightHh, dh, dc, dx, dWeightIh, dBias); break;
            case DeviceType.Cuda: LstmCuda.Backward(trace, plans, gradOutput, gradHN, gradCN, dProjection, dWeightHh, dh, dc, dx, dWeightIh, dBias, needInitialState); break;
            default: throw Kernel.Missing("lstm_backward", trace.Input);
        }
        var perDirection = plans.Select(p => Columns(dWeightIh, p)).ToArray();
        var bias = plans.Select(p => Columns(dBias, p)).ToArray();
        // Initial states exist only where every direction has the same (N, D): the 1-D LSTM, one group, (directions, N, D).
        Tensor? dh0 = null, dc0 = null;
        if (needInitialState)
        {
            dh0 = dh.Length == 1 ? dh[0] : Tensor.Cat(dh, 0);
            dc0 = dc.Length == 1 ? dc[0] : Tensor.Cat(dc, 0);
        }
        foreach (var t in dh.Concat(dc))
            if (!ReferenceEquals(t, dh0) && !ReferenceEquals(t, dc0)) t.Dispose();
        return new LstmGradients(dx, perDirection, dWeightHh, bias, dh0, dc0);
    }

    /// <summary>A direction's 4D rows of a stacked (width, ...) gradient, as a tensor of its own.</summary>
    private static Tensor Columns(Tensor stacked, DirectionPlan plan)
    {
        using var rows = stacked.Narrow(0, plan.ProjectionColumn, 4 * plan.Hidden);
        return rows.Clone();
    }
}
