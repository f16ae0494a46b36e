using static Engine.Ops.NormArgs;

namespace Engine.Ops;

/// <summary>Argument checks of the LSTM operators, with PyTorch's wording where PyTorch has one.</summary>
internal static class LstmArgs
{
    /// <summary>
    /// Splits PyTorch's flat weight list into [layer][direction] and checks every shape: weight_hh (4D, D),
    /// weight_ih (4D, C) for layer 0 and (4D, dirs·D) above it, biases (4D). D is the same everywhere.
    /// </summary>
    public static DirectionWeights[][] Layers(string op, IReadOnlyList<Tensor> weights, int numLayers, int dirs, bool hasBiases, Tensor input)
    {
        int groups = numLayers * dirs;
        int per = hasBiases ? 4 : 2;
        if (weights.Count != per * groups)
            throw new ArgumentException($"{op}: expected {per * groups} weights for num_layers={numLayers}, bidirectional={dirs == 2}, has_biases={hasBiases}, got {weights.Count} (input of shape {Shp(input)}).");
        foreach (var w in weights)
        {
            ArgumentNullException.ThrowIfNull(w, nameof(weights));
            CheckCompanion(op, "weight", w, input);
        }
        var hh0 = weights[1];
        if (hh0.Rank != 2 || hh0.Layout.Shape[1] < 1 || hh0.Layout.Shape[0] != 4 * hh0.Layout.Shape[1])
            throw new ArgumentException($"{op}: expected weight_hh_l0 of shape (4*hidden_size, hidden_size) with hidden_size > 0, got {Shp(hh0)}.");
        int hidden = hh0.Layout.Shape[1];
        var layers = new DirectionWeights[numLayers][];
        for (int l = 0; l < numLayers; l++)
        {
            layers[l] = new DirectionWeights[dirs];
            int inputSize = l == 0 ? input.Layout.Shape[^1] : dirs * hidden;
            for (int k = 0; k < dirs; k++)
            {
                int at = (l * dirs + k) * per;
                string suffix = $"_l{l}{(k == 1 ? "_reverse" : "")}";
                var wih = weights[at]; var whh = weights[at + 1];
                Expect(op, "weight_hh" + suffix, whh, [4 * hidden, hidden]);
                if (wih.Rank != 2 || wih.Layout.Shape[0] != 4 * hidden)
                    throw new ArgumentException($"{op}: expected weight_ih{suffix} of shape ({4 * hidden}, input_size), got {Shp(wih)}.");
                if (wih.Layout.Shape[1] != inputSize)
                    throw new ArgumentException(l == 0
                        ? $"{op}: input.size(-1) must be equal to input_size. Expected {wih.Layout.Shape[1]}, got {inputSize} (input of shape {Shp(input)}, weight_ih{suffix} of shape {Shp(wih)})."
                        : $"{op}: expected weight_ih{suffix} of shape ({4 * hidden}, {inputSize}), got {Shp(wih)}.");
                Tensor? bih = null, bhh = null;
                if (per == 4)
                {
                    bih = weights[at + 2]; bhh = weights[at + 3];
                    Expect(op, "bias_ih" + suffix, bih, [4 * hidden]);
                    Expect(op, "bias_hh" + suffix, bhh, [4 * hidden]);
                }
                layers[l][k] = new DirectionWeights(wih, whh, bih, bhh);
            }
        }
        return layers;
    }

    private static void Expect(string op, string name, Tensor t, int[] shape)
    {
        if (!t.Layout.Shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"{op}: expected {name} of shape {Layout.Format(shape)}, got {Shp(t)}.");
    }

    /// <summary>An initial state, when given, must have the state shape.</summary>
    public static void State(string op, string name, Tensor? state, int[] expected)
    {
        if (state is not null && !state.Layout.Shape.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"{op}: Expected {name} size ({string.Join(", ", expected)}), got {Shp(state)}.");
    }
}
