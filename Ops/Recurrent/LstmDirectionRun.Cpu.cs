using System.Numerics;
using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The recurrence of one direction over all its sequences at once: per step one fused kernel over the N rows
/// (gather the row's input projection, add its recurrent product h·Uᵀ, gates, cell and hidden update); backward
/// through time the mirror image (gate gradients, then dh = dz·U for the previous step, per row), then one GEMM
/// for the recurrent weight's gradient over all steps. The per-step products (N, D)·(D, 4D) have k = D as small
/// as 8: a row kernel with the 4D outputs in registers beats a packed GEMM there by several times. Everything lives in buffers allocated before the loop; the row delegates are made
/// once, so a step allocates nothing.
/// </summary>
/// <remarks>
/// Buffers, with S steps and N sequences: gates (S, N, 4D) (the activations; the backward writes dz to a
/// buffer of the same shape and leaves them intact), cells and hiddens (S+1, N, D) with the initial state in slot 0 and the state after processed
/// step s in slot s+1, tanhC (S, N, D). "Processed step" s is time t = s forward and t = S-1-s in reverse.
/// </remarks>
internal sealed unsafe class LstmDirectionRun<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DirectionPlan _plan;
    private readonly int _n, _d, _steps;
    private readonly T* _weightHh, _gates, _cells, _tanhC, _hiddens;
    private T* _weightHhT;
    private readonly long _projectionStride, _outputStride;
    private T* _projection, _output, _dh, _carry, _dz;
    private int _step;

    /// <param name="plan">The direction.</param>
    /// <param name="projectionStride">Elements between token rows of the input projection (and of its gradient).</param>
    /// <param name="outputStride">Elements between token rows of the output (and of its gradient).</param>
    /// <param name="weightHh">U, (4D, D) row-major.</param>
    /// <param name="gates">(S, N, 4D).</param>
    /// <param name="cells">(S+1, N, D), slot 0 holding c0.</param>
    /// <param name="tanhC">(S, N, D).</param>
    /// <param name="hiddens">(S+1, N, D), slot 0 holding h0.</param>
    public LstmDirectionRun(DirectionPlan plan, long projectionStride, long outputStride,
        T* weightHh, T* gates, T* cells, T* tanhC, T* hiddens)
    {
        _plan = plan;
        _n = plan.Geometry.Sequences; _d = plan.Hidden; _steps = plan.Geometry.Steps;
        _projectionStride = projectionStride; _outputStride = outputStride;
        _weightHh = weightHh; _gates = gates; _cells = cells; _tanhC = tanhC; _hiddens = hiddens;
    }

    private int Time(int step) => _plan.Reverse ? _steps - 1 - step : step;

    private long StateOffset(int slot) => (long)slot * _n * _d;

    /// <summary>
    /// Runs every step, reading the input projections (both biases included) and writing h into the output's
    /// D columns; the final state is left in slot S of cells and hiddens.
    /// </summary>
    /// <param name="projection">The input projections.</param>
    /// <param name="output">The output rows.</param>
    /// <param name="weightHhT">Uᵀ, (D, 4D) row-major, for the per-row recurrent products.</param>
    public void Forward(T* projection, T* output, T* weightHhT)
    {
        _projection = projection; _output = output; _weightHhT = weightHhT;
        Action<long, long> rows = ForwardRows;
        for (_step = 0; _step < _steps; _step++) CpuParallel.For(_n, 48.0 * _d * _d, rows);
    }

    private void ForwardRows(long start, long end)
    {
        int d = _d, t = Time(_step);
        long prev = StateOffset(_step), next = StateOffset(_step + 1), here = (long)_step * _n * d;
        var rows = new SequenceGeometry.Cursor(_plan.Geometry, start, t);
        for (long n = start; n < end; n++, rows.Next())
        {
            long row = rows.Row;
            LstmCell<T>.Forward(_gates + (here + n * d) * 4, _projection + row * _projectionStride + _plan.ProjectionColumn,
                _hiddens + prev + n * d, _weightHhT, d,
                _cells + prev + n * d, _cells + next + n * d, _tanhC + here + n * d, _hiddens + next + n * d,
                _output + row * _outputStride + _plan.OutputColumn);
        }
    }

    /// <summary>
    /// Backward through time. <paramref name="dh"/> (N, D) enters as the gradient of the final hidden state
    /// and leaves as that of h0; <paramref name="carry"/> likewise for the cell state. dz of every token goes
    /// to <paramref name="dz"/> (S, N, 4D) and to <paramref name="dProjection"/> (rows as the projection's);
    /// dU is written to <paramref name="dWeightHh"/> (4D, D).
    /// </summary>
    public void Backward(T* gradOutput, T* dProjection, T* dh, T* carry, T* dz, T* dWeightHh)
    {
        _output = gradOutput; _projection = dProjection; _dh = dh; _carry = carry; _dz = dz;
        Action<long, long> rows = BackwardRows;
        int d4 = 4 * _d;
        for (_step = _steps - 1; _step >= 0; _step--) CpuParallel.For(_n, 40.0 * _d * _d, rows);
        // dU = Σ_s dz_sᵀ · h_s over all steps at once: (4D, S·N)·(S·N, D).
        Gemm(d4, _d, checked(_steps * _n), dz, 1, d4, _hiddens, _d, 1, false, dWeightHh, _d);
    }

    /// <summary>
    /// Column sums of dz over every step and sequence, in double and in a fixed order: the gradient of both
    /// biases. Done here, inside the direction's task, so the directions' sums run concurrently.
    /// </summary>
    public void BiasGradient(T* dz, Span<double> sums)
    {
        int d4 = 4 * _d;
        long rows = (long)_steps * _n;
        sums.Clear();
        fixed (double* acc = sums)
        {
            for (long r = 0; r < rows; r++)
            {
                T* row = dz + r * d4;
                int j = 0;
                if (Vector256.IsHardwareAccelerated && typeof(T) == typeof(float))
                    for (; j + 8 <= d4; j += 8)
                    {
                        var (low, high) = Vector256.Widen(Vector256.Load((float*)row + j));
                        Vector256.Store(Vector256.Load(acc + j) + low, acc + j);
                        Vector256.Store(Vector256.Load(acc + j + 4) + high, acc + j + 4);
                    }
                else if (Vector256.IsHardwareAccelerated)
                    for (; j + 4 <= d4; j += 4)
                        Vector256.Store(Vector256.Load(acc + j) + Vector256.Load((double*)row + j), acc + j);
                for (; j < d4; j++) acc[j] += double.CreateTruncating(row[j]);
            }
        }
    }

    private void BackwardRows(long start, long end)
    {
        int d = _d, t = Time(_step);
        long prev = StateOffset(_step), here = (long)_step * _n * d;
        var rows = new SequenceGeometry.Cursor(_plan.Geometry, start, t);
        for (long n = start; n < end; n++, rows.Next())
        {
            long row = rows.Row;
            LstmCell<T>.Backward(_gates + (here + n * d) * 4, _dh + n * d, _output + row * _outputStride + _plan.OutputColumn,
                _tanhC + here + n * d, _cells + prev + n * d, _carry + n * d, d, _dz + (here + n * d) * 4,
                _projection + row * _projectionStride + _plan.ProjectionColumn, _weightHh);
        }
    }

    /// <summary>C = A·B (beta 0) or C += A·B, in T.</summary>
    internal static void Gemm(int m, int n, int k, T* a, long aRow, long aCol, T* b, long bRow, long bCol, bool accumulate, T* c, long cRow)
    {
        if (typeof(T) == typeof(float))
            CpuGemm.Gemm(m, n, k, 1f, (float*)a, aRow, aCol, (float*)b, bRow, bCol, accumulate ? 1f : 0f, (float*)c, cRow);
        else
            CpuGemm.Gemm(m, n, k, 1.0, (double*)a, aRow, aCol, (double*)b, bRow, bCol, accumulate ? 1.0 : 0.0, (double*)c, cRow);
    }
}
