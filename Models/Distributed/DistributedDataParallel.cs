using Engine.Distributed;
using Engine.Models.Nn;

namespace Engine.Models.Distributed;

/// <summary>
/// Data-parallel training of one module over a <see cref="ProcessGroup"/>, as PyTorch's
/// <c>DistributedDataParallel</c>: every rank holds a full replica, runs forward and backward on its own shard of
/// the batch, and ends the backward with gradients averaged over the ranks, so that the optimizer takes the same
/// step everywhere.
/// <list type="bullet">
/// <item>At construction parameters and buffers are broadcast from rank 0, so every replica starts identical.</item>
/// <item>Gradients go in buckets of about <c>bucketCapBytes</c> (25 MB, PyTorch's default), filled in the reverse
/// order of registration (roughly the order the backward produces them). A hook on each parameter
/// (<see cref="Tensor.RegisterPostAccumulateGradHook"/>) marks it ready; when a bucket's last gradient is ready its
/// all-reduce starts (non-blocking on MPI), while the rest of the backward runs.</item>
/// <item><see cref="FinishGradientSync"/> (call it after <c>Backward</c>, before the optimizer step) reduces the
/// buckets left (a parameter that got no gradient counts as zero), waits for all, and writes the averages back
/// into each <c>Grad</c>.</item>
/// <item><see cref="NoSync"/> skips the communication for gradient accumulation: gradients add up locally and the
/// first backward outside it reduces them all.</item>
/// <item>BatchNorm keeps local statistics (PyTorch's default); buffers are re-broadcast from rank 0 before each
/// forward when <c>broadcastBuffers</c> (also PyTorch's default), so evaluation uses rank 0's running statistics;
/// <see cref="SyncBatchNorm"/> makes them use the global batch instead.</item>
/// </list>
/// </summary>
public sealed class DistributedDataParallel : IDisposable
{
    /// <summary>PyTorch's default bucket size: 25 MiB.</summary>
    public const long DefaultBucketCapBytes = 25L * 1024 * 1024;

    private readonly List<Bucket> _buckets = [];
    private readonly Dictionary<Tensor, (Bucket Bucket, int Slot)> _where = new(ReferenceEqualityComparer.Instance);
    private readonly List<IDisposable> _hooks = [];
    private readonly bool _broadcastBuffers;
    private int _noSyncDepth;

    /// <summary>Wraps <paramref name="module"/> (not owned) and broadcasts its parameters and buffers from rank 0.</summary>
    public DistributedDataParallel(Module module, ProcessGroup group, long bucketCapBytes = DefaultBucketCapBytes, bool broadcastBuffers = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(group);
        if (bucketCapBytes <= 0) throw new ArgumentOutOfRangeException(nameof(bucketCapBytes), $"DistributedDataParallel: bucket_cap must be positive, got {bucketCapBytes} bytes.");
        (Module, Group, _broadcastBuffers) = (module, group, broadcastBuffers);
        using (Autograd.Tape.NoGrad())
        {
            foreach (var p in module.Parameters()) group.Broadcast(p, 0);
            BroadcastBuffers();
        }
        var trainable = module.Parameters().Where(p => p.RequiresGrad).Reverse().ToList();
        foreach (var group1 in trainable.GroupBy(p => p.DType))
        {
            var current = new List<Tensor>();
            long bytes = 0;
            foreach (var p in group1)
            {
                if (current.Count > 0 && bytes + p.NumEl * p.DType.SizeOf() > bucketCapBytes) { AddBucket(current); current = []; bytes = 0; }
                current.Add(p);
                bytes += p.NumEl * p.DType.SizeOf();
            }
            if (current.Count > 0) AddBucket(current);
        }
        foreach (var p in trainable) _hooks.Add(p.RegisterPostAccumulateGradHook(OnGradientReady));
    }

    /// <summary>The wrapped module.</summary>
    public Module Module { get; }

    /// <summary>The process group the gradients are averaged over.</summary>
    public ProcessGroup Group { get; }

    /// <summary>The buckets' sizes in elements, in launch order (for tests and diagnostics).</summary>
    public IReadOnlyList<long> BucketSizes => _buckets.Select(b => b.Flat.NumEl).ToList();

    /// <summary>How many buckets were launched from inside the last backward pass (the rest by <see cref="FinishGradientSync"/>).</summary>
    public int BucketsLaunchedDuringBackward { get; private set; }

    /// <summary>Rank 0's buffers (BatchNorm running statistics) copied to every rank.</summary>
    public void BroadcastBuffers()
    {
        using var noGrad = Autograd.Tape.NoGrad();
        foreach (var (_, b) in Module.NamedBuffers()) Group.Broadcast(b, 0);
    }

