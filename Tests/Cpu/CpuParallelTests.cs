using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

[Xunit.Collection(Engine.Tests.Support.SerialCollection.Name)]
public class CpuParallelTests
{
    [Fact]
    public void ForEachTask_RunsEveryIndexOnce_AndNestedCallsRunSerially()
    {
        var hits = new int[1000];
        bool nestedSawRegion = true;
        CpuParallel.ForEachTask(hits.Length, i =>
        {
            Interlocked.Increment(ref hits[i]);
            if (!CpuParallel.InsideParallelRegion) nestedSawRegion = false;
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        // With one thread configured the loop is a plain serial loop and sets no region.
        if (CpuParallel.ThreadCount > 1) Assert.True(nestedSawRegion);
        Assert.False(CpuParallel.InsideParallelRegion);
    }

    [Fact]
    public void For_CoversTheRangeWithDisjointChunks()
    {
        var hits = new int[100_000];
        CpuParallel.For(hits.Length, 1_000, (s, e) =>
        {
            for (long i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
        });
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ExceptionsSurfaceAsAggregate_AndTheTeamStaysUsable()
    {
        int saved = CpuParallel.ThreadCount;
        CpuParallel.ThreadCount = 2; // with one thread the loop runs inline and the exception is not wrapped
        AggregateException ex;
        try
        {
            ex = Assert.Throws<AggregateException>(() =>
                CpuParallel.ForEachTask(8, i => { if (i == 5) throw new InvalidOperationException("boom"); }));
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
        Assert.IsType<InvalidOperationException>(ex.InnerException);

        int count = 0;
        CpuParallel.ForEachTask(8, _ => Interlocked.Increment(ref count));
        Assert.Equal(8, count);
    }
}

/// <summary>The idle worker's spin (<see cref="CpuParallel.WorkerSpin"/>): a process-wide setting, so serial.</summary>
[Xunit.Collection(Engine.Tests.Support.SerialCollection.Name)]
public class WorkerSpinTests
{
    [Fact]
    public void WorkerSpin_RoundTrips_AndRejectsNegative()
    {
        var before = CpuParallel.WorkerSpin;
        try
        {
            CpuParallel.WorkerSpin = TimeSpan.FromMilliseconds(3);
            Assert.Equal(3.0, CpuParallel.WorkerSpin.TotalMilliseconds, 3);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => CpuParallel.WorkerSpin = TimeSpan.FromMilliseconds(-1));
            Assert.Contains("WorkerSpin", e.Message);
            Assert.Equal(3.0, CpuParallel.WorkerSpin.TotalMilliseconds, 3);
        }
        finally
        {
            CpuParallel.WorkerSpin = before;
        }
    }

    /// <summary>With no spin every dispatch wakes a blocked worker; the loops must still cover every index once.</summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(20.0)]
    public void ParallelLoops_CoverEveryIndexOnce_WhateverTheSpin(double spinMs)
    {
        var before = CpuParallel.WorkerSpin;
        int threads = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.WorkerSpin = TimeSpan.FromMilliseconds(spinMs);
            CpuParallel.ThreadCount = 2;
            for (int round = 0; round < 50; round++)
            {
                var hits = new int[10_000];
                CpuParallel.For(hits.Length, 100_000, (s, e) => { for (long i = s; i < e; i++) Interlocked.Increment(ref hits[i]); });
                Assert.All(hits, h => Assert.Equal(1, h));
                if (round % 10 == 0) Thread.Sleep(2); // longer than a short spin: the worker blocks and is woken
                var tasks = new int[37];
                CpuParallel.ForEachTask(tasks.Length, i => Interlocked.Increment(ref tasks[i]));
                Assert.All(tasks, h => Assert.Equal(1, h));
            }
        }
        finally
        {
            CpuParallel.WorkerSpin = before;
            CpuParallel.ThreadCount = threads;
        }
    }
}
