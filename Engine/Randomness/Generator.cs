namespace Engine.Randomness;

/// <summary>
/// A seeded source of random tensors: a Philox key (the seed) and a counter offset that advances by the
/// blocks each fill consumes. Its whole state is two integers, so it saves and restores exactly.
/// </summary>
public sealed class Generator
{
    private long _offset;

    /// <summary>The generator used when none is given; seeded with 0 until <see cref="ManualSeed"/>.</summary>
    public static Generator Default { get; } = new(0);

    /// <summary>Creates a generator with the given seed and a zero offset.</summary>
    public Generator(ulong seed) => Seed = seed;

    /// <summary>The Philox key.</summary>
    public ulong Seed { get; private set; }

    /// <summary>The next unused block of the stream.</summary>
    public ulong Offset
    {
        get => (ulong)Interlocked.Read(ref _offset);
        set => Interlocked.Exchange(ref _offset, (long)value);
    }

    /// <summary>Resets the seed and the offset, like <c>torch.manual_seed</c>.</summary>
    public Generator ManualSeed(ulong seed)
    {
        Seed = seed;
        Offset = 0;
        return this;
    }

    /// <summary>Sets the seed of <see cref="Default"/>.</summary>
    public static void SetDefaultSeed(ulong seed) => Default.ManualSeed(seed);

    /// <summary>Reserves <paramref name="blocks"/> blocks and returns the first.</summary>
    internal ulong Reserve(ulong blocks) => (ulong)Interlocked.Add(ref _offset, (long)blocks) - blocks;
}
