using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Engine.Distributed;

/// <summary>How rank 0 hands NCCL's unique id (128 bytes) to the other ranks before they make the communicator.</summary>
public abstract class NcclRendezvous
{
    /// <summary>On rank 0 <paramref name="id"/> holds the id; on return every rank's holds it.</summary>
    public abstract void Share(Span<byte> id, int rank, int worldSize);

    /// <summary>A world of one: nothing to share.</summary>
    public static NcclRendezvous Alone { get; } = new AloneRendezvous();

    /// <summary>Through an existing process group (MPI's, say): a broadcast from rank 0.</summary>
    public static NcclRendezvous Through(ProcessGroup group) => new GroupRendezvous(group);

    /// <summary>Over TCP: rank 0 listens on <paramref name="port"/> of <paramref name="host"/>, the others connect (retrying) until <paramref name="timeout"/>.</summary>
    public static NcclRendezvous Tcp(string host, int port, TimeSpan timeout) => new TcpRendezvous(host, port, timeout);

    private sealed class AloneRendezvous : NcclRendezvous
    {
        public override void Share(Span<byte> id, int rank, int worldSize)
        {
            if (worldSize != 1) throw new InvalidOperationException($"nccl: a world of {worldSize} ranks needs a rendezvous (MPI, or MASTER_ADDR and MASTER_PORT).");
        }
    }

    private sealed class GroupRendezvous(ProcessGroup group) : NcclRendezvous
    {
        public override void Share(Span<byte> id, int rank, int worldSize)
        {
            var words = new long[id.Length / 8];
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(id).CopyTo(words);
            using var t = Tensor.FromArray(words);
            group.Broadcast(t, 0);
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray<long>().AsSpan()).CopyTo(id);
        }
    }

    private sealed class TcpRendezvous(string host, int port, TimeSpan timeout) : NcclRendezvous
    {
        public override void Share(Span<byte> id, int rank, int worldSize)
        {
            var deadline = DateTime.UtcNow + timeout;
            if (rank == 0)
            {
                using var listener = new TcpListener(IPAddress.Any, port);
                listener.Start();
                for (int served = 1; served < worldSize; served++)
                {
                    var accept = listener.AcceptTcpClientAsync();
                    if (!accept.Wait(Remaining(deadline)))
                        throw new DistributedException($"nccl rendezvous: rank 0 heard from {served - 1} of {worldSize - 1} ranks on port {port} within {timeout.TotalSeconds:0} s.", []);
                    using var client = accept.Result;
                    client.GetStream().Write(id);
                }
                return;
            }
            while (true)
            {
                try
                {
                    using var client = new TcpClient();
                    if (!client.ConnectAsync(host, port).Wait(TimeSpan.FromSeconds(5))) throw new SocketException((int)SocketError.TimedOut);
                    client.GetStream().ReadExactly(id);
                    return;
                }
                catch (Exception e) when (e is SocketException or AggregateException or IOException or EndOfStreamException)
                {
                    if (DateTime.UtcNow > deadline)
                        throw new DistributedException($"nccl rendezvous: rank {rank} could not get the unique id from rank 0 at {host}:{port} within {timeout.TotalSeconds:0} s ({e.GetBaseException().Message}).", []);
                    Thread.Sleep(200);
                }
            }
        }

        private static TimeSpan Remaining(DateTime deadline) => deadline > DateTime.UtcNow ? deadline - DateTime.UtcNow : TimeSpan.Zero;
    }
}

/// <summary>
/// The variables torchrun (and similar launchers) set for each worker: <c>RANK</c>, <c>WORLD_SIZE</c>,
/// <c>LOCAL_RANK</c>, <c>MASTER_ADDR</c>, <c>MASTER_PORT</c>.
/// </summary>
public sealed record TorchrunEnvironment(int Rank, int WorldSize, int LocalRank, string MasterAddr, int MasterPort)
{
    /// <summary>
    /// The port of NCCL's id exchange: <c>ENGINE_RENDEZVOUS_PORT</c>, else <c>MASTER_PORT</c> + 1 (under torchrun
    /// MASTER_PORT itself is taken by torchrun's own store).
    /// </summary>
    public int RendezvousPort { get; init; } = MasterPort + 1;

    /// <summary>Reads the variables through <paramref name="get"/>; null when <c>RANK</c> and <c>WORLD_SIZE</c> are both unset.</summary>
    public static TorchrunEnvironment? Read(Func<string, string?> get)
    {
        if (get("RANK") is null && get("WORLD_SIZE") is null) return null;
        int Int(string name, int? fallback = null)
        {
            var text = get(name);
            if (text is null && fallback is { } f) return f;
            if (text is null) throw new ArgumentException($"distributed: {name} is not set (torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT).");
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 0)
                throw new ArgumentException($"distributed: {name}='{text}' is not a non-negative integer.");
            return value;
        }
        int world = Int("WORLD_SIZE"), rank = Int("RANK");
        if (world < 1 || rank >= world) throw new ArgumentException($"distributed: RANK={rank} is outside WORLD_SIZE={world}.");
        int masterPort = Int("MASTER_PORT", world == 1 ? 29500 : null);
        var env = new TorchrunEnvironment(rank, world, Int("LOCAL_RANK", 0), get("MASTER_ADDR") ?? (world == 1 ? "127.0.0.1" : throw new ArgumentException("distributed: MASTER_ADDR is not set (torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT).")), masterPort);
        return get("ENGINE_RENDEZVOUS_PORT") is { } p ? env with { RendezvousPort = Int("ENGINE_RENDEZVOUS_PORT") } : env;
    }
}
