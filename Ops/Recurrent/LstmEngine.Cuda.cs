using Engine.Autograd;
using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// The LSTM engine on CUDA (<c>LstmEngine.cu</c>, docs/ops-notes/lstm.md): the input projection and every
/// sequence-wide gradient as one cuBLAS GEMM each through the backend; the recurrence as one fused launch per step
/// for all directions of a group (the recurrent product, the gates and the cell update; backward, the recurrent
/// product of the step before, the gate gradients and the cell gradient), queued on the device's stream with no
/// host synchronisation; dW_hh as one GEMM per direction over all steps from the saved gate gradients; the bias
/// gradient as the backend's column sum of the projection's gradient. No atomics: every sum has a fixed order.
/// </summary>
internal static class LstmCuda
{
    private const string Unit = "Recurrent/LstmEngine.cu";

    // The kernels map a block of 256 threads to 8 sequences (one warp each) by 32 hidden units (one lane each).
    private const uint Block = 256;
    private const int TileSequences = 8, TileUnits = 32;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(LstmCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>One block per tile of a group, tiles grid-strided beyond the grid's cap: the shape alone decides.</summary>
    private static LaunchConfig Tiles(DirectionGroup group, DirectionPlan head)
    {
        long tiles = (long)group.Count * ((head.Geometry.Sequences + TileSequences - 1) / TileSequences) * ((head.Hidden + TileUnits - 1) / TileUnits);
        return new LaunchConfig((uint)Math.Clamp(tiles, 1, LaunchConfig.DefaultMaxGrid), Block);
    }

    /// <summary>See <see cref="LstmEngine.Forward"/>; <paramref name="projection"/> (rows, width) is scratch.</summary>
    public static void Forward(LstmTrace trace, DirectionPlan[] plans, Tensor bias, Tensor projection, Tensor output,
        Tensor? h0, Tensor? c0, Tensor? hN, Tensor? cN)
    {
        var backend = projection.Backend;
        int rows = projection.Layout.Shape[0], width = projection.Layout.Shape[1];
        // projection = bias rows + x · W_ihᵀ for all directions at once.
        using (var biasRow = bias.Unsqueeze(0))
        using (var biasRows = biasRow.Expand(rows, width))
            backend.Copy(biasRows, projection);
        using (var x = Matrix(trace.Input))
        using (var weightIhT = trace.WeightIh.Transpose(0, 1))
            backend.Gemm(x, weightIhT, projection, 1, 1);
        // One argument buffer for every launch: each list is built afresh over it and copied by the driver at launch.
        Span<byte> buffer = stackalloc byte[KernelArgs.Bytes];
        for (int gi = 0; gi < trace.Groups.Length; gi++)
        {
            var group = trace.Groups[gi];
            var head = plans[group.First];
            int steps = head.Geometry.Steps;
            SetState(trace.Hiddens[gi], 0, h0, group);
            SetState(trace.Cells[gi], 0, c0, group);
            using var weightHhT = StackedWeights(trace, group, transposed: true);
            var kernel = Kernel(projection, "lstm_forward_step");
            for (int step = 0; step < steps; step++)
            {
                var args = new KernelArgs(buffer);
                args.Add(projection); args.Add(width); args.Add(head.ProjectionColumn); args.Add(weightHhT);
                args.Add(trace.Gates[gi]); args.Add(trace.Cells[gi]); args.Add(trace.TanhC[gi]); args.Add(trace.Hiddens[gi]);
                args.Add(output); args.Add(output.Layout.Shape[^1]); args.Add(head.OutputColumn);
                AddGroup(ref args, plans, group, step);
                kernel.Launch(Tiles(group, head), args);
            }
            CopyState(trace.Hiddens[gi], steps, hN, group);
            CopyState(trace.Cells[gi], steps, cN, group);
        }
    }

    /// <summary>
    /// See <see cref="LstmEngine.Backward"/>: fills dProjection (rows, width), dWeightHh per direction, the groups'
    /// dc and (when <paramref name="needInitialState"/>) dh, dx, dWeightIh (width, C) and dBias (width).
    /// </summary>
    public static void Backward(LstmTrace trace, DirectionPlan[] plans, Tensor gradOutput, Tensor? gradHN, Tensor? gradCN,
        Tensor dProjection, Tensor[] dWeightHh, Tensor[] dh, Tensor[] dc, Tensor? dx, Tensor dWeightIh, Tensor dBias, bool needInitialState)
    {
        var backend = dProjection.Backend;
        int width = dProjection.Layout.Shape[1];
        Span<byte> buffer = stackalloc byte[KernelArgs.Bytes];
        for (int gi = 0; gi < trace.Groups.Length; gi++)
        {
            var group = trace.Groups[gi];
            var head = plans[group.First];
            int steps = head.Geometry.Steps;
            // dc enters as the gradient of the final cell state and is carried down to that of c0.
            SetState(dc[gi], null, gradCN, group);
            using var gradHNGroup = gradHN?.Narrow(0, group.First, group.Count);
            using var weightHh = StackedWeights(trace, group, transposed: false);
            using var dz = Tensor.Empty(trace.Gates[gi].Layout.Shape, dProjection.DType, dProjection.Device);
            var kernel = Kernel(dProjection, "lstm_backward_step");
            for (int step = steps - 1; step >= 0; step--)
            {
                var args = new KernelArgs(buffer);
                args.Add(gradOutput); args.Add(gradOutput.Layout.Shape[^1]); args.Add(head.OutputColumn);
                args.Add(dProjection); args.Add(width); args.Add(head.ProjectionColumn);
                args.Add(weightHh); args.Add(trace.Gates[gi]); args.Add(trace.Cells[gi]); args.Add(trace.TanhC[gi]);
                args.Add(dz); args.Add(dc[gi]); args.Add(gradHNGroup);
                AddGroup(ref args, plans, group, step);
                kernel.Launch(Tiles(group, head), args);
            }
            if (needInitialState)
            {
                var args = new KernelArgs(buffer);
                args.Add(weightHh); args.Add(dz); args.Add(dh[gi]);
                args.Add(group.Count); args.Add((long)head.Geometry.Sequences); args.Add(head.Hidden); args.Add(steps);
                Kernel(dProjection, "lstm_backward_initial").Launch(Tiles(group, head), args);
            }
            // dU = Σ_s dz_sᵀ · h_s over every step and sequence: (4D, S·N)·(S·N, D), with h_s the state before step s.
            int tokens = steps * head.Geometry.Sequences;
            for (int slot = 0; slot < group.Count; slot++)
            {
                using var dzDirection = dz.Select(0, slot);
                using var dzRows = dzDirection.Reshape(tokens, 4 * head.Hidden);
                using var dzT = dzRows.Transpose(0, 1);
                using var hiddens = trace.Hiddens[gi].Select(0, slot);
                using var before = hiddens.Narrow(0, 0, steps);
                using var beforeRows = before.Reshape(tokens, head.Hidden);
                backend.Gemm(dzT, beforeRows, dWeightHh[group.First + slot], 1, 0);
            }
        }
        // dx = dP · W_ih (rows, P)·(P, C); dW_ih = dPᵀ · x (P, rows)·(rows, C); db = the column sums of dP.
        using var x = Matrix(trace.Input);
        if (dx is not null)
            using (var dxRows = Matrix(dx))
                backend.Gemm(dProjection, trace.WeightIh, dxRows, 1, 0);
        using (var dpT = dProjection.Transpose(0, 1)) backend.Gemm(dpT, x, dWeightIh, 1, 0);
        using (var biasRow = dBias.Unsqueeze(0)) backend.Reduce(Backends.ReduceKind.Sum, dProjection, [0], biasRow);
    }

    /// <summary>A contiguous (*, C) tensor as the (rows, C) matrix it is.</summary>
    private static Tensor Matrix(Tensor t) => t.Reshape(checked((int)(t.NumEl / t.Layout.Shape[^1])), t.Layout.Shape[^1]);

    /// <summary>The group's part of the launch: its sizes, the step, which directions run in reverse, and its two geometries.</summary>
    private static void AddGroup(ref KernelArgs args, DirectionPlan[] plans, DirectionGroup group, int step)
    {
        var head = plans[group.First];
        int reverseMask = 0;
        for (int slot = 0; slot < group.Count; slot++)
            if (plans[group.First + slot].Reverse) reverseMask |= 1 << slot;
        args.Add(group.Count); args.Add((long)head.Geometry.Sequences); args.Add(head.Hidden); args.Add(head.Geometry.Steps);
        args.Add(step); args.Add(reverseMask); args.Add(group.Split);
        AddGeometry(ref args, head.Geometry);
        AddGeometry(ref args, plans[group.First + group.Count - 1].Geometry);
    }

    private static void AddGeometry(ref KernelArgs args, SequenceGeometry g)
    {
        args.Add((long)g.Inner); args.Add(g.OuterStride); args.Add(g.InnerStride); args.Add(g.StepStride);
    }

    /// <summary>The group's recurrent weights stacked, (K, 4D, D), or their transposes, (K, D, 4D).</summary>
    private static Tensor StackedWeights(LstmTrace trace, DirectionGroup group, bool transposed)
    {
        using var noGrad = Tape.NoGrad();
        var views = trace.WeightHh.Skip(group.First).Take(group.Count).Select(u => transposed ? u.Transpose(0, 1) : u).ToArray();
        try { return Tensor.Stack(views, 0); }
        finally { if (transposed) foreach (var v in views) v.Dispose(); }
    }

    /// <summary>Slot <paramref name="slot"/> of a group buffer (K, slots, N, D) (or the buffer itself, (K, N, D), for a null slot) ← the group's part of a (directions, N, D) state, or zeros.</summary>
    private static void SetState(Tensor buffer, int? slot, Tensor? state, DirectionGroup group)
    {
        using var target = slot is { } s ? buffer.Select(1, s) : buffer.Alias();
        if (state is null) { target.Backend.Fill(target, 0); return; }
        using var source = state.Narrow(0, group.First, group.Count);
        target.Backend.Copy(source, target);
    }

    /// <summary>The group's part of a (directions, N, D) state ← slot <paramref name="slot"/> of a group buffer (K, slots, N, D).</summary>
    private static void CopyState(Tensor buffer, int slot, Tensor? state, DirectionGroup group)
    {
        if (state is null) return;
        using var source = buffer.Select(1, slot);
        using var target = state.Narrow(0, group.First, group.Count);
        target.Backend.Copy(source, target);
    }
}
