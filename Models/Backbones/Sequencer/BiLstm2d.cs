using Engine.Models.Nn;
using Engine.Ops;
using Engine.Randomness;

namespace Engine.Models.Backbones.Sequencer;

/// <summary>
/// Sequencer's token mixer (the reference's <c>LSTM2D</c>) on channels-last (B, H, W, C) maps: a vertical
/// LSTM <c>rnn_v</c> over each column and a horizontal LSTM <c>rnn_h</c> over each row, combined by
/// the union ("cat": [vertical, horizontal] on channels; "add": their sum; "vertical" or
/// "horizontal": that one alone), then the fusing Linear <c>fc</c> back to C channels. With one layer both
/// LSTMs run as one fused operator (<see cref="Functional.Lstm2d"/>).
/// </summary>
public sealed class BiLstm2d : Module<Tensor, Tensor>
{
    private readonly Lstm? _vertical, _horizontal;
    private readonly Linear? _fc;
    private readonly string _union;

    /// <summary>Creates the layer.</summary>
    public BiLstm2d(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool bidirectional = true,
        string union = "cat", bool withFc = true, DType? dtype = null, Generator? generator = null)
    {
        if (union is not ("cat" or "add" or "vertical" or "horizontal"))
            throw new ArgumentException($"BiLstm2d: union must be 'cat', 'add', 'vertical' or 'horizontal', got '{union}'.");
        _union = union;
        int single = (bidirectional ? 2 : 1) * hiddenSize;
        OutputChannels = union == "cat" ? 2 * single : single;
        if (union != "horizontal")
            _vertical = RegisterModule("rnn_v", new Lstm(inputSize, hiddenSize, numLayers, bias, batchFirst: true, bidirectional: bidirectional, dtype: dtype, generator: generator));
        if (union != "vertical")
            _horizontal = RegisterModule("rnn_h", new Lstm(inputSize, hiddenSize, numLayers, bias, batchFirst: true, bidirectional: bidirectional, dtype: dtype, generator: generator));
        if (withFc) _fc = RegisterModule("fc", new Linear(OutputChannels, inputSize, dtype: dtype, generator: generator));
        else if (OutputChannels != inputSize)
            throw new ArgumentException($"BiLstm2d: without fc the mixed output must have input_size channels; union '{union}' gives {OutputChannels}, input_size is {inputSize}.");
    }

    /// <summary>Channels after the union, before <c>fc</c>.</summary>
    public int OutputChannels { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"BiLstm2d: expected a channels-last input (B, H, W, C), got shape {Layout.Format(input.Shape)}.");
        var mixed = Mix(input);
        if (_union == "add")
        {
            int half = OutputChannels;
            using var both = mixed;
            using var v = both.Narrow(-1, 0, half);
            using var h = both.Narrow(-1, half, half);
            mixed = v + h;
        }
        if (_fc is null) return mixed;
        using (mixed) return _fc.Call(mixed);
    }

    /// <summary>The LSTM outputs side by side: [vertical, horizontal] channels (only the LSTMs that exist).</summary>
    private Tensor Mix(Tensor x)
    {
        var (v, h) = (_vertical, _horizontal);
        if ((v ?? h)!.NumLayers == 1)
            return Functional.Lstm2d(x, v?.FlatWeights, h?.FlatWeights, (v ?? h)!.Bidirectional, (v ?? h)!.Bias);
        // Stacked layers: each LSTM on its own through the generic operator.
        int b = x.Shape[0], height = x.Shape[1], width = x.Shape[2], c = x.Shape[3];
        var parts = new List<Tensor>();
        if (v is not null)
        {
            var columns = v.Call(x.Permute(0, 2, 1, 3).Reshape(b * width, height, c));
            parts.Add(columns.Reshape(b, width, height, columns.Shape[^1]).Permute(0, 2, 1, 3));
        }
        if (h is not null)
        {
            var rows = h.Call(x.Reshape(b * height, width, c));
            parts.Add(rows.Reshape(b, height, width, rows.Shape[^1]));
        }
        return parts.Count == 1 ? parts[0] : Tensor.Cat(parts, -1);
    }
}

/// <summary>
/// The vanilla (1-D) Sequencer's token mixer (the reference's <c>LSTM</c>): the (B, H, W, C) map read as B
/// sequences of H·W tokens in row-major order through one batch-first LSTM <c>rnn</c>; output (B, H, W, dirs·D), no fc.
/// </summary>
public sealed class LstmTokenMixer : Module<Tensor, Tensor>
{
    private readonly Lstm _rnn;

    /// <summary>Creates the mixer.</summary>
    public LstmTokenMixer(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool bidirectional = true, DType? dtype = null, Generator? generator = null) =>
        _rnn = RegisterModule("rnn", new Lstm(inputSize, hiddenSize, numLayers, bias, batchFirst: true, bidirectional: bidirectional, dtype: dtype, generator: generator));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"LstmTokenMixer: expected a channels-last input (B, H, W, C), got shape {Layout.Format(input.Shape)}.");
        int b = input.Shape[0], h = input.Shape[1], w = input.Shape[2];
        using var sequences = input.Reshape(b, h * w, input.Shape[3]);
        using var y = _rnn.Call(sequences);
        return y.Reshape(b, h, w, y.Shape[^1]);
    }
}
