using Engine.Backends;
using Engine.Cuda.Runtime;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>
/// Checks made on the device and reported at the host's next wait (<see cref="DeferredChecks"/>): in the thread that
/// made them, in the order they were made, once; a check never armed is never reported. The slots are written here
/// by copies instead of a kernel.
/// </summary>
public class DeferredChecksTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    private static DeferredChecks Checks => CudaDevice.For(Gpu).Checks;

    /// <summary>A check whose slot says "position 3 holds 42" when <paramref name="bad"/>, armed.</summary>
    private static DeferredCheck Made(string name, bool bad)
    {
        var check = Checks.Reserve((position, value) => new InvalidOperationException($"{name}: {value} at {position}"));
        if (bad)
        {
            using var found = Tensor.FromArray(new long[] { 3, 42 });
            check.Slot.CopyFrom(found);
        }
        check.Arm();
        return check;
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_first_failed_check_is_thrown_at_the_next_wait_of_its_thread_once()
    {
        Devices.Synchronize(Gpu);   // whatever an earlier test on this thread left
        using (Made("fine", bad: false)) { }
        using (Made("first", bad: true)) { }
        using (Made("second", bad: true)) { }
        Assert.Equal(3, Checks.Pending);

        // Another thread's waits leave this thread's checks alone.
        Exception? elsewhere = null;
        var other = new Thread(() =>
        {
            try { Devices.Synchronize(Gpu); }
            catch (Exception e) { elsewhere = e; }
        });
        other.Start();
        other.Join();
        Assert.Null(elsewhere);
        Assert.Equal(3, Checks.Pending);

        var e = Assert.Throws<InvalidOperationException>(() => Devices.Synchronize(Gpu));
        Assert.Equal("first: 42 at 3", e.Message);
        Assert.Equal(0, Checks.Pending);
        Devices.Synchronize(Gpu);

        // The slots were cleared: checks reusing them find nothing.
        var again = Enumerable.Range(0, 3).Select(_ => Made("reused", bad: false)).ToArray();
        foreach (var c in again) c.Dispose();
        using var value = Tensor.Ones([2], DType.F32, Gpu);
        Assert.Equal([1f, 1f], value.ToArray<float>());
        Assert.Equal(0, Checks.Pending);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_check_never_armed_is_dropped_and_its_slot_cleared()
    {
        Devices.Synchronize(Gpu);
        var check = Checks.Reserve((_, _) => new InvalidOperationException("never armed"));
        using (var found = Tensor.FromArray(new long[] { 0, 7 })) check.Slot.CopyFrom(found);
        check.Dispose();
        Assert.Equal(0, Checks.Pending);
        Devices.Synchronize(Gpu);
        using (Made("after", bad: false)) { }
        Devices.Synchronize(Gpu);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void More_checks_than_a_page_of_slots_are_all_reported()
    {
        Devices.Synchronize(Gpu);
        var checks = Enumerable.Range(0, DeferredChecks.PageSlots + 5).Select(i => Made($"check {i}", bad: i == DeferredChecks.PageSlots + 2)).ToArray();
        foreach (var c in checks) c.Dispose();
        var e = Assert.Throws<InvalidOperationException>(() => Devices.Synchronize(Gpu));
        Assert.Equal($"check {DeferredChecks.PageSlots + 2}: 42 at 3", e.Message);
        Assert.Equal(0, Checks.Pending);
    }

    /// <summary>
    /// A read of device data reports the thread's checks in its own wait: the slots' pages are copied behind the
    /// data, so a training loop that reads its loss waits once, not twice, when a loss left a check.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_read_reports_the_checks_in_its_own_single_wait()
    {
        Devices.Synchronize(Gpu);
        using var value = Tensor.Full([3], 2.5, DType.F64, Gpu);
        var many = Enumerable.Range(0, DeferredChecks.PageSlots + 3).Select(i => Made($"fine {i}", bad: false)).ToArray();   // two pages
        foreach (var c in many) c.Dispose();
        long before = global::Engine.Cuda.Native.Driver.HostWaitsOnThisThread;
        Assert.Equal([2.5, 2.5, 2.5], value.ToArray<double>());
        Assert.Equal(1, global::Engine.Cuda.Native.Driver.HostWaitsOnThisThread - before);
        Assert.Equal(0, Checks.Pending);

        using (Made("fine", bad: false)) { }
        using (Made("bad", bad: true)) { }
        before = global::Engine.Cuda.Native.Driver.HostWaitsOnThisThread;
        var e = Assert.Throws<InvalidOperationException>(() => value.ToArray<double>());
        Assert.Equal("bad: 42 at 3", e.Message);
        Assert.Equal(1, global::Engine.Cuda.Native.Driver.HostWaitsOnThisThread - before);
        Assert.Equal(0, Checks.Pending);
        // The failed slot was cleared and freed: a check reusing it finds nothing.
        using (Made("reused", bad: false)) { }
        Assert.Equal([2.5, 2.5, 2.5], value.ToArray<double>());
    }
}
