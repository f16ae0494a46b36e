using Engine.Backends;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>
/// <see cref="Devices.Counters"/>: each primitive moves exactly the counts it should (an add is one launch and
/// no wait; a read is one wait; a GEMM is one cuBLAS call). Serial: the counts are the device's, and a test
/// running beside would move them.
/// </summary>
[Collection(SerialCollection.Name)]
public class DeviceCountersTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void An_add_launches_one_kernel_waits_for_nothing_and_reuses_a_cached_block()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new[] { 1f, 2f, 3f }).ToDevice(Gpu);
        var y = Tensor.FromArray(new[] { 10f, 20f, 30f }).ToDevice(Gpu);
        (x + y).Dispose();                                      // warm: the kernel is compiled, the block cached
        var before = Devices.Counters(Gpu);
        var z = x + y;
        var step = Devices.Counters(Gpu) - before;
        Assert.Equal(1, step.KernelLaunches);
        Assert.Equal(0, step.LibraryCalls);
        Assert.Equal(0, step.HostSyncs);
        Assert.Equal(1, step.AllocatorRequests);
        Assert.Equal(1, step.CacheHits);
        Assert.Equal(0, step.DeviceAllocations);
        Assert.Equal(new[] { 11f, 22f, 33f }, z.ToArray<float>());
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Item_is_one_read_and_one_host_sync()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Scalar(2.5, DType.F64).ToDevice(Gpu);
        var before = Devices.Counters(Gpu);
        Assert.Equal(2.5, x.Item());
        var read = Devices.Counters(Gpu) - before;
        Assert.Equal(1, read.HostSyncs);
        Assert.Equal(1, read.DeviceToHostCopies);
        Assert.Equal(0, read.KernelLaunches);
        Assert.Equal(0, read.HostToDeviceCopies);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_matmul_is_one_cublas_call_and_an_upload_is_counted()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.Ones([4, 8], DType.F32, Gpu);
        var b = Tensor.Ones([8, 3], DType.F32, Gpu);
        var before = Devices.Counters(Gpu);
        var c = a.MatMul(b);
        var gemm = Devices.Counters(Gpu) - before;
        Assert.Equal(1, gemm.LibraryCalls);
        Assert.Equal(0, gemm.HostSyncs);
        before = Devices.Counters(Gpu);
        Tensor.FromArray(new[] { 1.0, 2.0 }).ToDevice(Gpu);
        var upload = Devices.Counters(Gpu) - before;
        Assert.Equal(1, upload.HostToDeviceCopies);
        Assert.Equal(8f, c.ToArray<float>()[0]);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Synchronize_and_a_timer_are_one_host_sync_each()
    {
        var before = Devices.Counters(Gpu);
        Devices.Synchronize(Gpu);
        Assert.Equal(1, (Devices.Counters(Gpu) - before).HostSyncs);
        before = Devices.Counters(Gpu);
        using (var timer = Devices.StartTimer(Gpu)) timer.Stop();
        Assert.Equal(1, (Devices.Counters(Gpu) - before).HostSyncs);
    }

    /// <summary>
    /// Counting the batch (num_batches_tracked += 1) rides in the forward's two kernels, not a third launch, and
    /// the cumulative average (momentum = None) still weighs by the incremented count; an empty batch, which has
    /// no normalisation kernel, still counts.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_batch_norm_training_forward_counts_its_batch_without_a_launch_of_its_own()
    {
        using var scope = Tensor.Scope();
        var gen = new Engine.Randomness.Generator(5);
        var x = Tensor.Randn([4, 3, 2, 2], DType.F64, generator: gen).ToDevice(Gpu);
        var rm = Tensor.Zeros([3], DType.F64, Gpu);
        var rv = Tensor.Ones([3], DType.F64, Gpu);
        var counter = Tensor.Zeros([], DType.I64, Gpu);
        Engine.Ops.Functional.BatchNorm(x, rm, rv, training: true, momentum: null, numBatchesTracked: counter);   // warm: compiled
        var before = Devices.Counters(Gpu);
        Engine.Ops.Functional.BatchNorm(x, rm, rv, training: true, momentum: null, numBatchesTracked: counter);
        Assert.Equal(2, (Devices.Counters(Gpu) - before).KernelLaunches);                                            // statistics, normalisation
        Assert.Equal(2L, counter.ToArray<long>()[0]);
        // Two identical batches with momentum = None: the running mean is their mean, x's channel means (weight 1, then 1/2).
        var expected = x.ToDevice(Device.Cpu).Mean([0, 2, 3]).ToArray<double>();
        var actual = rm.ToArray<double>();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], actual[i], 12);
        Engine.Ops.Functional.BatchNorm(Tensor.Zeros([0, 3, 2, 2], DType.F64, Gpu), rm, rv, training: true, momentum: null, numBatchesTracked: counter);
        Assert.Equal(3L, counter.ToArray<long>()[0]);
    }

    [Fact]
    public void The_cpu_counts_nothing_and_snapshots_of_two_devices_do_not_subtract()
    {
        using var scope = Tensor.Scope();
        var before = Devices.Counters(Device.Cpu);
        (Tensor.Ones([3]) + Tensor.Ones([3])).Sum().Item();
        var cpu = Devices.Counters(Device.Cpu) - before;
        Assert.Equal(new DeviceCounters(Device.Cpu, 0, 0, 0, 0, 0, 0, 0, 0, 0), cpu);
        var other = new DeviceCounters(Device.Cuda(0), 1, 0, 0, 0, 0, 0, 0, 0, 0);
        var e = Assert.Throws<ArgumentException>(() => other - before);
        Assert.Contains("cuda:0", e.Message);
        Assert.Contains("cpu", e.Message);
    }
}
