using System.Runtime.InteropServices;
using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// The thread team's placement rule (issue 20): a worker that keeps picking up jobs on its caller's processor moves
/// itself to another one. Linux only (elsewhere <see cref="Processor"/> reports nothing and the rule is off); these
/// tests return early on a machine where the process may use a single processor, since there is nowhere to move.
/// </summary>
[Xunit.Collection(Engine.Tests.Support.SerialCollection.Name)]
public unsafe class TeamPlacementTests
{
    private const int MaskBytes = 128;

    [Fact]
    public void CurrentProcessor_IsOneTheThreadMayRunOn()
    {
        int cpu = Processor.Current();
        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(-1, cpu);
            return;
        }
        Assert.Contains(cpu, AllowedProcessors());
    }

    [Fact]
    public void MoveOff_LeavesTheProcessor_AndRestoresTheAffinity()
    {
        var allowed = OperatingSystem.IsLinux() ? AllowedProcessors() : [];
        if (allowed.Count < 2)
        {
            Assert.False(Processor.MoveOff(Math.Max(0, Processor.Current())));
            return;
        }
        RunOnOwnThread(() =>
        {
            // The scheduler may move the thread back between the call and the check on a busy machine: a few tries.
            bool left = false;
            for (int attempt = 0; attempt < 5 && !left; attempt++)
            {
                int from = Processor.Current();
                Assert.True(Processor.MoveOff(from));
                left = Processor.Current() != from;
                Assert.Equal(allowed, AllowedProcessors());
            }
            Assert.True(left, "MoveOff never left the processor it was given");
        });
    }

    [Fact]
    public void MoveOff_RefusesAProcessorOutOfRange() => Assert.False(Processor.MoveOff(-1));

    [Fact]
    public void AWorkerOnItsCallersProcessor_MovesOff_AndEveryTaskStillRunsOnce()
    {
        var allowed = OperatingSystem.IsLinux() ? AllowedProcessors() : [];
        if (allowed.Count < 2) return;
        int saved = CpuParallel.ThreadCount;
        CpuParallel.ThreadCount = 2;
        try
        {
            RunOnOwnThread(() =>
            {
                int cpu = allowed[0];
                Pin(cpu); // the caller stays on cpu
                long before = CpuParallel.WorkerMoves;
                int callerThread = Environment.CurrentManagedThreadId;
                for (int round = 0; round < 50 && CpuParallel.WorkerMoves == before; round++)
                {
                    // Put the worker on the caller's processor (pinned, then given its processors back, as the
                    // scheduler would leave it), then post jobs from that processor.
                    bool placed = false;
                    CpuParallel.ForEachTask(64, _ =>
                    {
                        if (Environment.CurrentManagedThreadId == callerThread || Volatile.Read(ref placed)) return;
                        Volatile.Write(ref placed, true);
                        var own = AllowedProcessors();
                        Pin(cpu);
                        SetAllowed(own);
                    });
                    for (int job = 0; job < 20; job++)
                    {
                        var hits = new int[256];
                        CpuParallel.ForEachTask(hits.Length, i => { Interlocked.Increment(ref hits[i]); Thread.SpinWait(200); });
                        Assert.All(hits, h => Assert.Equal(1, h));
                    }
                }
                Assert.True(CpuParallel.WorkerMoves > before, "a worker on its caller's processor never moved off");
            });
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    private static void RunOnOwnThread(Action body)
    {
        // Affinity is per thread: changes here must not leak into the test runner's threads.
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { body(); }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        if (error != null) throw new Xunit.Sdk.XunitException($"on the test's own thread: {error}");
    }

    private static List<int> AllowedProcessors()
    {
        byte* mask = stackalloc byte[MaskBytes];
        Assert.Equal(0, SchedGetAffinity(0, MaskBytes, mask));
        var cpus = new List<int>();
        for (int i = 0; i < MaskBytes * 8; i++)
            if ((mask[i / 8] & (1 << (i % 8))) != 0) cpus.Add(i);
        return cpus;
    }

    private static void Pin(int cpu) => SetAllowed([cpu]);

    private static void SetAllowed(List<int> cpus)
    {
        byte* mask = stackalloc byte[MaskBytes];
        new Span<byte>(mask, MaskBytes).Clear();
        foreach (var c in cpus) mask[c / 8] |= (byte)(1 << (c % 8));
        Assert.Equal(0, SchedSetAffinity(0, MaskBytes, mask));
    }

    [DllImport("libc", EntryPoint = "sched_getaffinity")]
    private static extern int SchedGetAffinity(int pid, nint size, byte* mask);

    [DllImport("libc", EntryPoint = "sched_setaffinity")]
    private static extern int SchedSetAffinity(int pid, nint size, byte* mask);
}
