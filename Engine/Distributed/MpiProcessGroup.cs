using System.Diagnostics;
using System.Text;

namespace Engine.Distributed;

/// <summary>
/// A process group over OpenMPI's <c>MPI_COMM_WORLD</c>: rank and world size come from the launcher
/// (<c>mpirun -np N ...</c>). Collectives are MPI's non-blocking ones (<c>MPI_Iallreduce</c>, <c>MPI_Ibcast</c>,
/// <c>MPI_Iallgather</c>, <c>MPI_Ibarrier</c>) on a duplicate of the world communicator whose error handler returns
/// codes instead of aborting; each is polled with <c>MPI_Test</c> against <see cref="ProcessGroup.Timeout"/>. When the
/// deadline passes the error names the ranks that are gone: every rank's host and process id are exchanged at
/// start, and peers on this machine are checked for life. CPU tensors are reduced where they lie; device tensors
/// through a host copy (CUDA-aware MPI is not assumed; the NCCL group is the GPU path).
/// </summary>
public sealed unsafe class MpiProcessGroup : ProcessGroup
{
    private static bool _initialised;
    private static readonly object InitLock = new();

    private nint _comm;
    private readonly int _rank, _size, _localRank;
    private readonly (string Host, int Pid)[] _peers;
    private string? _broken;

