namespace Engine.Samples.Cli.CommandLine;

/// <summary>
/// A user's mistake found by a command before it does any work (a value out of range, a missing file):
/// printed as its one-line message, exit code 2, never with a stack trace.
/// </summary>
internal sealed class UsageException(string message) : Exception(message);
