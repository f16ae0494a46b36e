using Xunit;

namespace Engine.Tests.Support;

/// <summary>
/// Tests that read or change process-wide state (live tensor counts, the CPU thread count) run in this
/// collection, which xunit runs alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    /// <summary>The collection's name, for <c>[Collection(SerialCollection.Name)]</c>.</summary>
    public const string Name = "Serial: process-wide state";
}