    /// <summary>Initialises MPI (once per process) and joins the world communicator.</summary>
    public MpiProcessGroup()
    {
        lock (InitLock)
        {
            if (!MpiNative.IsAvailable) throw new DllNotFoundException($"MPI: cannot load {MpiNative.Lib}; install OpenMPI (Debian: apt-get install openmpi-bin libopenmpi3).");
            int flag = 0;
            Check(MpiNative.MPI_Initialized(&flag), "MPI_Initialized");
            if (flag == 0)
            {
                int provided = 0;
                Check(MpiNative.MPI_Init_thread(null, 0, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
                _initialised = true;
            }
        }
        nint world = MpiNative.Export("ompi_mpi_comm_world");
        nint comm;
        Check(MpiNative.MPI_Comm_dup(world, &comm), "MPI_Comm_dup");
        _comm = comm;
        Check(MpiNative.MPI_Comm_set_errhandler(_comm, MpiNative.Export("ompi_mpi_errors_return")), "MPI_Comm_set_errhandler");
        int rank, size;
        Check(MpiNative.MPI_Comm_rank(_comm, &rank), "MPI_Comm_rank");
        Check(MpiNative.MPI_Comm_size(_comm, &size), "MPI_Comm_size");
        (_rank, _size) = (rank, size);
        _peers = ExchangePeers();
        _localRank = _peers.Take(_rank).Count(p => p.Host == _peers[_rank].Host);
    }

    /// <summary>True when this process was started by an MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK).</summary>
    public static bool LaunchedByMpirun =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null || Environment.GetEnvironmentVariable("PMI_SIZE") is not null
        || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <inheritdoc/>
    public override int Rank => _rank;
    /// <inheritdoc/>
    public override int WorldSize => _size;
    /// <inheritdoc/>
    public override int LocalRank => _localRank;
    /// <inheritdoc/>
    public override string Backend => "mpi";

    /// <summary>Each rank's host name and process id, in rank order.</summary>
    public IReadOnlyList<(string Host, int Pid)> Peers => _peers;

    /// <inheritdoc/>
    public override void Barrier()
    {
        ThrowIfBroken("barrier");
        nint request;
        Check(MpiNative.MPI_Ibarrier(_comm, &request), "MPI_Ibarrier");
        Wait(ref request, "barrier");
    }

    /// <inheritdoc/>
    protected override void AllReduceHost(Tensor host, ReduceOp op)
    {
        ThrowIfBroken("all_reduce");
        var (type, elementSize) = DataType(host.DType);
        nint mpiOp = MpiNative.Export(host.DType == DType.Bool ? "ompi_mpi_op_lor" : "ompi_mpi_op_sum");
        byte* data = Address(host);
        foreach (var (start, count) in Chunks(host.NumEl))
        {
            nint request;
            Check(MpiNative.MPI_Iallreduce((void*)MpiNative.InPlace, data + start * elementSize, count, type, mpiOp, _comm, &request), "MPI_Iallreduce");
            Wait(ref request, $"all_reduce of {host.NumEl} {host.DType.ShortName()} elements");
        }
    }

    /// <inheritdoc/>
    protected override void BroadcastHost(Tensor host, int root)
    {
        ThrowIfBroken("broadcast");
        var (type, elementSize) = DataType(host.DType);
        byte* data = Address(host);
        foreach (var (start, count) in Chunks(host.NumEl))
        {
            nint request;
            Check(MpiNative.MPI_Ibcast(data + start * elementSize, count, type, root, _comm, &request), "MPI_Ibcast");
            Wait(ref request, $"broadcast of {host.NumEl} {host.DType.ShortName()} elements from rank {root}");
        }
    }

    /// <inheritdoc/>
    protected override void AllGatherHost(Tensor input, Tensor output)
    {
        ThrowIfBroken("all_gather");
        var (type, _) = DataType(input.DType);
        if (input.NumEl > int.MaxValue) throw new ArgumentException($"all_gather: {input.NumEl} elements per rank is more than MPI's int count allows.");
        nint request;
        int count = (int)input.NumEl;
        Check(MpiNative.MPI_Iallgather(Address(input), count, type, Address(output), count, type, _comm, &request), "MPI_Iallgather");
        Wait(ref request, $"all_gather of {input.NumEl} {input.DType.ShortName()} elements");
    }

    /// <inheritdoc/>
    internal override PendingCollective StartSumAllReduce(Tensor host)
    {
        ThrowIfBroken("all_reduce");
        if (DebugChecks) VerifyAgreement("all_reduce", host, (int)ReduceOp.Sum);
        var (type, elementSize) = DataType(host.DType);
        nint op = MpiNative.Export("ompi_mpi_op_sum");
        var requests = new List<nint>();
        foreach (var (start, count) in Chunks(host.NumEl))
        {
            nint request;
            Check(MpiNative.MPI_Iallreduce((void*)MpiNative.InPlace, Address(host) + start * elementSize, count, type, op, _comm, &request), "MPI_Iallreduce");
            requests.Add(request);
        }
        return new PendingCollective(requests, $"all_reduce of a {host.NumEl}-element gradient bucket");
    }

    /// <inheritdoc/>
    internal override bool PollCollective(PendingCollective pending)
    {
        var list = pending.Requests;
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] == 0) continue;
            nint r = list[i];
            int flag = 0;
            Check(MpiNative.MPI_Test(&r, &flag, 0), "MPI_Test");
            list[i] = flag != 0 ? 0 : r;
        }
        return list.TrueForAll(r => r == 0);
    }

    /// <inheritdoc/>
    internal override void WaitCollective(PendingCollective pending)
    {
        for (int i = 0; i < pending.Requests.Count; i++)
        {
            nint r = pending.Requests[i];
            if (r != 0) Wait(ref r, pending.What);
            pending.Requests[i] = 0;
        }
    }

    private void Wait(ref nint request, string what)
    {
        var clock = Stopwatch.StartNew();
        var spin = new SpinWait();
        while (true)
        {
            int flag = 0;
            nint r = request;
            int code = MpiNative.MPI_Test(&r, &flag, 0);
            request = r;
            if (code != MpiNative.Success) Fail(what, $"MPI_Test failed: {MpiNative.ErrorString(code)}");
            if (flag != 0) return;
            if (clock.Elapsed > Timeout) Fail(what, $"it did not complete within {Timeout.TotalSeconds:0.#} s");
            // Spin briefly (collectives of small buckets finish in microseconds), then yield the core: on a machine
            // with as many ranks as cores a spinning rank would slow the one it waits for.
            if (clock.ElapsedMilliseconds < 2) spin.SpinOnce(sleep1Threshold: -1);
            else Thread.Sleep(clock.ElapsedMilliseconds < 50 ? 0 : 1);
        }
    }

    private void Fail(string what, string why)
    {
        var lost = LostRanks();
        string who = lost.Count > 0
            ? $"lost rank {string.Join(", ", lost.Select(r => $"{r} (pid {_peers[r].Pid} on {_peers[r].Host})"))}: the process is gone"
            : _size == 2
                ? $"rank {1 - _rank} did not join it (alive, or on another machine where it cannot be checked)"
                : "no rank on this machine has died; a rank did not join it (hung, on another machine, or calling a different collective)";
        _broken = $"rank {_rank}: {what} failed: {why}; {who}.";
        throw new DistributedException(_broken + " The process group cannot be used any more.", lost);
    }

    /// <summary>The peers on this machine whose process has exited (or is a zombie).</summary>
    private List<int> LostRanks()
    {
        var lost = new List<int>();
        string me = _peers[_rank].Host;
        for (int r = 0; r < _size; r++)
        {
            if (r == _rank || _peers[r].Host != me) continue;
            string stat = $"/proc/{_peers[r].Pid}/stat";
            try
            {
                var text = File.ReadAllText(stat);
                int close = text.LastIndexOf(')');
                if (close > 0 && close + 2 < text.Length && text[close + 2] is 'Z' or 'X') lost.Add(r);
            }
            catch (IOException) { lost.Add(r); }
            catch (UnauthorizedAccessException) { }
        }
        return lost;
    }

    private (string Host, int Pid)[] ExchangePeers()
    {
        const int NameBytes = 120;
        var mine = new byte[NameBytes + 8];
        var host = Encoding.UTF8.GetBytes(Environment.MachineName);
        host.AsSpan(0, Math.Min(host.Length, NameBytes)).CopyTo(mine);
        BitConverter.TryWriteBytes(mine.AsSpan(NameBytes), (long)Environment.ProcessId);
        var all = new byte[mine.Length * _size];
        nint type = MpiNative.Export("ompi_mpi_uint8_t");
        fixed (byte* send = mine)
        fixed (byte* receive = all)
        {
            nint request;
            Check(MpiNative.MPI_Iallgather(send, mine.Length, type, receive, mine.Length, type, _comm, &request), "MPI_Iallgather");
            int flag = 0;
            var clock = Stopwatch.StartNew();
            while (flag == 0)
            {
                Check(MpiNative.MPI_Test(&request, &flag, 0), "MPI_Test");
                if (flag == 0 && clock.Elapsed > Timeout)
                    throw new DistributedException($"rank {_rank}: the other ranks did not join the process group within {Timeout.TotalSeconds:0.#} s.", []);
                if (flag == 0) Thread.Sleep(clock.ElapsedMilliseconds < 20 ? 0 : 1);
            }
        }
        var peers = new (string, int)[_size];
        for (int r = 0; r < _size; r++)
        {
            var row = all.AsSpan(r * mine.Length, mine.Length);
            var name = row[..NameBytes];
            int end = name.IndexOf((byte)0);
            peers[r] = (Encoding.UTF8.GetString(end < 0 ? name : name[..end]), (int)BitConverter.ToInt64(row[NameBytes..]));
        }
        return peers;
    }

    private static (nint Type, int ElementSize) DataType(DType dtype) => dtype switch
    {
        DType.F32 => (MpiNative.Export("ompi_mpi_float"), 4),
        DType.F64 => (MpiNative.Export("ompi_mpi_double"), 8),
        DType.I64 => (MpiNative.Export("ompi_mpi_int64_t"), 8),
        DType.Bool => (MpiNative.Export("ompi_mpi_c_bool"), 1),
        _ => throw new NotSupportedException($"MPI: no MPI datatype for {dtype.TorchName()}."),
    };

    private static byte* Address(Tensor host) => (byte*)((CpuStorage)host.Storage).Pointer + host.Offset * host.DType.SizeOf();

    /// <summary>MPI counts are ints: larger buffers go in pieces of at most 2^30 elements.</summary>
    private static IEnumerable<(long Start, int Count)> Chunks(long total)
    {
        const long Piece = 1L << 30;
        for (long start = 0; start < total; start += Piece) yield return (start, (int)Math.Min(Piece, total - start));
    }

    private void ThrowIfBroken(string operation)
    {
        if (_broken is not null) throw new DistributedException($"{operation}: the process group failed earlier: {_broken}", []);
        if (_comm == 0) throw new ObjectDisposedException(nameof(MpiProcessGroup), $"{operation}: the MPI process group was disposed.");
    }

    private void Check(int code, string function)
    {
        if (code != MpiNative.Success)
            throw new DistributedException($"rank {_rank}: {function} failed: {MpiNative.ErrorString(code)}.", []);
    }

    /// <summary>
    /// MPI_Abort on the world: mpirun ends every rank and exits with <paramref name="exitCode"/>. (A plain exit
    /// can hang in OpenMPI's shutdown while a collective with a lost peer is pending.)
    /// </summary>
    public override void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        MpiNative.MPI_Abort(MpiNative.Export("ompi_mpi_comm_world"), exitCode);
        Environment.Exit(exitCode);
    }

    /// <summary>Frees the communicator and finalises MPI, unless a collective failed (then MPI is left as it is: finalising would wait for the lost rank).</summary>
    protected override void Dispose(bool disposing)
    {
        if (_comm == 0) return;
        if (_broken is not null) { _comm = 0; return; }
        nint c = _comm;
        MpiNative.MPI_Comm_free(&c);
        _comm = 0;
        lock (InitLock)
        {
            int finalized = 0;
            if (_initialised && MpiNative.MPI_Finalized(&finalized) == MpiNative.Success && finalized == 0) MpiNative.MPI_Finalize();
        }
    }
}

/// <summary>A non-blocking collective in flight (its MPI requests; a completed one is 0).</summary>
internal sealed class PendingCollective(List<nint> requests, string what)
{
    public List<nint> Requests { get; } = requests;
    public string What { get; } = what;

    /// <summary>A collective that ran to completion when it was started.</summary>
    public static PendingCollective Completed => new([], "");
}
