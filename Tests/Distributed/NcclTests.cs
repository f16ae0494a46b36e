using Engine.Distributed;
using Engine.Models.Distributed;
using Engine.Models.Nn;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Distributed;

/// <summary>
/// The NCCL group on the CUDA emulator's NCCL (a world of one: its collectives copy on the stream), the TCP
/// rendezvous of NCCL's id between threads, and torchrun's variables. Several GPUs need a GPU host.
/// </summary>
public class NcclTests
{
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void World_of_one_collectives_on_every_dtype_run_on_the_device()
    {
        using var scope = Tensor.Scope();
        using var group = ProcessGroups.CreateNccl(_ => null);
        Assert.Equal(("nccl", 0, 1), (group.Backend, group.Rank, group.WorldSize));
        Assert.Equal(Device.Cuda(0), group.CollectiveDevice);
        foreach (var dtype in new[] { DType.F32, DType.F64, DType.I64, DType.Bool })
        {
            var x = Tensor.FromArray(new[] { 1.0, 0.0, 3.0 }).ToDType(dtype).ToDevice(Device.Cuda(0));
            group.AllReduce(x);
            group.Broadcast(x, 0);
            Assert.Equal(new[] { 1.0, 0.0, dtype == DType.Bool ? 1.0 : 3.0 }, x.ToArray<double>());
            var gathered = group.AllGather(x);
            Assert.Equal([1, 3], gathered.Shape);
            Assert.Equal(Device.Cuda(0), gathered.Device);
            Assert.Equal(x.ToArray<double>(), gathered.ToArray<double>());
        }
        var f = Tensor.FromArray(new[] { 2.0, 4.0, 6.0, 8.0 }).ToDevice(Device.Cuda(0));
        var strided = f.Slice(0, 0, 4, 2);
        Assert.Equal(new[] { 2.0, 6.0 }, group.AllReduced(strided, ReduceOp.Average).ToArray<double>());
        group.AllReduce(strided);
        Assert.Equal(new[] { 2.0, 4.0, 6.0, 8.0 }, f.ToArray<double>());
        group.Barrier();
        // A host tensor goes through a copy on the rank's GPU and comes back where it was.
        var host = Tensor.FromArray(new[] { 5L, 6L });
        group.AllReduce(host);
        Assert.Equal(Device.Cpu, host.Device);
        Assert.Equal(new[] { 5L, 6L }, host.ToArray<long>());
    }

    private sealed class Affine : Module<Tensor, Tensor>
    {
        public Affine(Device device)
        {
            RegisterParameter("weight", Tensor.Randn([4, 3], DType.F64, generator: new Generator(1)).ToDevice(device).RequiresGradInPlace());
            RegisterParameter("bias", Tensor.Randn([3], DType.F64, generator: new Generator(2)).ToDevice(device).RequiresGradInPlace());
        }

        public override Tensor Forward(Tensor input) => input.MatMul(GetParameter("weight")!).Add(GetParameter("bias")!);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Ddp_over_nccl_keeps_its_buckets_on_the_gpu_and_the_gradients_of_one_process()
    {
        using var scope = Tensor.Scope();
        using var group = ProcessGroups.CreateNccl(_ => null);
        var gpu = Device.Cuda(0);
        using var model = new Affine(gpu);
        var x = Tensor.Randn([5, 4], DType.F64, generator: new Generator(3)).ToDevice(gpu);
        model.Call(x).Tanh().Sum().Backward();
        var expected = model.Parameters().Select(p => p.Grad!.ToArray<double>()).ToList();
        model.ZeroGrad();
        using var ddp = new DistributedDataParallel(model, group, bucketCapBytes: 64);
        ddp.Call(x).Tanh().Sum().Backward();
        ddp.FinishGradientSync();
        Assert.Equal(2, ddp.BucketsLaunchedDuringBackward);
        Assert.All(model.Parameters(), p => Assert.Equal(gpu, p.Grad!.Device));
        Assert.Equal(expected, model.Parameters().Select(p => p.Grad!.ToArray<double>()).ToList());
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_world_of_two_is_refused_by_the_emulator_with_nccl_own_message()
    {
        var ex = Assert.Throws<DistributedException>(() => new NcclProcessGroup(0, 2, 0, new FixedId()));
        Assert.Contains("ncclCommInitRank failed: invalid usage", ex.Message);
    }

    private sealed class FixedId : NcclRendezvous
    {
        public override void Share(Span<byte> id, int rank, int worldSize) { }
    }

    [Fact]
    public void Tcp_rendezvous_hands_rank_0s_id_to_every_rank()
    {
        int port = 29600 + Environment.ProcessId % 300;
        var ids = new byte[3][];
        var threads = Enumerable.Range(0, 3).Select(rank => new Thread(() =>
        {
            var id = new byte[128];
            if (rank == 0) for (int i = 0; i < id.Length; i++) id[i] = (byte)(i * 7 + 1);
            NcclRendezvous.Tcp("127.0.0.1", port, TimeSpan.FromSeconds(30)).Share(id, rank, 3);
            ids[rank] = id;
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60))));
        Assert.All(ids, id => Assert.Equal(ids[0], id));
        Assert.Equal(8, ids[2][1]);
    }

    [Fact]
    public void Torchrun_variables_are_read_and_bad_ones_named()
    {
        var vars = new Dictionary<string, string> { ["RANK"] = "1", ["WORLD_SIZE"] = "4", ["LOCAL_RANK"] = "1", ["MASTER_ADDR"] = "node1", ["MASTER_PORT"] = "29500" };
        var env = TorchrunEnvironment.Read(vars.GetValueOrDefault)!;
        Assert.Equal(new TorchrunEnvironment(1, 4, 1, "node1", 29500), env);
        Assert.Equal(29501, env.RendezvousPort);
        Assert.Null(TorchrunEnvironment.Read(_ => null));
        vars["ENGINE_RENDEZVOUS_PORT"] = "30000";
        Assert.Equal(30000, TorchrunEnvironment.Read(vars.GetValueOrDefault)!.RendezvousPort);
        vars.Remove("MASTER_ADDR");
        Assert.Contains("MASTER_ADDR is not set", Assert.Throws<ArgumentException>(() => TorchrunEnvironment.Read(vars.GetValueOrDefault)).Message);
        vars["MASTER_ADDR"] = "node1";
        vars["RANK"] = "4";
        Assert.Contains("RANK=4 is outside WORLD_SIZE=4", Assert.Throws<ArgumentException>(() => TorchrunEnvironment.Read(vars.GetValueOrDefault)).Message);
        vars["RANK"] = "x";
        Assert.Contains("RANK='x' is not a non-negative integer", Assert.Throws<ArgumentException>(() => TorchrunEnvironment.Read(vars.GetValueOrDefault)).Message);
    }
}
