using Engine.Cuda.Memory;
using Xunit;

namespace Engine.Tests.Gpu;

public sealed class CachingAllocatorTests
{
    private const ulong MiB = 1 << 20;

    [Theory]
    [InlineData(0UL, 512UL)]
    [InlineData(1UL, 512UL)]
    [InlineData(512UL, 512UL)]
    [InlineData(513UL, 1024UL)]
    [InlineData(MiB - 1, MiB)]
    [InlineData(MiB, MiB)]
    [InlineData(MiB + 1, MiB + MiB / 8)]
    [InlineData(2 * MiB, 2 * MiB)]
    [InlineData(2 * MiB + 1, 2 * MiB + MiB / 4)]
    [InlineData(9 * MiB / 4, 9 * MiB / 4)]
    [InlineData(1000 * MiB + 3, 1024 * MiB)]
    public void Requests_round_to_their_size_class(ulong bytes, ulong size) => Assert.Equal(size, CachingAllocator.SizeClass(bytes));

    [Fact]
    public void Large_size_classes_waste_at_most_an_eighth()
    {
        for (ulong bytes = MiB; bytes < 64 * MiB; bytes = bytes * 17 / 16 + 4099)
        {
            ulong size = CachingAllocator.SizeClass(bytes);
            Assert.InRange(size, bytes, bytes + bytes / 8);
            Assert.Equal(size, CachingAllocator.SizeClass(size));       // a class is its own class
        }
    }

    [Fact]
    public void A_freed_block_is_reused_for_the_same_class_on_the_same_stream()
    {
        var device = new FakeDeviceMemory(100 * MiB);
        using var allocator = new CachingAllocator(device);
        var a = allocator.Allocate(1000, stream: 7);
        allocator.Free(a);
        var b = allocator.Allocate(900, stream: 7); // same class: 1024
        Assert.Equal(a.Pointer, b.Pointer);
        Assert.Equal(1, device.AllocCalls);
        Assert.Equal(900UL, b.Requested);

        var otherStream = allocator.Allocate(1000, stream: 8);
        var otherClass = allocator.Allocate(1500, stream: 7);
        Assert.NotEqual(a.Pointer, otherStream.Pointer);
        Assert.NotEqual(a.Pointer, otherClass.Pointer);
        Assert.Equal(3, device.AllocCalls);
        Assert.Equal(1, allocator.Stats.CacheHits);
    }

    [Fact]
    public void Statistics_count_allocated_cached_and_peak()
    {
        var device = new FakeDeviceMemory(100 * MiB);
        using var allocator = new CachingAllocator(device);
        var small = allocator.Allocate(100);
        var large = allocator.Allocate(3 * MiB);
        Assert.Equal(new AllocatorStats(512 + 3 * MiB, 0, 512 + 3 * MiB, 2, 0, 0), allocator.Stats);

        allocator.Free(large);
        Assert.Equal(512UL, allocator.Stats.Allocated);
        Assert.Equal(3 * MiB, allocator.Stats.Cached);
        Assert.Equal(512 + 3 * MiB, allocator.Stats.PeakAllocated);
        Assert.Equal(512 + 3 * MiB, allocator.Stats.Reserved);
        Assert.Equal(512 + 3 * MiB, device.Used);

        allocator.ResetPeak();
        Assert.Equal(512UL, allocator.Stats.PeakAllocated);
        allocator.Free(small);
        Assert.Equal(0UL, allocator.Stats.Allocated);
    }

    [Fact]
    public void Empty_cache_returns_the_cached_blocks_and_keeps_the_live_ones()
    {
        var device = new FakeDeviceMemory(100 * MiB);
        using var allocator = new CachingAllocator(device);
        var live = allocator.Allocate(10 * MiB);
        allocator.Free(allocator.Allocate(20 * MiB));
        allocator.Free(allocator.Allocate(1000));

        allocator.EmptyCache();
        Assert.Equal(0UL, allocator.Stats.Cached);
        Assert.Equal(10 * MiB, device.Used);
        Assert.Equal(1, device.LiveCount);
        allocator.Free(live);
        allocator.EmptyCache();
        Assert.Equal(0UL, device.Used);
    }

