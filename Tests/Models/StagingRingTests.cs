using System.Collections.Concurrent;
using Engine.Cuda.Native;
using Engine.Models.Data;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// The data loader's staging ring (StagingRing, the slots a background thread fills and the consumer uploads):
/// its order, its reuse of slots only after the device has read them, and its errors, with a fake staging on
/// the CPU whose copies finish when the test says; then the CUDA staging (pinned slots, asynchronous copies)
/// on the emulated GPU.
/// </summary>
public class StagingRingTests
{
    /// <summary>Host slots; an upload copies them into CPU tensors and, when holding, leaves the slot "in flight" until <see cref="Complete"/>.</summary>
    private sealed class FakeStaging(int slots, long bytes, bool hold) : IBatchStaging
    {
        private readonly byte[][] _memory = Enumerable.Range(0, slots).Select(_ => new byte[bytes]).ToArray();
        private readonly ManualResetEventSlim[] _copied = Enumerable.Range(0, slots).Select(_ => new ManualResetEventSlim(true)).ToArray();
        public ConcurrentQueue<string> Log { get; } = new();
        public bool Disposed { get; private set; }
        public int Slots => slots;

        public Span<byte> Slot(int slot)
        {
            Assert.True(_copied[slot].IsSet, $"slot {slot} handed to the producer while its copy is in flight");
            Log.Enqueue($"fill {slot}");
            return _memory[slot];
        }

        public void WaitReusable(int slot)
        {
            Log.Enqueue($"wait {slot}");
            Assert.True(_copied[slot].Wait(TimeSpan.FromSeconds(30)), $"slot {slot} never completed");
        }

