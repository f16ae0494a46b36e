namespace Engine.Distributed;

/// <summary>Creates the process group a command line asks for.</summary>
public static class ProcessGroups
{
    /// <summary>
    /// <c>single</c> or <c>none</c>: world size 1. <c>mpi</c>: OpenMPI's world (start the program under
    /// <c>mpirun</c>; without a launcher MPI runs it as a world of one). <c>nccl</c>: one GPU per rank, rank and
    /// size from torchrun's variables (<see cref="TorchrunEnvironment"/>; NCCL's id over TCP from MASTER_ADDR), else
    /// from mpirun (the id through MPI), else a world of one.
    /// </summary>
    public static ProcessGroup Create(string backend) => backend.Trim().ToLowerInvariant() switch
    {
        "single" or "none" or "" => new SingleProcessGroup(),
        "mpi" => new MpiProcessGroup(),
        "nccl" => CreateNccl(Environment.GetEnvironmentVariable),
        _ => throw new ArgumentException($"distributed: unknown backend '{backend}'; use mpi, nccl or none."),
    };

    /// <summary>The NCCL group for the launcher found through <paramref name="get"/> (environment variables).</summary>
    public static ProcessGroup CreateNccl(Func<string, string?> get)
    {
        if (TorchrunEnvironment.Read(get) is { } env)
        {
            var rendezvous = env.WorldSize == 1 ? NcclRendezvous.Alone : NcclRendezvous.Tcp(env.MasterAddr, env.RendezvousPort, TimeSpan.FromMinutes(5));
            return new NcclProcessGroup(env.Rank, env.WorldSize, env.LocalRank, rendezvous);
        }
        if (MpiProcessGroup.LaunchedByMpirun)
        {
            using var mpi = new MpiProcessGroup();
            // The MPI group only carries the id: it is finalised once every rank has it (NCCL does not need MPI).
            return new NcclProcessGroup(mpi.Rank, mpi.WorldSize, mpi.LocalRank, NcclRendezvous.Through(mpi));
        }
        return new NcclProcessGroup(0, 1, 0, NcclRendezvous.Alone);
    }
}
