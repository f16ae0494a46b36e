using Engine.Autograd;
using Engine.Backends;
using Engine.Cuda.Memory;
using Engine.Cuda.Native;
using Engine.Cuda.Runtime;
using Engine.Diagnostics;
using Engine.Models.Explore;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Explore;

/// <summary>
/// The profiler and the traced step on a CUDA device (the emulator in CI): device times from pooled CUDA events
/// read after one wait, the device allocator's timeline, and the same ops and tape as on the CPU. Reads the
/// device allocator's counters, so it runs alone.
/// </summary>
[Collection(SerialCollection.Name)]
public class ProfilerGpuTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    private static void ReturnDroppedTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Devices.EmptyCache(Gpu);
    }

    private static long Block(long bytes) => (long)CachingAllocator.SizeClass((ulong)bytes);

    private static void AssertTimesPartitionTheRun(IReadOnlyList<ProfileEvent> events)
    {
        Assert.Equal(0, events[0].AtMs);
        for (int i = 1; i < events.Count; i++)
        {
            Assert.True(events[i].GapMs >= 0 && events[i].HostGapMs >= 0, $"event {i} ({events[i].Label}): gap {events[i].GapMs} ms, host {events[i].HostGapMs} ms");
            Assert.Equal(events[i - 1].AtMs + events[i].GapMs, events[i].AtMs, 9);
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_memory_timeline_rises_in_the_forward_and_ends_with_what_is_still_held()
    {
        ReturnDroppedTensors();
        using var scope = Tensor.Scope();
        var a = Tensor.Randn([512, 1024], DType.F32, Gpu).RequiresGradInPlace(); // 2 MiB
        var b = Tensor.Randn([512, 1024], DType.F32, Gpu);
        long start = Devices.Memory(Gpu).Allocated;
        using var profiler = Profiler.Start(Gpu);
        var c = a * b;
        var d = c.Exp();
        var loss = d.Sum();
        profiler.Mark("forward");
        loss.Backward();
        profiler.Mark("backward");
        profiler.Stop();

        var events = profiler.Events;
        Assert.Equal(Gpu, profiler.Device);
        Assert.Equal(["start", "mul", "exp", "sum", "forward", "sum", "exp", "mul", "backward"], events.Select(e => e.Label));
        long mib2 = Block(2 << 20), scalar = Block(4);
        Assert.Equal(start, events[0].AllocatedBytes);
        Assert.Equal(start + mib2, events[1].AllocatedBytes);              // c
        Assert.Equal(start + 2 * mib2, events[2].AllocatedBytes);          // and d
        Assert.Equal(start + 2 * mib2 + scalar, events[4].AllocatedBytes); // and the loss: the forward's top
        // After the backward the step's gradients are gone but a's: c, d, the loss and a.grad are held.
        Assert.Equal(start + 3 * mib2 + scalar, events[^1].AllocatedBytes);
        Assert.Equal(Devices.Memory(Gpu).Allocated, events[^1].AllocatedBytes);
        for (int i = 1; i < events.Count; i++)
        {
            Assert.Equal(events[i].AllocatedBytes - events[i - 1].AllocatedBytes, events[i].AllocatedDelta);
            Assert.True(events[i].PeakBytes >= Math.Max(events[i].AllocatedBytes, events[i - 1].PeakBytes), $"event {i}: peak");
        }
        Assert.True(profiler.PeakBytes >= start + 3 * mib2 + scalar);
        AssertTimesPartitionTheRun(events);
        var table = profiler.FormatByOp();
        Assert.Contains("host f/b ms", table);
        Assert.Contains("on cuda:0 (CUDA events", table);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Profiling_waits_for_the_device_once_and_reuses_its_events()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([64, 64], DType.F32, Gpu).RequiresGradInPlace();
        var pool = TimingEventPool.For(CudaDevice.For(Gpu));

        void Step(Profiler? profiler)
        {
            var loss = x.MatMul(x).Tanh().Sum();
            profiler?.Mark("forward");
            loss.Backward();
            x.Grad = null;
        }

        Step(null);
        Devices.Synchronize(Gpu);
        long created = pool.Created;
        Step(null);
        Assert.Equal(created, pool.Created); // no profiler, no events

        long waits = Driver.HostWaitsOnThisThread;
        var first = Profiler.Start(Gpu);
        Step(first);
        Assert.Equal(waits, Driver.HostWaitsOnThisThread); // no wait per op
        first.Stop();
        Assert.Equal(waits + 1, Driver.HostWaitsOnThisThread); // one, for the last event
        Assert.Equal(8, first.Events.Count);
        Assert.Equal(waits + 1, Driver.HostWaitsOnThisThread); // read once, kept
        AssertTimesPartitionTheRun(first.Events);

        long afterFirst = pool.Created;
        Assert.True(pool.Idle >= first.Events.Count, $"{pool.Idle} idle events after the profile");
        using (var second = Profiler.Start(Gpu)) Step(second);
        Assert.Equal(afterFirst, pool.Created); // the second profile took the first one's events
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_node_recorded_inside_another_op_gets_its_own_span_as_on_the_cpu()
    {
        string Run(Device device, out IReadOnlyList<ProfileEvent> events)
        {
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([32, 32], DType.F32, device).RequiresGradInPlace();
            using var profiler = Profiler.Start(device);
            // An op made of recorded ops: the inner tanh is recorded while the outer op runs, then the outer node.
            var inner = x.Tanh();
            var y = inner * 2;
            Tensor z;
            using (Tape.NoGrad()) z = y.Clone();
            Tape.Record("outer", [x], [z], g => [g[0] * (1 - inner.Detach() * inner.Detach()) * 2]);
            z.Sum().Backward();
            profiler.Stop();
            events = profiler.Events;
            return string.Join(" ", events.Select(e => $"{e.Phase}:{e.Label}"));
        }

        var cpu = Run(Device.Cpu, out _);
        var gpu = Run(Gpu, out var gpuEvents);
        Assert.Equal(cpu, gpu);
        Assert.Equal("Start:start Forward:tanh Forward:affine Forward:outer Forward:sum Backward:sum Backward:outer", gpu);
        AssertTimesPartitionTheRun(gpuEvents);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_step_whose_model_or_labels_are_elsewhere_says_which_and_where()
    {
        using var model = ExploreData.Model("cnn");
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        using (var x = images.ToDevice(Gpu))
        {
            var e = Assert.Throws<ArgumentException>(() => TrainingStepTrace.Run(model, x, labels, warmupSteps: 0));
            Assert.Contains("images are on cuda:0 but the labels are on cpu", e.Message);
            using var y = labels.ToDevice(Gpu);
            e = Assert.Throws<ArgumentException>(() => TrainingStepTrace.Run(model, x, y, warmupSteps: 0));
            Assert.Contains("parameter features.0.weight [32, 3, 3, 3] is on cpu; move the model with ToDevice(cuda:0)", e.Message);
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_step_on_the_device_has_the_cpus_ops_in_order_and_the_same_tape()
    {
        TrainingStepTrace Trace(Device device)
        {
            var model = ExploreData.Model("cnn");
            var (images, labels) = ExploreData.EvalImages(2);
            using (model)
            using (images)
            using (labels)
            {
                if (device == Device.Cpu) return TrainingStepTrace.Run(model, images, labels, warmupSteps: 1);
                model.ToDevice(device);
                using var x = images.ToDevice(device);
                using var y = labels.ToDevice(device);
                return TrainingStepTrace.Run(model, x, y, warmupSteps: 1);
            }
        }

        using var cpu = Trace(Device.Cpu);
        using var gpu = Trace(Gpu);
        Assert.Equal(Gpu, gpu.Device);
        string Order(TrainingStepTrace t) => string.Join(" ", t.Profile.Events.Select(e => $"{e.Phase}:{e.Label}"));
        Assert.Equal(Order(cpu), Order(gpu));
        Assert.Contains("Forward:conv2d", Order(gpu));
        Assert.Contains("Backward:cross_entropy", Order(gpu));
        AssertTimesPartitionTheRun(gpu.Profile.Events);
        Assert.Equal(cpu.LossValue, gpu.LossValue, 3);

        // The tape's structure is the CPU's: the graph, and the table but for its two time columns.
        Assert.Equal(cpu.Dot, gpu.Dot);
        static string Untimed(string table) => string.Join("\n", table.Split('\n').Select(l => string.Join(" ", l.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(2))));
        Assert.Equal(Untimed(cpu.Table), Untimed(gpu.Table));
        // On the device the table's times are the profile's (CUDA events), not the nodes' host stopwatch.
        var times = gpu.Profile.NodeTimes();
        var first = gpu.Nodes[0];
        Assert.Contains(times[first.Sequence].Forward.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture), gpu.Table.Split('\n')[1]);

        // Memory is the device's: it rises through the forward and the step ends below its forward top.
        var events = gpu.Profile.Events;
        int forward = events.Select((e, i) => (e, i)).First(p => p.e.Label == "forward").i;
        Assert.True(events[forward].AllocatedBytes > events[0].AllocatedBytes);
        Assert.True(events[^1].AllocatedBytes < events[forward].AllocatedBytes);
        Assert.True(events.Take(forward).Skip(1).Count(e => e.AllocatedDelta > 0) >= 8, "the forward's ops allocate their outputs on the device");
    }
}
