using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Nn;

/// <summary>
/// PyTorch's <c>nn.LSTM</c>: a stack of (bi)directional LSTM layers, each run as one fused operator
/// (<see cref="Functional.Lstm"/>). State, per layer l: <c>weight_ih_l{l}</c> (4D, in), <c>weight_hh_l{l}</c>
/// (4D, D), <c>bias_ih_l{l}</c>, <c>bias_hh_l{l}</c> (4D), and the same with <c>_reverse</c> for the
/// reverse direction; every tensor initialised U(-1/√D, 1/√D) as PyTorch does.
/// </summary>
public sealed class Lstm : Module<Tensor, Tensor>
{
    private readonly List<string> _flatNames = [];

    /// <summary>Creates the layers.</summary>
    public Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false,
        double dropout = 0.0, bool bidirectional = false, DType? dtype = null, Generator? generator = null)
    {
        if (hiddenSize < 1) throw new ArgumentException($"LSTM: hidden_size must be greater than zero, got {hiddenSize}.");
        if (numLayers < 1) throw new ArgumentException($"LSTM: num_layers must be greater than zero, got {numLayers}.");
        if (dropout < 0 || dropout > 1) throw new ArgumentException($"LSTM: dropout should be a number in range [0, 1], got {dropout}.");
        InputSize = inputSize; HiddenSize = hiddenSize; NumLayers = numLayers; Bias = bias;
        BatchFirst = batchFirst; Dropout = dropout; Bidirectional = bidirectional;
        double bound = 1.0 / Math.Sqrt(hiddenSize);
        for (int l = 0; l < numLayers; l++)
            for (int k = 0; k < (bidirectional ? 2 : 1); k++)
            {
                string suffix = $"_l{l}{(k == 1 ? "_reverse" : "")}";
                int layerInput = l == 0 ? inputSize : (bidirectional ? 2 : 1) * hiddenSize;
                Add("weight_ih" + suffix, [4 * hiddenSize, layerInput]);
                Add("weight_hh" + suffix, [4 * hiddenSize, hiddenSize]);
                if (bias) { Add("bias_ih" + suffix, [4 * hiddenSize]); Add("bias_hh" + suffix, [4 * hiddenSize]); }
            }

        void Add(string name, int[] shape)
        {
            var t = RegisterParameter(name, Tensor.Empty(shape, dtype))!;
            Init.Uniform(t, -bound, bound, generator);
            _flatNames.Add(name);
        }
    }

    /// <summary>Features of each input step.</summary>
    public int InputSize { get; }

    /// <summary>D, the hidden size of each direction.</summary>
    public int HiddenSize { get; }

    /// <summary>Number of stacked layers.</summary>
    public int NumLayers { get; }

    /// <summary>Whether inputs and outputs are (N, T, ·).</summary>
    public bool BatchFirst { get; }

    /// <summary>Dropout between layers, in training.</summary>
    public double Dropout { get; }

    /// <summary>Whether every direction has the two bias vectors.</summary>
    public bool Bias { get; }

    /// <summary>Whether every layer has a reverse direction.</summary>
    public bool Bidirectional { get; }

    /// <summary>The parameters in PyTorch's <c>_flat_weights</c> order.</summary>
    public Tensor[] FlatWeights => _flatNames.Select(n => GetParameter(n)!).ToArray();

    /// <summary>The output sequence only, from zero initial states.</summary>
    public override Tensor Forward(Tensor input)
    {
        var (output, hN, cN) = Forward(input, null, null);
        hN.Dispose(); cN.Dispose();
        return output;
    }

    /// <summary>Output sequence and final states (h_n, c_n), from the given initial states (zeros when null).</summary>
    public (Tensor Output, Tensor HN, Tensor CN) Forward(Tensor input, Tensor? h0, Tensor? c0) =>
        Functional.Lstm(input, FlatWeights, NumLayers, Bidirectional, BatchFirst, h0, c0, Dropout, Training, hasBiases: Bias);

    /// <inheritdoc/>
    public override string ExtraRepr() =>
        $"{InputSize}, {HiddenSize}, num_layers={NumLayers}, batch_first={BatchFirst}, bidirectional={Bidirectional}";
}
