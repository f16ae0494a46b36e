namespace Engine.Models.Serialization;

/// <summary>
/// A safetensors file (or a checkpoint stored in one) that cannot be read: the message names the file
/// and what is wrong with it.
/// </summary>
public sealed class SafeTensorsException : IOException
{
    /// <summary>Creates the error for <paramref name="source"/> (a path, or a name given to a stream).</summary>
    public SafeTensorsException(string source, string problem, Exception? inner = null)
        : base($"safetensors file '{source}': {problem}", inner)
    {
        FileName = source;
        Problem = problem;
    }

    /// <summary>The file path, or the name the caller gave the stream.</summary>
    public string FileName { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
