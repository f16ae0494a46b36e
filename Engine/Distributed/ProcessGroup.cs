namespace Engine.Distributed;

/// <summary>How <see cref="ProcessGroup.AllReduce"/> combines the ranks' tensors (PyTorch's <c>ReduceOp</c>).</summary>
public enum ReduceOp
{
    /// <summary>The element-wise sum over ranks (logical or for Bool, as PyTorch's).</summary>
    Sum,
    /// <summary>The element-wise mean over ranks: the sum divided by the world size; floating-point dtypes only.</summary>
    Average,
}

/// <summary>
/// A group of processes that run the same program and exchange tensors with collective operations, as PyTorch's
/// <c>torch.distributed</c> process group. Every rank must call the same collectives in the same order with
/// tensors of the same shape and dtype. Collectives are blocking and fail (rather than hang) when a peer rank is
/// lost or does not join within <see cref="Timeout"/>. Backends: <see cref="SingleProcessGroup"/> (world size 1,
/// so the same training code runs without a launcher) and <see cref="MpiProcessGroup"/> (OpenMPI).
/// </summary>
public abstract class ProcessGroup : IDisposable
{
    /// <summary>This process's rank, 0 to <see cref="WorldSize"/> − 1.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of processes in the group.</summary>
    public abstract int WorldSize { get; }

    /// <summary>This process's rank among the processes on the same machine (to pick a GPU).</summary>
    public abstract int LocalRank { get; }

    /// <summary>The backend's name (single, mpi, nccl).</summary>
    public abstract string Backend { get; }

    /// <summary>How long a collective waits for the other ranks before failing (default 300 s; <c>ENGINE_DIST_TIMEOUT</c> seconds).</summary>
    public TimeSpan Timeout { get; set; } = DefaultTimeout();

    /// <summary>
    /// Debug mode: before each collective the ranks all-reduce a small header (operation, dtype, shape) and fail,
    /// naming both sides, when they disagree. Costs one extra tiny collective per call; off by default
    /// (<c>ENGINE_DIST_DEBUG=1</c> turns it on).
    /// </summary>
    public bool DebugChecks { get; set; } = Environment.GetEnvironmentVariable("ENGINE_DIST_DEBUG") is "1" or "true";

    /// <summary>
    /// Where the backend's collectives read and write: null for host memory (MPI: tensors on a device go through a
    /// host copy), or the one device whose memory the backend works on (NCCL: the rank's GPU).
    /// </summary>
    public virtual Device? CollectiveDevice => null;

    /// <summary>True when this process is rank 0 (the one that logs and writes checkpoints).</summary>
    public bool IsMain => Rank == 0;

