using Engine.Models.Nn;
using Engine.Randomness;

namespace Engine.Models.Backbones.Sequencer;

/// <summary>
/// One pre-norm Sequencer2D block on channels-last maps: x + DropPath(BiLSTM2D(LN(x))), then
/// x + DropPath(MLP(LN(x))). State: <c>norm1</c>, <c>rnn_tokens</c>, <c>norm2</c>, <c>mlp_channels</c>.
/// </summary>
public sealed class Sequencer2dBlock : Module<Tensor, Tensor>
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly BiLstm2d _mixer;
    private readonly Mlp _mlp;
    private readonly DropPath _dropPath;

    /// <summary>Creates the block; both residual branches share the drop-path rate.</summary>
    public Sequencer2dBlock(int dim, int hidden, double mlpRatio, SequencerConfig config, double dropPath, DType? dtype = null, Generator? generator = null)
    {
        _norm1 = RegisterModule("norm1", new LayerNorm(dim, 1e-6, dtype: dtype));
        _mixer = RegisterModule("rnn_tokens", new BiLstm2d(dim, hidden, config.NumRnnLayers, true, config.Bidirectional,
            config.Union, config.WithFc, dtype, generator));
        _norm2 = RegisterModule("norm2", new LayerNorm(dim, 1e-6, dtype: dtype));
        _mlp = RegisterModule("mlp_channels", new Mlp(dim, (int)(mlpRatio * dim), drop: config.DropRate, dtype: dtype));
        // Masks from the default generator (PyTorch's global one), not the initialising one: a checkpoint resumes them.
        _dropPath = new DropPath(dropPath);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        _dropPath.Train(Training);
        // No tensor scope here: it would free what the tape saved. Intermediate handles are disposed by hand.
        Tensor x;
        using (var u = _norm1.Call(input))
        using (var a = _mixer.Call(u))
        using (var da = _dropPath.Call(a))
            x = input + da;
        using (x)
        using (var v = _norm2.Call(x))
        using (var m = _mlp.Call(v))
        using (var dm = _dropPath.Call(m))
            return x + dm;
    }
}
