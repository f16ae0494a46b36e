namespace Engine.Distributed;

/// <summary>
/// A collective failed: a peer rank was lost, did not join within the timeout, or the ranks disagree. The group
/// cannot be used afterwards (a collective that never completed cannot be taken back); the process should exit
/// with an error (the <c>train</c> command exits with code 1 and this message).
/// </summary>
public sealed class DistributedException : Exception
{
    /// <summary>Creates the exception; <paramref name="lostRanks"/> lists the ranks known to be gone.</summary>
    public DistributedException(string message, IReadOnlyList<int> lostRanks) : base(message) => LostRanks = lostRanks;

    /// <summary>The ranks known to have died (empty when none could be named).</summary>
    public IReadOnlyList<int> LostRanks { get; }
}