    /// <summary>All-reduces <paramref name="tensor"/> in place: afterwards every rank holds the combined value.</summary>
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        Check(tensor, "all_reduce");
        if (op == ReduceOp.Average && !tensor.DType.IsFloatingPoint())
            throw new ArgumentException($"all_reduce: average needs a floating-point tensor, got {tensor.DType.TorchName()}.");
        if (DebugChecks) VerifyAgreement("all_reduce", tensor, (int)op);
        if (tensor.NumEl == 0) return;
        using var noGrad = Autograd.Tape.NoGrad();
        WithBuffer(tensor, writeBack: true, host => AllReduceHost(host, op));
        if (op == ReduceOp.Average && WorldSize > 1) tensor.MulInPlace(1.0 / WorldSize);
    }

    /// <summary>All-reduces a copy of <paramref name="tensor"/> and returns it (out of place); <paramref name="tensor"/> is unchanged.</summary>
    public Tensor AllReduced(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        Check(tensor, "all_reduce");
        Tensor copy;
        using (Autograd.Tape.NoGrad()) copy = tensor.Clone();
        try { AllReduce(copy, op); }
        catch { copy.Dispose(); throw; }
        return copy;
    }

    /// <summary>Overwrites <paramref name="tensor"/> on every rank with rank <paramref name="root"/>'s value.</summary>
    public void Broadcast(Tensor tensor, int root = 0)
    {
        Check(tensor, "broadcast");
        if (root < 0 || root >= WorldSize)
            throw new ArgumentOutOfRangeException(nameof(root), $"broadcast: root {root} is outside the group of {WorldSize} ranks.");
        if (DebugChecks) VerifyAgreement("broadcast", tensor, root);
        if (tensor.NumEl == 0) return;
        using var noGrad = Autograd.Tape.NoGrad();
        WithBuffer(tensor, writeBack: Rank != root, host => BroadcastHost(host, root));
    }

    /// <summary>
    /// Every rank's <paramref name="tensor"/>, stacked along a new first dimension of size <see cref="WorldSize"/>
    /// (rank order), returned on every rank.
    /// </summary>
    public Tensor AllGather(Tensor tensor)
    {
        Check(tensor, "all_gather");
        if (DebugChecks) VerifyAgreement("all_gather", tensor, 0);
        using var noGrad = Autograd.Tape.NoGrad();
        var where = CollectiveDevice ?? Device.Cpu;
        var output = Tensor.Empty([WorldSize, .. tensor.Shape], tensor.DType, where);
        try
        {
            if (tensor.NumEl > 0)
            {
                using var scope = Tensor.Scope();
                var input = tensor.ToDevice(where).Contiguous();
                AllGatherHost(input, output);
            }
            if (tensor.Device == where) return output;
            using (output) return output.ToDevice(tensor.Device);
        }
        catch { output.Dispose(); throw; }
    }

    /// <summary>Returns once every rank has called it (or fails after <see cref="Timeout"/>).</summary>
    public abstract void Barrier();

    /// <summary>
    /// Ends this process (and, where the backend can, the whole job) with <paramref name="exitCode"/>, without the
    /// orderly shutdown that would wait for a lost rank. Call it after a <see cref="DistributedException"/>.
    /// </summary>
    public virtual void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        Environment.Exit(exitCode);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the backend's resources.</summary>
    protected virtual void Dispose(bool disposing) { }

    /// <summary>Sum-reduces the contiguous tensor (on the CPU, or on <see cref="CollectiveDevice"/>) <paramref name="host"/> in place (average is applied by the caller).</summary>
    protected abstract void AllReduceHost(Tensor host, ReduceOp op);

    /// <summary>Broadcasts the contiguous tensor (CPU, or <see cref="CollectiveDevice"/>) <paramref name="host"/> from <paramref name="root"/> in place.</summary>
    protected abstract void BroadcastHost(Tensor host, int root);

    /// <summary>Gathers the contiguous <paramref name="input"/> (CPU, or <see cref="CollectiveDevice"/>) of every rank into <paramref name="output"/> ([world, ...input]).</summary>
    protected abstract void AllGatherHost(Tensor input, Tensor output);

    /// <summary>
    /// Starts an in-place sum all-reduce of the contiguous CPU tensor <paramref name="host"/> that may finish later
    /// (finish it with <see cref="WaitCollective"/>). Backends without non-blocking collectives run it at once.
    /// </summary>
    internal virtual PendingCollective StartSumAllReduce(Tensor host)
    {
        if (host.NumEl > 0) AllReduceHost(host, ReduceOp.Sum);
        return PendingCollective.Completed;
    }

    /// <summary>Lets the backend progress <paramref name="pending"/>; true once it has completed.</summary>
    internal virtual bool PollCollective(PendingCollective pending) => true;

    /// <summary>Waits for <paramref name="pending"/> (against <see cref="Timeout"/>).</summary>
    internal virtual void WaitCollective(PendingCollective pending) { }

    /// <summary>The debug check: every rank's header (operation, argument, dtype, shape) gathered and compared; throws naming both sides.</summary>
    internal void VerifyAgreement(string operation, Tensor tensor, int argument)
    {
        // Header: [op, argument, dtype, rank count, dims...] padded to 12 longs; each rank's copy is gathered.
        const int Words = 12;
        var header = new long[Words];
        header[0] = OperationCode(operation);
        header[1] = argument;
        header[2] = (long)tensor.DType;
        header[3] = tensor.Rank;
        for (int i = 0; i < Math.Min(tensor.Rank, Words - 4); i++) header[4 + i] = tensor.Shape[i];
        using var scope = Tensor.Scope();
        var mine = Tensor.FromArray(header).ToDevice(CollectiveDevice ?? Device.Cpu);
        var all = Tensor.Empty([WorldSize, Words], DType.I64, CollectiveDevice ?? Device.Cpu);
        AllGatherHost(mine, all);
        var rows = all.ToArray<long>();
        for (int r = 0; r < WorldSize; r++)
        {
            var theirs = rows.AsSpan(r * Words, Words);
            if (!theirs.SequenceEqual(header))
                throw new DistributedException(
                    $"{operation}: ranks disagree (debug check): rank {Rank} calls {Describe(header)} but rank {r} calls {Describe(theirs)}. " +
                    "Every rank must call the same collectives in the same order with tensors of the same shape and dtype.", []);
        }
    }

    private static long OperationCode(string operation) => operation switch
    {
        "all_reduce" => 1, "broadcast" => 2, "all_gather" => 3, _ => 0,
    };

    private static string Describe(ReadOnlySpan<long> h)
    {
        string op = h[0] switch { 1 => "all_reduce", 2 => "broadcast", 3 => "all_gather", _ => "?" };
        string arg = h[0] switch { 1 => $"op {(ReduceOp)h[1]}", 2 => $"root {h[1]}", _ => "" };
        var dims = string.Join(", ", h.Slice(4, (int)Math.Min(h[3], h.Length - 4)).ToArray());
        return $"{op}({arg}{(arg.Length > 0 ? ", " : "")}{((DType)h[2]).TorchName()}, shape [{dims}])";
    }

    /// <summary>Runs <paramref name="action"/> on a contiguous buffer with the tensor's data where the backend works, copying back when needed.</summary>
    private void WithBuffer(Tensor tensor, bool writeBack, Action<Tensor> action)
    {
        var where = CollectiveDevice ?? Device.Cpu;
        if (tensor.Device == where && tensor.IsContiguous)
        {
            action(tensor);
            if (writeBack) tensor.Storage.BumpVersion();
            return;
        }
        using var scope = Tensor.Scope();
        // A view with gaps or a device tensor: through a contiguous host copy (no CUDA-aware MPI is assumed).
        var host = tensor.Device == where ? tensor.Clone() : tensor.ToDevice(where);
        action(host);
        if (writeBack) tensor.CopyFrom(host);
    }

    private static void Check(Tensor tensor, string operation)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        tensor.ThrowIfDisposed(operation);
    }

    private static TimeSpan DefaultTimeout() =>
        double.TryParse(Environment.GetEnvironmentVariable("ENGINE_DIST_TIMEOUT"), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s) : TimeSpan.FromSeconds(300);
}
