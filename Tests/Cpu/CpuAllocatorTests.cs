using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

[Collection(Engine.Tests.Support.SerialCollection.Name)]
public unsafe class CpuAllocatorTests
{
    [Fact]
    public void FreedLargeBlocksAreReusedAndEmptyCacheReleasesThem()
    {
        CpuAllocator.EmptyCache();
        nuint size = 3 << 20;
        void* a = CpuAllocator.Rent(size);
        Assert.Equal(0, (long)a % 64);
        CpuAllocator.Return(a, size);
        Assert.Equal((long)CpuAllocator.SizeClass(size), CpuAllocator.CachedBytes);
        // A slightly smaller request of the same size class gets the same block back.
        void* b = CpuAllocator.Rent(size - 1000);
        Assert.Equal((nint)a, (nint)b);
        Assert.Equal(0, CpuAllocator.CachedBytes);
        CpuAllocator.Return(b, size - 1000);
        CpuAllocator.EmptyCache();
        Assert.Equal(0, CpuAllocator.CachedBytes);
    }

    [Fact]
    public void TheCacheRespectsItsLimit()
    {
        CpuAllocator.EmptyCache();
        long before = CpuAllocator.CacheLimit;
        try
        {
            CpuAllocator.CacheLimit = 1 << 20;
            nuint size = 2 << 20;
            void* a = CpuAllocator.Rent(size);
            CpuAllocator.Return(a, size);
            Assert.Equal(0, CpuAllocator.CachedBytes);
        }
        finally
        {
            CpuAllocator.CacheLimit = before;
        }
    }

    [Fact]
    public void SizeClassesWasteAtMostAnEighth()
    {
        foreach (nuint bytes in new nuint[] { 300_000, 1 << 20, (1 << 20) + 1, 5_000_000, 67_108_864, 100_000_001 })
        {
            var c = CpuAllocator.SizeClass(bytes);
            Assert.True(c >= bytes);
            Assert.True(c - bytes <= bytes / 8 + 4096, $"{bytes} -> {c}");
        }
        Assert.Equal((nuint)1000, CpuAllocator.SizeClass(1000));
    }

    [Fact]
    public void TensorsReuseTheirMemoryAcrossSteps()
    {
        CpuAllocator.EmptyCache();
        using var scope = Tensor.Scope();
        var x = Tensor.Ones([1 << 20]);
        var first = x + x;
        var addressOfFirst = (nint)((CpuStorage)first.Storage).Pointer;
        first.Dispose();
        var second = x + x;
        Assert.Equal(addressOfFirst, (nint)((CpuStorage)second.Storage).Pointer);
        Assert.Equal(2f, second.ToArray<float>()[12345]);
    }
}