    [Fact]
    public void Out_of_memory_flushes_the_cache_and_retries_once()
    {
        var device = new FakeDeviceMemory(10 * MiB);
        using var allocator = new CachingAllocator(device);
        allocator.Free(allocator.Allocate(4 * MiB));
        allocator.Free(allocator.Allocate(2 * MiB, stream: 1));
        var keep = allocator.Allocate(2 * MiB);

        var big = allocator.Allocate(6 * MiB); // 2 + 4 + 2 cached/live of 10: fits only once the cache is gone
        Assert.Equal(1, allocator.Stats.Flushes);
        Assert.Equal(0UL, allocator.Stats.Cached);
        Assert.Equal(8 * MiB, allocator.Stats.Allocated);
        Assert.Equal(8 * MiB, device.Used);
        allocator.Free(big);
        allocator.Free(keep);
    }

    [Fact]
    public void Out_of_memory_after_the_flush_says_what_was_asked_allocated_and_cached()
    {
        var device = new FakeDeviceMemory(10 * MiB);
        using var allocator = new CachingAllocator(device);
        var live = allocator.Allocate(6 * MiB);
        allocator.Free(allocator.Allocate(2 * MiB));
        int callsBefore = device.AllocCalls;

        var e = Assert.Throws<CudaOutOfMemoryException>(() => allocator.Allocate(5 * MiB));
        Assert.Equal(callsBefore + 2, device.AllocCalls); // tried, flushed, tried once more
        Assert.Equal(5 * MiB, e.Requested);
        Assert.Contains("tried to allocate 5.00 MiB (5242880 bytes)", e.Message);
        Assert.Contains("size class 5.00 MiB", e.Message);
        Assert.Contains("6.00 MiB (6291456 bytes) allocated", e.Message);
        Assert.Contains("2.00 MiB (2097152 bytes) was cached", e.Message);
        Assert.Contains("4.00 MiB (4194304 bytes) free of 10.00 MiB", e.Message);
        Assert.Equal(6 * MiB, allocator.Stats.Allocated);
        allocator.Free(live);
    }

    [Fact]
    public void Freeing_twice_or_a_foreign_block_throws_and_changes_nothing()
    {
        var device = new FakeDeviceMemory(10 * MiB);
        using var allocator = new CachingAllocator(device);
        var block = allocator.Allocate(100);
        allocator.Free(block);
        var before = allocator.Stats;

        Assert.Contains("freed twice", Assert.Throws<InvalidOperationException>(() => allocator.Free(block)).Message);
        Assert.Throws<InvalidOperationException>(() => allocator.Free(block with { Pointer = new(12345) }));
        Assert.Equal(before, allocator.Stats);

        var again = allocator.Allocate(100);
        Assert.Throws<InvalidOperationException>(() => allocator.Free(again with { Stream = 3 }));
        allocator.Free(again);
        Assert.Equal(before, allocator.Stats with { CacheHits = before.CacheHits });
    }

    [Fact]
    public void Many_threads_allocating_and_freeing_keep_the_books_balanced()
    {
        var device = new FakeDeviceMemory(1024 * MiB);
        var allocator = new CachingAllocator(device);
        Parallel.For(0, 8, t =>
        {
            for (int i = 0; i < 500; i++) allocator.Free(allocator.Allocate((ulong)(i % 7 + 1) * 700, stream: t % 2));
        });
        Assert.Equal(0UL, allocator.Stats.Allocated);
        allocator.Dispose();
        Assert.Equal(0UL, device.Used);
    }

    [Fact]
    public void Pinned_buffers_free_once_and_refuse_use_after_dispose()
    {
        var host = new FakeHostMemory();
        var buffer = new PinnedHostBuffer(64, host);
        buffer.AsSpan<float>().Fill(2f);
        Assert.Equal(16, buffer.AsSpan<float>().Length);
        Assert.Equal(8, buffer.AsSpan<double>().Length);
        buffer.Dispose();
        buffer.Dispose();
        Assert.Equal(0, host.Live);
        Assert.Throws<ObjectDisposedException>(() => buffer.Pointer);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PinnedHostBuffer(0, host));
    }

    [Fact]
    public void Bytes_are_formatted_for_people()
    {
        Assert.Equal("100 bytes", CachingAllocator.Format(100));
        Assert.Equal("1.50 MiB (1572864 bytes)", CachingAllocator.Format(3 * MiB / 2));
    }
}
