using System.Diagnostics;
using Engine.Autograd;
using Engine.Randomness;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// A multi-layer LSTM with PyTorch's semantics (<c>nn.LSTM</c> / <c>torch.lstm</c>): gates in the order
    /// i, f, g, o; z = W_ih x + b_ih + W_hh h + b_hh; c' = f c + i g; h' = o tanh(c'). Each layer is one
    /// fused tape node (see docs/ops-notes/lstm.md): one GEMM for the input projections of every step and
    /// direction, per step one fused kernel (the recurrent product, the gates and the cell update), and a
    /// hand-written backward through time. On the CPU the directions run concurrently; on CUDA one launch per
    /// step serves every direction. Runs on the CPU and on CUDA (<c>LstmEngine.*</c>).
    /// </summary>
    /// <param name="input">(T, N, C), or (N, T, C) with <paramref name="batchFirst"/>, or unbatched (T, C).</param>
    /// <param name="weights">PyTorch's flat weights: per layer, per direction (forward, then reverse): weight_ih (4D, C or dirs·D),
    /// weight_hh (4D, D), and bias_ih (4D), bias_hh (4D) when <paramref name="hasBiases"/>.</param>
    /// <param name="numLayers">Number of stacked layers.</param>
    /// <param name="bidirectional">Whether each layer also runs from the last step to the first.</param>
    /// <param name="batchFirst">Whether the input and output are (N, T, ·).</param>
    /// <param name="h0">Initial hidden state (numLayers·dirs, N, D) (or (numLayers·dirs, D) unbatched); zeros when null.</param>
    /// <param name="c0">Initial cell state, same shape; zeros when null.</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last, in training.</param>
    /// <param name="training">Whether <paramref name="dropout"/> applies.</param>
    /// <param name="generator">Random numbers for the dropout.</param>
    /// <param name="hasBiases">Whether <paramref name="weights"/> include the two bias vectors of every direction.</param>
    /// <returns>The last layer's outputs (·, ·, dirs·D) with [forward, reverse] halves, and the final states (numLayers·dirs, N, D).</returns>
    public static (Tensor Output, Tensor HN, Tensor CN) Lstm(Tensor input, IReadOnlyList<Tensor> weights, int numLayers = 1,
        bool bidirectional = false, bool batchFirst = false, Tensor? h0 = null, Tensor? c0 = null,
        double dropout = 0.0, bool training = false, Generator? generator = null, bool hasBiases = true)
    {
        const string op = "lstm";
        CheckFloatInput(op, input);
        ArgumentNullException.ThrowIfNull(weights);
        CheckCompanion(op, "h0", h0, input);
        CheckCompanion(op, "c0", c0, input);
        if (input.Rank is not (2 or 3))
            throw new ArgumentException($"{op}: Expected input to be 2D or 3D, got {input.Rank}D instead (input of shape {Shp(input)}).");
        if (numLayers < 1) throw new ArgumentException($"{op}: num_layers must be at least 1, got {numLayers}.");
        if (dropout < 0 || dropout > 1) throw new ArgumentException($"{op}: dropout should be a number in range [0, 1], got {dropout}.");
        int dirs = bidirectional ? 2 : 1;
        var layers = LstmArgs.Layers(op, weights, numLayers, dirs, hasBiases, input);
        int hidden = layers[0][0].WeightHh.Layout.Shape[1];
        bool unbatched = input.Rank == 2;
        int batch = unbatched ? 1 : input.Layout.Shape[batchFirst ? 0 : 1];
        int[] stateShape = unbatched ? [numLayers * dirs, hidden] : [numLayers * dirs, batch, hidden];
        LstmArgs.State(op, "hidden[0]", h0, stateShape);
        LstmArgs.State(op, "hidden[1]", c0, stateShape);

        if (unbatched)
        {
            using var batched = input.Unsqueeze(batchFirst ? 0 : 1);
            using var h = h0?.Unsqueeze(1);
            using var c = c0?.Unsqueeze(1);
            var (o, hn, cn) = Lstm(batched, weights, numLayers, bidirectional, batchFirst, h, c, dropout, training, generator, hasBiases);
            using (o) using (hn) using (cn)
                return (o.Squeeze(batchFirst ? 0 : 1), hn.Squeeze(1), cn.Squeeze(1));
        }
        if (numLayers == 1) return LstmLayer(op, input, batchFirst, layers[0], h0, c0);

        var x = input;
        var hs = new List<Tensor>(); var cs = new List<Tensor>();
        for (int l = 0; l < numLayers; l++)
        {
            using var h = h0?.Narrow(0, l * dirs, dirs);
            using var c = c0?.Narrow(0, l * dirs, dirs);
            var (y, hn, cn) = LstmLayer(op, x, batchFirst, layers[l], h, c);
            hs.Add(hn); cs.Add(cn);
            if (l > 0) x.Dispose();
            x = dropout > 0 && training && l < numLayers - 1 ? DropoutReplacing(y, dropout, generator) : y;
        }
        var hN = Tensor.Cat(hs, 0); var cN = Tensor.Cat(cs, 0);
        foreach (var t in hs.Concat(cs)) t.Dispose();
        return (x, hN, cN);
    }

    private static Tensor DropoutReplacing(Tensor y, double p, Generator? generator)
    {
        using (y) return Dropout(y, p, true, generator);
    }

    /// <summary>One layer, all its directions, as one fused tape node with outputs (output, hN, cN).</summary>
    private static (Tensor Output, Tensor HN, Tensor CN) LstmLayer(string op, Tensor input, bool batchFirst, DirectionWeights[] weights, Tensor? h0, Tensor? c0)
    {
        long t0 = Stopwatch.GetTimestamp();
        var shape = input.Layout.Shape;
        int n = shape[batchFirst ? 0 : 1], steps = shape[batchFirst ? 1 : 0], hidden = weights[0].WeightHh.Layout.Shape[1];
        var geometry = batchFirst ? new SequenceGeometry(n, 1, steps, steps, 0, 1) : new SequenceGeometry(n, 1, steps, 1, 0, n);
        var plans = weights.Select((_, k) => new DirectionPlan(hidden, geometry, k == 1, k * 4 * hidden, k * hidden)).ToArray();
        var output = Tensor.Empty([shape[0], shape[1], weights.Length * hidden], input.DType, input.Device);
        var hN = Tensor.Empty([weights.Length, n, hidden], input.DType, input.Device);
        var cN = Tensor.Empty([weights.Length, n, hidden], input.DType, input.Device);
        var x = input.ContiguousHandle();
        LstmTrace trace;
        using (var h = h0?.ContiguousHandle())
        using (var c = c0?.ContiguousHandle())
            trace = LstmEngine.Forward(x, plans, weights, output, h, c, hN, cN);

        Tensor?[] inputs = [input, h0, c0, .. weights.SelectMany(w => w.Flat)];
        if (!Tape.ShouldRecord(inputs)) { foreach (var t in trace.All) t.Dispose(); return (output, hN, cN); }
        bool needState = h0 is { RequiresGrad: true } || c0 is { RequiresGrad: true };
        RecordLstm(op, inputs, [output, hN, cN], trace, plans, weights, needState, t0, g => (g[0], g[1], g[2]),
            grads => [grads.Input, h0 is { RequiresGrad: true } ? grads.H0 : null, c0 is { RequiresGrad: true } ? grads.C0 : null]);
        return (output, hN, cN);
    }

    /// <summary>
    /// Saves the trace and records the fused node. <paramref name="outputGradients"/> picks the gradients of
    /// (output, hN, cN) from the node's output gradients; <paramref name="leading"/> maps the engine's
    /// gradients to those of the inputs before the weights.
    /// </summary>
    private static void RecordLstm(string op, Tensor?[] inputs, Tensor[] outputs, LstmTrace trace, DirectionPlan[] plans,
        DirectionWeights[] weights, bool needState, long t0, Func<Tensor[], (Tensor Output, Tensor? HN, Tensor? CN)> outputGradients,
        Func<LstmGradients, Tensor?[]> leading)
    {
        var saved = trace.All.Select(Tape.Save).ToArray();
        foreach (var t in trace.All) t.Dispose();
        bool needInput = inputs[0]!.RequiresGrad;
        var groups = trace.Groups;
        Tape.Record(op, inputs, outputs, g =>
        {
            var (go, gh, gc) = outputGradients(g);
            using var gOut = go.ContiguousHandle();
            using var gH = gh?.ContiguousHandle();
            using var gC = gc?.ContiguousHandle();
            var grads = LstmEngine.Backward(LstmTrace.From(saved.Select(s => s.Value).ToArray(), plans.Length, groups), plans, gOut, gH, gC, needInput, needState);
            var result = new List<Tensor?>(leading(grads));
            for (int k = 0; k < weights.Length; k++)
            {
                result.Add(grads.WeightIh[k]);
                result.Add(grads.WeightHh[k]);
                // b_ih and b_hh have the same gradient, each its own tensor.
                if (weights[k].BiasIh is not null) { result.Add(grads.Bias[k]); result.Add(grads.Bias[k].Clone()); }
                else grads.Bias[k].Dispose();
            }
            if (!needState) { grads.H0?.Dispose(); grads.C0?.Dispose(); }
            return [.. result];
        }, saved, t0);
    }
}
