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