    /// <summary>Runs the module's forward on this rank's inputs (buffers re-broadcast first when asked at construction).</summary>
    public Tensor Call(Tensor input)
    {
        if (_broadcastBuffers && Group.WorldSize > 1 && Module.Training) BroadcastBuffers();
        return ((Module<Tensor, Tensor>)Module).Call(input);
    }

    /// <summary>
    /// Within the returned scope backward passes accumulate gradients locally without communicating (PyTorch's
    /// <c>no_sync()</c>); the first <see cref="FinishGradientSync"/> outside it averages everything accumulated.
    /// </summary>
    public IDisposable NoSync()
    {
        _noSyncDepth++;
        return new Scope(() => _noSyncDepth--);
    }

    /// <summary>
    /// Ends the gradient synchronisation of a backward pass: launches the buckets not yet launched, waits for all,
    /// and sets every parameter's gradient to the average over the ranks. Call it after <c>Backward</c>, before the
    /// optimizer step; inside <see cref="NoSync"/> it does nothing.
    /// </summary>
    public void FinishGradientSync()
    {
        if (_noSyncDepth > 0) { BucketsLaunchedDuringBackward = 0; return; }
        using var noGrad = Autograd.Tape.NoGrad();
        try
        {
            foreach (var b in _buckets)
                if (b.Pending is null) Launch(b);
            double scale = 1.0 / Group.WorldSize;
            foreach (var b in _buckets)
            {
                Group.WaitCollective(b.Pending!);
                if (Group.WorldSize > 1) b.Flat.MulInPlace(scale);
                int offset = 0;
                foreach (var p in b.Parameters)
                {
                    int n = checked((int)p.NumEl);
                    using var slice = b.Flat.Narrow(0, offset, n);
                    using var shaped = slice.View(p.Shape);
                    if (p.Grad is null) p.Grad = Tensor.Zeros(p.Shape, p.DType, p.Device);
                    p.Grad.CopyFrom(shaped);
                    offset += n;
                }
            }
        }
        finally
        {
            foreach (var b in _buckets) { b.Pending = null; Array.Clear(b.Ready); b.ReadyCount = 0; }
        }
        BucketsLaunchedDuringBackward = _launchedInBackward;
        _launchedInBackward = 0;
    }

    private int _launchedInBackward;

    private void OnGradientReady(Tensor parameter)
    {
        if (_noSyncDepth > 0 || !_where.TryGetValue(parameter, out var at)) return;
        var b = at.Bucket;
        if (b.Pending is not null || b.Ready[at.Slot]) return;
        b.Ready[at.Slot] = true;
        if (++b.ReadyCount < b.Parameters.Count) return;
        Launch(b);
        _launchedInBackward++;
        // Give MPI a chance to progress the buckets already in flight (it has no progress thread of its own).
        foreach (var other in _buckets)
            if (other.Pending is { } p) Group.PollCollective(p);
    }

    /// <summary>Copies the bucket's gradients (zeros for a parameter without one) into its flat buffer and starts its all-reduce.</summary>
    private void Launch(Bucket b)
    {
        int offset = 0;
        foreach (var p in b.Parameters)
        {
            int n = checked((int)p.NumEl);
            using var slice = b.Flat.Narrow(0, offset, n);
            if (p.Grad is null) slice.Fill(0);
            else
            {
                using var shaped = slice.View(p.Shape);
                shaped.CopyFrom(p.Grad);
            }
            offset += n;
        }
        b.Pending = Group.StartSumAllReduce(b.Flat);
    }

    private void AddBucket(List<Tensor> parameters)
    {
        long total = parameters.Sum(p => p.NumEl);
        // Buckets live where the backend reduces: host memory for MPI, the GPU for NCCL.
        var flat = Tensor.Zeros([checked((int)total)], parameters[0].DType, Group.CollectiveDevice ?? Device.Cpu).DetachFromScope();
        var bucket = new Bucket(parameters, flat);
        for (int i = 0; i < parameters.Count; i++) _where[parameters[i]] = (bucket, i);
        _buckets.Add(bucket);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var h in _hooks) h.Dispose();
        _hooks.Clear();
        foreach (var b in _buckets) b.Flat.Dispose();
        _buckets.Clear();
    }

    private sealed class Bucket(List<Tensor> parameters, Tensor flat)
    {
        public List<Tensor> Parameters { get; } = parameters;
        public Tensor Flat { get; } = flat;
        public bool[] Ready { get; } = new bool[parameters.Count];
        public int ReadyCount { get; set; }
        public PendingCollective? Pending { get; set; }
    }

    private sealed class Scope(Action onDispose) : IDisposable
    {
        private Action? _onDispose = onDispose;
        public void Dispose() { _onDispose?.Invoke(); _onDispose = null; }
    }
}
