using System.Numerics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The LSTM engine on the CPU: one GEMM (rows, C)·(C, ΣgateWidths) onto rows holding the biases gives every
/// direction's input projection; then the directions' recurrences run concurrently (one task each,
/// <see cref="LstmDirectionRun{T}"/>), each writing its D output columns. The backward mirrors it: the directions'
/// BPTT loops concurrently (each also summing its bias gradient in double), then one GEMM each for the input
/// gradient and the stacked input-weight gradient.
/// </summary>
internal static unsafe class LstmCpu
{
    /// <summary>See <see cref="LstmEngine.Forward"/>; <paramref name="projection"/> (rows, width) is scratch.</summary>
    public static void Forward(LstmTrace trace, DirectionPlan[] plans, Tensor bias, Tensor projection, Tensor output,
        Tensor? h0, Tensor? c0, Tensor? hN, Tensor? cN)
    {
        if (trace.Input.DType == DType.F32) Forward<float>(trace, plans, bias, projection, output, h0, c0, hN, cN);
        else Forward<double>(trace, plans, bias, projection, output, h0, c0, hN, cN);
    }

    private static void Forward<T>(LstmTrace trace, DirectionPlan[] plans, Tensor bias, Tensor projection, Tensor output,
        Tensor? h0, Tensor? c0, Tensor? hN, Tensor? cN) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = projection.Layout.Shape[0], width = projection.Layout.Shape[1], outWidth = output.Layout.Shape[^1];
        int inputSize = trace.Input.Layout.Shape[^1];
        T* p = CpuBackend.Ptr<T>(projection);
        FillRows(p, rows, width, CpuBackend.Ptr<T>(bias));
        // projection += x · W_ihᵀ for all directions at once.
        LstmDirectionRun<T>.Gemm(rows, width, inputSize, CpuBackend.Ptr<T>(trace.Input), inputSize, 1,
            CpuBackend.Ptr<T>(trace.WeightIh), 1, inputSize, true, p, width);
        T* o = CpuBackend.Ptr<T>(output);
        Tensor[] transposed;
        using (Tape.NoGrad()) transposed = trace.WeightHh.Select(u => u.Transpose(0, 1).Contiguous()).ToArray();
        CpuParallel.ForEachTask(plans.Length, k =>
        {
            var plan = plans[k];
            var (group, slot) = trace.Locate(k);
            long state = (long)plan.Geometry.Sequences * plan.Hidden, steps = plan.Geometry.Steps;
            T* cells = Direction<T>(trace.Cells[group], slot), hiddens = Direction<T>(trace.Hiddens[group], slot);
            InitialState(h0, k * state, hiddens, state);
            InitialState(c0, k * state, cells, state);
            new LstmDirectionRun<T>(plan, width, outWidth, CpuBackend.Ptr<T>(trace.WeightHh[k]), Direction<T>(trace.Gates[group], slot),
                cells, Direction<T>(trace.TanhC[group], slot), hiddens).Forward(p, o, CpuBackend.Ptr<T>(transposed[k]));
            long last = steps * state;
            if (hN is not null) new ReadOnlySpan<T>(hiddens + last, (int)state).CopyTo(new Span<T>(CpuBackend.Ptr<T>(hN) + k * state, (int)state));
            if (cN is not null) new ReadOnlySpan<T>(cells + last, (int)state).CopyTo(new Span<T>(CpuBackend.Ptr<T>(cN) + k * state, (int)state));
        });
        foreach (var t in transposed) t.Dispose();
    }

    /// <summary>Direction <paramref name="slot"/>'s part of a group buffer (K, slots, N, width): the slot-th of K equal blocks.</summary>
    private static T* Direction<T>(Tensor groupBuffer, int slot) where T : unmanaged =>
        CpuBackend.Ptr<T>(groupBuffer) + slot * (groupBuffer.NumEl / groupBuffer.Layout.Shape[0]);

    /// <summary>Every row of the (m, n) matrix <paramref name="c"/> set to <paramref name="bias"/>.</summary>
    private static void FillRows<T>(T* c, long m, int n, T* bias) where T : unmanaged
    {
        CpuParallel.For(m, n, (start, end) =>
        {
            var row = new ReadOnlySpan<T>(bias, n);
            for (long i = start; i < end; i++) row.CopyTo(new Span<T>(c + i * n, n));
        });
    }

    private static void InitialState<T>(Tensor? source, long offset, T* slot, long count) where T : unmanaged
    {
        var target = new Span<T>(slot, checked((int)count));
        if (source is null) target.Clear();
        else new ReadOnlySpan<T>(CpuBackend.Ptr<T>(source) + offset, (int)count).CopyTo(target);
    }

    /// <summary>
    /// See <see cref="LstmEngine.Backward"/>: fills dProjection (rows, width), dWeightHh per direction, the
    /// groups' dh and dc (the gradients of h0 and c0), dx, dWeightIh (width, C) and dBias (width).
    /// </summary>
    public static void Backward(LstmTrace trace, DirectionPlan[] plans, Tensor gradOutput, Tensor? gradHN, Tensor? gradCN,
        Tensor dProjection, Tensor[] dWeightHh, Tensor[] dh, Tensor[] dc, Tensor? dx, Tensor dWeightIh, Tensor dBias)
    {
        var sums = new double[dBias.Layout.Shape[0]];
        if (trace.Input.DType == DType.F32)
        {
            Backward<float>(trace, plans, gradOutput, gradHN, gradCN, dProjection, dWeightHh, dh, dc, dx, dWeightIh, sums);
            float* b = CpuBackend.Ptr<float>(dBias);
            for (int j = 0; j < sums.Length; j++) b[j] = (float)sums[j];
        }
        else
        {
            Backward<double>(trace, plans, gradOutput, gradHN, gradCN, dProjection, dWeightHh, dh, dc, dx, dWeightIh, sums);
            sums.CopyTo(new Span<double>(CpuBackend.Ptr<double>(dBias), sums.Length));
        }
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
            var (group, slot) = trace.Locate(k);
            long state = (long)plan.Geometry.Sequences * plan.Hidden;
            T* h = Direction<T>(dh[group], slot), c = Direction<T>(dc[group], slot);
            InitialState(gradHN, k * state, h, state);
            InitialState(gradCN, k * state, c, state);
            using var dz = Tensor.Empty([plan.Geometry.Steps, plan.Geometry.Sequences, 4 * plan.Hidden], trace.Input.DType, Device.Cpu);
            var run = new LstmDirectionRun<T>(plan, width, outWidth, CpuBackend.Ptr<T>(trace.WeightHh[k]), Direction<T>(trace.Gates[group], slot),
                Direction<T>(trace.Cells[group], slot), Direction<T>(trace.TanhC[group], slot), Direction<T>(trace.Hiddens[group], slot));
            run.Backward(g, dp, h, c, CpuBackend.Ptr<T>(dz), CpuBackend.Ptr<T>(dWeightHh[k]));
            run.BiasGradient(CpuBackend.Ptr<T>(dz), sums.AsSpan(plan.ProjectionColumn, 4 * plan.Hidden));
        });
        T* w = CpuBackend.Ptr<T>(trace.WeightIh), x = CpuBackend.Ptr<T>(trace.Input);
        // dx = dP · W_ih (rows, P)·(P, C); dW_ih = dPᵀ · x (P, rows)·(rows, C). The biases' sums came from the tasks.
        if (dx is not null) LstmDirectionRun<T>.Gemm(rows, inputSize, width, dp, width, 1, w, inputSize, 1, false, CpuBackend.Ptr<T>(dx), inputSize);
        LstmDirectionRun<T>.Gemm(width, inputSize, rows, dp, 1, width, x, inputSize, 1, false, CpuBackend.Ptr<T>(dWeightIh), inputSize);
    }
}
