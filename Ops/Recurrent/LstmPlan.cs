namespace Engine.Ops;

/// <summary>
/// Where one direction's sequences sit among the token rows of the input (and of the output, which has the
/// same rows): sequence n = (outer, inner) = (n / Inner, n % Inner) reads step t from row
/// outer·OuterStride + inner·InnerStride + t·StepStride. A batch-first 1-D LSTM is (N, 1, T, T, 0, 1); the
/// vertical scan of a (B, H, W) grid is (B, W, H, H·W, 1, W), the horizontal one (B, H, W, H·W, W, 1).
/// </summary>
internal readonly record struct SequenceGeometry(int Outer, int Inner, int Steps, long OuterStride, long InnerStride, long StepStride)
{
    /// <summary>Number of sequences, N: the rows of each step's recurrent product.</summary>
    public int Sequences => Outer * Inner;

    /// <summary>The token row of sequence <paramref name="n"/> at step <paramref name="t"/>.</summary>
    public long Row(long n, int t)
    {
        long outer = n / Inner, inner = n - outer * Inner;
        return outer * OuterStride + inner * InnerStride + t * StepStride;
    }

    /// <summary>Walks the token rows of sequences start, start+1, ... at one step without a division per sequence.</summary>
    public struct Cursor
    {
        private readonly SequenceGeometry _g;
        private long _inner, _row;

        /// <summary>Starts at sequence <paramref name="start"/>, step <paramref name="t"/>.</summary>
        public Cursor(SequenceGeometry g, long start, int t)
        {
            _g = g;
            long outer = start / g.Inner;
            _inner = start - outer * g.Inner;
            _row = g.Row(start, t);
        }

        /// <summary>The current sequence's token row.</summary>
        public readonly long Row => _row;

        /// <summary>Moves to the next sequence.</summary>
        public void Next()
        {
            if (++_inner < _g.Inner) { _row += _g.InnerStride; return; }
            _inner = 0;
            _row += _g.OuterStride - (_g.Inner - 1) * _g.InnerStride;
        }
    }
}

/// <summary>
/// One direction of one LSTM layer as the fused kernels see it: its hidden size D, its sequences, whether
/// it scans from the last step to the first, the columns of its 4D gate pre-activations in the shared input
/// projection, and the D columns of the output it writes (the concatenation is just the column offsets).
/// </summary>
internal readonly record struct DirectionPlan(int Hidden, SequenceGeometry Geometry, bool Reverse, int ProjectionColumn, int OutputColumn);

/// <summary>The four tensors of one direction in PyTorch's names; biases are null for <c>bias=False</c>.</summary>
internal sealed record DirectionWeights(Tensor WeightIh, Tensor WeightHh, Tensor? BiasIh, Tensor? BiasHh)
{
    /// <summary>The weights in PyTorch's flat order (weight_ih, weight_hh, bias_ih, bias_hh), biases only when present.</summary>
    public Tensor[] Flat => BiasIh is null ? [WeightIh, WeightHh] : [WeightIh, WeightHh, BiasIh, BiasHh!];
}
