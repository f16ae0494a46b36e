using System.Diagnostics;
using Engine.Autograd;
using static Engine.Ops.NormArgs;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// The two LSTMs of Sequencer's BiLSTM2D over a channels-last grid, as one fused tape node: the vertical
    /// LSTM scans each column (B·W sequences of H steps), the horizontal one each row (B·H sequences of W
    /// steps), both from zero state. One GEMM gives the input projections of all directions of both LSTMs;
    /// the directions run concurrently and write straight into their columns of the result, which is the
    /// concatenation [vertical forward, vertical reverse, horizontal forward, horizontal reverse].
    /// </summary>
    /// <param name="input">(B, H, W, C).</param>
    /// <param name="vertical">The vertical LSTM's flat weights (one layer, as <see cref="Lstm"/>), or null to leave it out.</param>
    /// <param name="horizontal">The horizontal LSTM's flat weights, or null to leave it out.</param>
    /// <param name="bidirectional">Whether each LSTM has a reverse direction.</param>
    /// <param name="hasBiases">Whether the weight lists include the two bias vectors of every direction.</param>
    /// <returns>(B, H, W, dirs·Dv + dirs·Dh).</returns>
    public static Tensor Lstm2d(Tensor input, IReadOnlyList<Tensor>? vertical, IReadOnlyList<Tensor>? horizontal, bool bidirectional = true, bool hasBiases = true)
    {
        const string op = "lstm2d";
        CheckFloatInput(op, input);
        if (input.Rank != 4)
            throw new ArgumentException($"{op}: expected a channels-last input of shape (B, H, W, C), got {Shp(input)}.");
        if (vertical is null && horizontal is null)
            throw new ArgumentException($"{op}: at least one of the vertical and horizontal LSTMs is needed (input of shape {Shp(input)}).");
        long t0 = Stopwatch.GetTimestamp();
        int dirs = bidirectional ? 2 : 1;
        var shape = input.Layout.Shape;
        int b = shape[0], h = shape[1], w = shape[2];
        var weights = new List<DirectionWeights>();
        var plans = new List<DirectionPlan>();
        int projection = 0, column = 0;
        void Add(IReadOnlyList<Tensor>? flat, SequenceGeometry geometry)
        {
            if (flat is null) return;
            var layer = LstmArgs.Layers(op, flat, 1, dirs, hasBiases, input)[0];
            int hidden = layer[0].WeightHh.Layout.Shape[1];
            for (int k = 0; k < dirs; k++)
            {
                weights.Add(layer[k]);
                plans.Add(new DirectionPlan(hidden, geometry, k == 1, projection, column));
                projection += 4 * hidden; column += hidden;
            }
        }
        Add(vertical, new SequenceGeometry(b, w, h, (long)h * w, 1, w));
        Add(horizontal, new SequenceGeometry(b, h, w, (long)h * w, w, 1));

        var output = Tensor.Empty([b, h, w, column], input.DType, input.Device);
        var planArray = plans.ToArray(); var weightArray = weights.ToArray();
        var trace = LstmEngine.Forward(input.ContiguousHandle(), planArray, weightArray, output, null, null, null, null);
        Tensor?[] inputs = [input, .. weightArray.SelectMany(x => x.Flat)];
        if (!Tape.ShouldRecord(inputs)) { foreach (var t in trace.All) t.Dispose(); return output; }
        RecordLstm(op, inputs, [output], trace, planArray, weightArray, false, t0, g => (g[0], null, null), grads => [grads.Input]);
        return output;
    }
}
