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

/// <summary>
/// Consecutive directions that share their number of sequences N, of steps S and their hidden size D, and so
/// share their buffers (each (Count, slots, N, width), direction by direction) and, on CUDA, one launch per
/// step: the two directions of a bidirectional LSTM, or all four of a BiLSTM2D over a square grid. The
/// directions' projection and output columns follow each other, and at most two sequence geometries occur,
/// the first for the directions before <see cref="Split"/> (the vertical LSTM of a grid), the second after it.
/// </summary>
/// <param name="First">The first direction's index among the plans.</param>
/// <param name="Count">Number of directions, K.</param>
/// <param name="Split">Directions First .. First+Split-1 have the first geometry; the rest the second.</param>
internal readonly record struct DirectionGroup(int First, int Count, int Split)
{
    /// <summary>The groups of <paramref name="plans"/>, in order; every direction is in exactly one.</summary>
    public static DirectionGroup[] Of(DirectionPlan[] plans)
    {
        var groups = new List<DirectionGroup>();
        int first = 0, split = 1;
        for (int k = 1; k <= plans.Length; k++)
        {
            if (k < plans.Length && Joins(plans[first], plans[k - 1], plans[k], split == k - first))
            {
                if (plans[k].Geometry == plans[k - 1].Geometry && split == k - first) split++;
                continue;
            }
            groups.Add(new DirectionGroup(first, k - first, split));
            first = k; split = 1;
        }
        return [.. groups];
    }

    // A direction joins when its sizes equal the group's, its columns follow the previous direction's, and its
    // geometry is the previous one's or the group's second (there is none yet while every direction so far shares
    // the first geometry).
    private static bool Joins(DirectionPlan head, DirectionPlan previous, DirectionPlan next, bool oneGeometrySoFar) =>
        next.Hidden == head.Hidden && next.Geometry.Sequences == head.Geometry.Sequences && next.Geometry.Steps == head.Geometry.Steps
        && next.ProjectionColumn == previous.ProjectionColumn + 4 * previous.Hidden && next.OutputColumn == previous.OutputColumn + previous.Hidden
        && (next.Geometry == previous.Geometry || oneGeometrySoFar);
}

/// <summary>The four tensors of one direction in PyTorch's names; biases are null for <c>bias=False</c>.</summary>
internal sealed record DirectionWeights(Tensor WeightIh, Tensor WeightHh, Tensor? BiasIh, Tensor? BiasHh)
{
    /// <summary>The weights in PyTorch's flat order (weight_ih, weight_hh, bias_ih, bias_hh), biases only when present.</summary>
    public Tensor[] Flat => BiasIh is null ? [WeightIh, WeightHh] : [WeightIh, WeightHh, BiasIh, BiasHh!];
}
