using Engine.Cuda.Runtime;

namespace Engine.Distributed;

/// <summary>
/// A process group over NCCL for CUDA tensors: one GPU per rank (<c>cuda:LocalRank</c>), collectives queued on that
/// device's compute stream (the one every kernel of the engine runs on, so they are ordered with the backward's
/// kernels without a host wait). The communicator is made from a unique id that rank 0 draws and hands to the
/// others through <see cref="NcclRendezvous"/> (an existing process group such as MPI's, or torchrun's
/// MASTER_ADDR/MASTER_PORT). Bound and tested on the CUDA emulator for a world of one; several GPUs need a lent
/// GPU host to test (see docs/distributed.md). NCCL reports a lost peer only as a hang: the timeout of the other
/// backends does not apply here yet.
/// </summary>
public sealed unsafe class NcclProcessGroup : ProcessGroup
{
    private nint _comm;
    private readonly CudaDevice _device;

    /// <summary>Joins rank <paramref name="rank"/> of <paramref name="worldSize"/> on GPU <paramref name="localRank"/>, getting the unique id from <paramref name="rendezvous"/>.</summary>
    public NcclProcessGroup(int rank, int worldSize, int localRank, NcclRendezvous rendezvous)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
            throw new ArgumentOutOfRangeException(nameof(rank), $"nccl: rank {rank} is outside a world of {worldSize}.");
        ArgumentNullException.ThrowIfNull(rendezvous);
        (Rank, WorldSize, LocalRank) = (rank, worldSize, localRank);
        var device = Device.Cuda(localRank);
        Backends.Devices.Check(device, "nccl");
        _device = CudaDevice.For(device);
        NcclNative.UniqueId id = default;
        var bytes = new Span<byte>(&id, NcclNative.UniqueIdBytes);
        if (rank == 0) NcclNative.Check(NcclNative.ncclGetUniqueId(&id), "ncclGetUniqueId");
        rendezvous.Share(bytes, rank, worldSize);
        nint comm;
        _device.MakeCurrent();
        NcclNative.Check(NcclNative.ncclCommInitRank(&comm, worldSize, id, rank), "ncclCommInitRank");
        _comm = comm;
    }

    /// <inheritdoc/>
    public override int Rank { get; }
    /// <inheritdoc/>
    public override int WorldSize { get; }
    /// <inheritdoc/>
    public override int LocalRank { get; }
    /// <inheritdoc/>
    public override string Backend => "nccl";
    /// <inheritdoc/>
    public override Device? CollectiveDevice => _device.Device;

    /// <inheritdoc/>
    public override void Barrier()
    {
        // NCCL has no barrier: a one-element all-reduce, waited for.
        using var t = Tensor.Zeros([1], DType.F32, _device.Device);
        AllReduceHost(t, ReduceOp.Sum);
        Backends.Devices.Synchronize(_device.Device);
    }

    /// <inheritdoc/>
    protected override void AllReduceHost(Tensor tensor, ReduceOp op)
    {
        var (type, _) = Type(tensor.DType);
        var redOp = tensor.DType == DType.Bool ? NcclNative.RedOp.Max : NcclNative.RedOp.Sum;
        void* p = Pointer(tensor);
        NcclNative.Check(NcclNative.ncclAllReduce(p, p, (nuint)tensor.NumEl, type, redOp, Comm, _device.Stream), "ncclAllReduce");
    }

    /// <inheritdoc/>
    protected override void BroadcastHost(Tensor tensor, int root)
    {
        var (type, _) = Type(tensor.DType);
        void* p = Pointer(tensor);
        NcclNative.Check(NcclNative.ncclBroadcast(p, p, (nuint)tensor.NumEl, type, root, Comm, _device.Stream), "ncclBroadcast");
    }

    /// <inheritdoc/>
    protected override void AllGatherHost(Tensor input, Tensor output)
    {
        var (type, _) = Type(input.DType);
        NcclNative.Check(NcclNative.ncclAllGather(Pointer(input), Pointer(output), (nuint)input.NumEl, type, Comm, _device.Stream), "ncclAllGather");
    }

    private nint Comm => _comm != 0 ? _comm : throw new ObjectDisposedException(nameof(NcclProcessGroup), "nccl: the process group was disposed.");

    private void* Pointer(Tensor t)
    {
        if (t.Storage is not CudaStorage s || t.Device != _device.Device)
            throw new ArgumentException($"nccl: collectives take tensors on {_device.Device}, got a {t.DType.TorchName()} tensor on {t.Device}.");
        return (void*)s.Address(t.Offset);
    }

    private static (NcclNative.DataType Type, int Size) Type(DType dtype) => dtype switch
    {
        DType.F32 => (NcclNative.DataType.Float32, 4),
        DType.F64 => (NcclNative.DataType.Float64, 8),
        DType.I64 => (NcclNative.DataType.Int64, 8),
        DType.Bool => (NcclNative.DataType.Uint8, 1),
        _ => throw new NotSupportedException($"nccl: no NCCL datatype for {dtype.TorchName()}."),
    };

    /// <summary>Destroys the communicator.</summary>
    protected override void Dispose(bool disposing)
    {
        if (_comm == 0) return;
        Backends.Devices.Synchronize(_device.Device);
        NcclNative.ncclCommDestroy(_comm);
        _comm = 0;
    }
}
