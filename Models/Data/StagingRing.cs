using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Engine.Models.Data;

/// <summary>Fills a staging slot with item <paramref name="index"/> and returns what the consumer needs to read it back.</summary>
internal delegate T SlotFiller<out T>(int index, Span<byte> slot);

/// <summary>
/// A prefetch ring over the slots of an <see cref="IBatchStaging"/>: a background thread fills slots with items
/// <c>first..end-1</c> in order; the consumer takes them in order (<see cref="TryTake"/>), turns the slot into
/// device tensors, and hands the slot back (<see cref="Release"/>). The producer takes slots back in the order
/// they were released (so they go round: 0, 1, 2, 0, ...) and waits, before refilling one, until the device
/// has read it (<see cref="IBatchStaging.WaitReusable"/>): so at most <c>Slots</c> batches are staged or in
/// flight, and a copy is never overwritten. A producer's exception is rethrown by <see cref="TryTake"/> after
/// the items made before it; <see cref="Dispose"/> stops the producer and waits for it.
/// </summary>
internal sealed class StagingRing<T> : IDisposable
{
    private readonly IBatchStaging _staging;
    private readonly BlockingCollection<int> _free = new(new ConcurrentQueue<int>());
    private readonly BlockingCollection<(int Slot, T Item)> _filled = new(new ConcurrentQueue<(int, T)>());
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private ExceptionDispatchInfo? _error;
    private bool _disposed;

    public StagingRing(IBatchStaging staging, int first, int end, SlotFiller<T> fill)
    {
        _staging = staging;
        for (int s = 0; s < staging.Slots; s++) _free.Add(s);
        _thread = new Thread(() => Run(first, end, fill)) { IsBackground = true, Name = "DataLoader staging" };
        _thread.Start();
    }

    private void Run(int first, int end, SlotFiller<T> fill)
    {
        try
        {
            for (int i = first; i < end && !_stop.IsCancellationRequested; i++)
            {
                int slot = _free.Take(_stop.Token);
                _staging.WaitReusable(slot);
                _filled.Add((slot, fill(i, _staging.Slot(slot))));
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (Exception e) { _error = ExceptionDispatchInfo.Capture(e); }
        finally { _filled.CompleteAdding(); }
    }

    /// <summary>Waits for the next filled slot; false when all items were taken. Rethrows the producer's exception.</summary>
    public bool TryTake(out int slot, out T item)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_filled.TryTake(out var next, Timeout.Infinite))
        {
            (slot, item) = next;
            return true;
        }
        // CompleteAdding happened after _error was set, and the take saw the completion, so _error is visible.
        _error?.Throw();
        (slot, item) = (-1, default!);
        return false;
    }

    /// <summary>Hands <paramref name="slot"/> back once its contents were queued for the device.</summary>
    public void Release(int slot) => _free.Add(slot);

    /// <summary>Stops the producer and waits for it; the staging stays the caller's.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        _thread.Join();
        _free.Dispose();
        _filled.Dispose();
        _stop.Dispose();
    }
}
