namespace Engine.Ops;

/// <summary>
/// A (height, width) pair of sizes, as PyTorch's <c>_size_2_t</c>: a single int means the same value for
/// both, so <c>stride: 2</c> and <c>stride: (2, 1)</c> both work wherever a <see cref="Size2d"/> is taken.
/// </summary>
/// <param name="H">The value along the height (rows).</param>
/// <param name="W">The value along the width (columns).</param>
public readonly record struct Size2d(int H, int W)
{
    /// <summary>The same value for height and width.</summary>
    public static implicit operator Size2d(int both) => new(both, both);

    /// <summary>A (height, width) tuple.</summary>
    public static implicit operator Size2d((int H, int W) pair) => new(pair.H, pair.W);

    /// <inheritdoc/>
    public override string ToString() => $"({H}, {W})";
}

/// <summary>
/// The padding argument of <see cref="Functional.Conv2d"/>: an int, a (height, width) pair, or one of the
/// strings "valid" (no padding) and "same" (the output keeps the input's size; stride 1 only), as in PyTorch.
/// </summary>
public readonly record struct Padding2d
{
    private Padding2d(Size2d size, string? mode)
    {
        Size = size;
        Mode = mode;
    }

    /// <summary>The explicit padding when <see cref="Mode"/> is null.</summary>
    public Size2d Size { get; }

    /// <summary>"same" or "valid" when the padding was given as a string; null for explicit sizes.</summary>
    public string? Mode { get; }

    /// <summary>PyTorch's padding='same'.</summary>
    public static Padding2d Same => new(default, "same");

    /// <summary>PyTorch's padding='valid' (no padding).</summary>
    public static Padding2d Valid => new(default, "valid");

    /// <summary>The same padding on all four sides.</summary>
    public static implicit operator Padding2d(int both) => new(both, null);

    /// <summary>(height, width) padding: top and bottom get the first, left and right the second.</summary>
    public static implicit operator Padding2d((int H, int W) pair) => new(pair, null);

    /// <summary>An explicit (height, width) padding.</summary>
    public static implicit operator Padding2d(Size2d size) => new(size, null);

    /// <summary>"same" or "valid"; any other string is refused, naming the op that received it.</summary>
    public static implicit operator Padding2d(string mode) => new(default, mode);

    /// <inheritdoc/>
    public override string ToString() => Mode is null ? Size.ToString() : $"'{Mode}'";
}
