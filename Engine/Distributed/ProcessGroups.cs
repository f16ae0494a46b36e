namespace Engine.Distributed;

/// <summary>Creates the process group a command line asks for.</summary>
public static class ProcessGroups
{
    /// <summary>
    /// <c>single</c> or <c>none</c>: world size 1. <c>mpi</c>: OpenMPI's world (start the program under
    /// <c>mpirun</c>; without a launcher MPI runs it as a world of one).
    /// </summary>
    public static ProcessGroup Create(string backend) => backend.Trim().ToLowerInvariant() switch
    {
        "single" or "none" or "" => new SingleProcessGroup(),
        "mpi" => new MpiProcessGroup(),
        _ => throw new ArgumentException($"distributed: unknown backend '{backend}'; use mpi, nccl or none."),
    };
}