        public (Tensor Images, Tensor Targets) Upload(int slot, int[] imageShape, int targetOffset, int[] targetShape, DType targetDType)
        {
            Log.Enqueue($"upload {slot}");
            var span = _memory[slot].AsSpan();
            var images = Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span)[..(int)Layout.Count(imageShape)], imageShape);
            var targets = targetDType == DType.I64
                ? Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span[targetOffset..])[..(int)Layout.Count(targetShape)], targetShape)
                : Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span[targetOffset..])[..(int)Layout.Count(targetShape)], targetShape);
            if (hold) _copied[slot].Reset();
            return (images, targets);
        }

        public void Complete(int slot) => _copied[slot].Set();

        public int Count(string entry) => Log.Count(e => e == entry);

        public void Dispose() => Disposed = true;
    }

    private static DataLoader Loader(IBatchTransform? mix = null, int prefetch = 1) =>
        new(new SyntheticDataset(70, classes: 5, channels: 1, height: 12, width: 12, seed: 4), batchSize: 8, shuffle: true, seed: 9,
            transform: new Compose([new RandomCrop(12, padding: 2), new RandomHorizontalFlip(0.5)]), prefetch: prefetch, batchTransform: mix);

    private static (float[] Images, float[] Targets, int[] Indices, int Index) Read(Batch b) =>
        (b.Images.ToArray<float>(), b.HasSoftTargets ? b.Labels.ToArray<float>() : b.Labels.ToDType(DType.F32).ToArray<float>(), b.Indices.ToArray(), b.Index);

    private static void AssertSameBatches(IEnumerable<Batch> expected, IEnumerable<Batch> actual)
    {
        var e = expected.Select(b => { using (b) return Read(b); }).ToList();
        var a = actual.Select(b => { using (b) return Read(b); }).ToList();
        Assert.Equal(e.Count, a.Count);
        for (int i = 0; i < e.Count; i++)
        {
            Assert.Equal(e[i].Index, a[i].Index);
            Assert.Equal(e[i].Indices, a[i].Indices);
            Assert.Equal(e[i].Images, a[i].Images);
            Assert.Equal(e[i].Targets, a[i].Targets);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Batches_come_in_order_equal_to_the_direct_loader_and_slots_go_round(bool softTargets)
    {
        var loader = Loader(softTargets ? new Mixup(0.4) : null);
        FakeStaging? staging = null;
        AssertSameBatches(loader.Epoch(1), loader.Staged(1, 0, () => staging = new FakeStaging(3, loader.SlotBytes, hold: false)));
        Assert.True(staging!.Disposed);
        var uploads = staging.Log.Where(e => e.StartsWith("upload", StringComparison.Ordinal)).ToArray();
        Assert.Equal(loader.BatchesPerEpoch, uploads.Length);
        Assert.Equal(Enumerable.Range(0, uploads.Length).Select(i => $"upload {i % 3}"), uploads);
        // Resuming inside an epoch gives the same tail.
        AssertSameBatches(loader.Epoch(1, 6), loader.Staged(1, 6, () => new FakeStaging(3, loader.SlotBytes, hold: false)));
    }

    [Fact]
    public void A_slot_is_refilled_only_after_the_device_has_read_it()
    {
        var loader = Loader();
        var staging = new FakeStaging(2, loader.SlotBytes, hold: true);
        var direct = loader.Epoch(0).Select(b => { using (b) return Read(b); }).ToList();
        using var batches = loader.Staged(0, 0, () => staging).GetEnumerator();

        Assert.True(batches.MoveNext());                   // batch 0 from slot 0: its copy is now in flight
        using (batches.Current) Assert.Equal(direct[0].Images, Read(batches.Current).Images);
        Assert.True(SpinWait.SpinUntil(() => staging.Count("wait 0") == 2, TimeSpan.FromSeconds(30)), "the producer should come back to slot 0");
        Thread.Sleep(200);
        Assert.Equal(1, staging.Count("fill 0"));          // still waiting: slot 0 is not overwritten
        Assert.Equal(1, staging.Count("fill 1"));          // batch 1 is staged meanwhile
        staging.Complete(0);
        Assert.True(SpinWait.SpinUntil(() => staging.Count("fill 0") == 2, TimeSpan.FromSeconds(30)));

        for (int b = 1; b < loader.BatchesPerEpoch; b++)
        {
            Assert.True(batches.MoveNext());
            using (batches.Current)
            {
                Assert.Equal(b, batches.Current.Index);
                Assert.Equal(direct[b].Images, Read(batches.Current).Images);
            }
            staging.Complete(b % 2);
        }
        Assert.False(batches.MoveNext());
    }

    [Fact]
    public void A_producer_error_comes_at_its_batch_and_leaving_early_stops_the_producer()
    {
        var broken = new DataLoader(new SubsetDataset(new BrokenAt(70, 19), 70), batchSize: 8, prefetch: 1);
        var seen = new List<int>();
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var b in broken.Staged(0, 0, () => new FakeStaging(3, broken.SlotBytes, hold: false))) using (b) seen.Add(b.Index);
        });
        Assert.Contains("example 19", e.Message);
        Assert.Equal([0, 1], seen);                        // example 19 is in batch 2

        var loader = Loader();
        FakeStaging? staging = null;
        foreach (var b in loader.Staged(0, 0, () => staging = new FakeStaging(3, loader.SlotBytes, hold: false)))
        {
            b.Dispose();
            break;
        }
        Assert.True(staging!.Disposed);
    }

    private sealed class BrokenAt(int count, int index) : IDataset
    {
        private readonly SyntheticDataset _inner = new(count, classes: 3, height: 4, width: 4);
        public string Name => "broken";
        public int Count => count;
        public ImageShape Shape => _inner.Shape;
        public IReadOnlyList<string> ClassNames => _inner.ClassNames;
        public int LabelAt(int i) => _inner.LabelAt(i);
        public Sample Get(int i) => i == index ? throw new InvalidDataException($"example {i} is broken") : _inner.Get(i);
    }

    /// <summary>On the (emulated) GPU: the same batches as the CPU's, and the enumerating thread never waits for a copy.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Cuda_batches_equal_the_CPU_batches_and_the_consumer_never_waits()
    {
        var gpu = Device.Cuda(0);
        foreach (var (loader, epoch, start) in new[] { (Loader(), 0, 0), (Loader(new Mixup(0.4), prefetch: 0), 1, 3) })
        {
            var held = new List<Batch>();
            long waitsBefore = Driver.HostWaitsOnThisThread, waitsAtLastBatch = -1;
            foreach (var batch in loader.Epoch(epoch, start, gpu))
            {
                Assert.Equal(gpu, batch.Images.Device);
                Assert.Equal(gpu, batch.Labels.Device);
                held.Add(batch);
                waitsAtLastBatch = Driver.HostWaitsOnThisThread;
            }
            // Uploads are queued, never waited for; only the end of the epoch waits, for the copies still in flight.
            Assert.Equal(waitsBefore, waitsAtLastBatch);
            AssertSameBatches(loader.Epoch(epoch, start), held);
        }
    }
}
