using System.Xml.Linq;
using Engine.Autograd;
using Engine.Diagnostics;
using Engine.Models.Explore;
using Xunit;

namespace Engine.Tests.Explore;

/// <summary>Reads the process-wide allocator counters, so it runs alone.</summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class ProfilerTests
{
    private sealed class Recorder : ITapeListener
    {
        public List<string> Seen { get; } = [];
        public void NodeRecorded(Node node) => Seen.Add("+" + node.Op);
        public void BackwardRan(Node node) => Seen.Add("-" + node.Op);
    }

    [Fact]
    public void ListenersSeeEveryNodeForwardThenBackwardAndNestByRestoring()
    {
        var outer = new Recorder();
        var inner = new Recorder();
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([3, 2], DType.F64).RequiresGradInPlace();
        using (TapeListeners.Listen(outer))
        {
            var y = x.Tanh();
            using (TapeListeners.Listen(inner))
            {
                y.Sum().Backward();
            }
            Assert.Same(outer, TapeListeners.Current);
        }
        Assert.Null(TapeListeners.Current);
        Assert.Equal(["+tanh"], outer.Seen);
        Assert.Equal(["+sum", "-sum", "-tanh"], inner.Seen);
    }

    [Fact]
    public void EventsCarryTheMemoryEachOpAllocatedAndThePeak()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.Randn([256, 1024]).RequiresGradInPlace(); // 1 MiB of float32
        var b = Tensor.Randn([256, 1024]);
        long before = CpuStorage.LiveBytes;
        using var profiler = Profiler.Start();
        var c = a * b;
        var d = c.Exp();
        var loss = d.Sum();
        profiler.Mark("forward");
        loss.Backward();
        profiler.Mark("backward");
        profiler.Stop();

        var events = profiler.Events;
        Assert.Equal(ProfilePhase.Start, events[0].Phase);
        Assert.Equal(["mul", "exp", "sum", "forward", "sum", "exp", "mul", "backward"], events.Skip(1).Select(e => e.Label));
        Assert.Equal(ProfilePhase.Backward, events[5].Phase);
        var mul = events[1];
        Assert.Equal(1L << 20, mul.OutputBytes);
        Assert.Equal(1L << 20, mul.AllocatedDelta); // just the product
        Assert.True(mul.SavedBytes >= 1L << 20);    // b, for the gradient of a
        Assert.Equal(before + (1L << 20), mul.AllocatedBytes);
        for (int i = 0; i < events.Count; i++)
        {
            Assert.True(events[i].PeakBytes >= events[i].AllocatedBytes, $"event {i}: peak below allocated");
            if (i > 0) Assert.True(events[i].PeakBytes >= events[i - 1].PeakBytes && events[i].AtMs >= events[i - 1].AtMs);
            if (i > 0) Assert.Equal(events[i].AllocatedBytes - events[i - 1].AllocatedBytes, events[i].AllocatedDelta);
        }
        Assert.True(profiler.PeakBytes >= before + (2L << 20));

        var byOp = profiler.ByOp();
        Assert.Equal(["exp", "mul", "sum"], byOp.Select(p => p.Op).Order());
        Assert.All(byOp, p => Assert.Equal((1, 1), (p.Calls, p.BackwardCalls)));
        var table = profiler.FormatByOp();
        Assert.Contains("exp", table);
        Assert.Contains("peak", table);

        // Nothing more is heard once stopped.
        var more = a.Tanh();
        Assert.Equal(events.Count, profiler.Events.Count);
    }

    [Fact]
    public void TheMemoryTimelineIsACsvWithOneRowPerEvent()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.Randn([64, 64]).RequiresGradInPlace();
        using var profiler = Profiler.Start();
        var loss = a.MatMul(a).Relu().Sum();
        profiler.Mark("forward");
        loss.Backward();
        profiler.Mark("backward");
        profiler.Stop();

        var csv = MemoryTimeline.ToCsv(profiler.Events).TrimEnd().Split('\n');
        Assert.Equal(profiler.Events.Count + 1, csv.Length);
        Assert.StartsWith("index,phase,label", csv[0]);
        Assert.Contains(",forward,matmul,", csv[2]); // row 0 is the start
    }

    [Fact]
    public void ATracedStepFreesItsTensorsAndKeepsOnlyTheLoss()
    {
        using var model = ExploreData.Model("cnn");
        var (images, labels) = ExploreData.EvalImages(4);
        using (images)
        using (labels)
        {
            // Storages other tests leaked would otherwise be finalized in the middle of the count.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long before = CpuStorage.LiveBytes;
            using (var trace = TrainingStepTrace.Run(model, images, labels, warmupSteps: 1))
            {
                Assert.InRange(CpuStorage.LiveBytes - before, 0, 64); // the loss, a scalar
                Assert.Equal(11, trace.Nodes.Count);
                Assert.True(trace.Profile.PeakBytes > before + (1 << 20));
            }
            Assert.Equal(before, CpuStorage.LiveBytes);
        }
    }

    [Fact]
    public void TheCpuTimelineReadsAStopwatchAndTheCpuAllocator()
    {
        using var timeline = Engine.Backends.Devices.StartTimeline(Device.Cpu);
        Assert.Equal(Device.Cpu, timeline.Device);
        Assert.Equal(0, timeline.Mark());
        using (var scope = Tensor.Scope())
        {
            var t = Tensor.Zeros([1 << 16]);
            Assert.Equal(1, timeline.Mark());
            Assert.Equal((CpuStorage.LiveBytes, Engine.Cpu.CpuAllocator.CachedBytes, CpuStorage.PeakBytes), timeline.Memory());
        }
        Thread.Sleep(2);
        timeline.Mark();
        var times = timeline.Read();
        Assert.Equal(3, times.Length);
        Assert.Equal(0, times[0]);
        Assert.True(times[1] >= 0 && times[2] >= times[1] + 1, string.Join(", ", times));
    }

    [Fact]
    public void PeakBytesCanStartAgain()
    {
        using (var scope = Tensor.Scope()) Tensor.Zeros([1 << 20]);
        CpuStorage.ResetPeakBytes();
        Assert.Equal(CpuStorage.LiveBytes, CpuStorage.PeakBytes);
        long rents = Engine.Cpu.CpuAllocator.Rents;
        using (var scope = Tensor.Scope()) Tensor.Zeros([1 << 20]);
        Assert.True(CpuStorage.PeakBytes >= CpuStorage.LiveBytes + (4L << 20));
        Assert.Equal(rents + 1, Engine.Cpu.CpuAllocator.Rents);
        Assert.Equal(Engine.Cpu.CpuAllocator.Rents, Engine.Cpu.CpuAllocator.CacheHits + Engine.Cpu.CpuAllocator.SystemAllocations);
    }
}
