namespace Engine.Models.Serialization.Pth;

/// <summary>
/// A PyTorch checkpoint (<c>.pth</c>, <c>.pt</c>, <c>.bin</c>) that cannot be read: corrupted, truncated, of a
/// layout we do not know, or naming Python objects a state dict does not need. The message names the file
/// and what is wrong with it.
/// </summary>
public sealed class PthException : IOException
{
    /// <summary>Creates the error for <paramref name="source"/> (a path, or a name given to a stream).</summary>
    public PthException(string source, string problem, Exception? inner = null)
        : base($"PyTorch checkpoint '{source}': {problem}", inner)
    {
        FileName = source;
        Problem = problem;
    }

    /// <summary>The file path, or the name the caller gave the stream.</summary>
    public string FileName { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
