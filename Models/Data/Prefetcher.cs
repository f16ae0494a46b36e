using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Engine.Models.Data;

/// <summary>
/// Produces items <c>first..end-1</c> in order on a background thread, at most <c>depth</c> ahead of the
/// consumer. An exception of the producer is rethrown by <see cref="TryTake"/> after the items made before
/// it; <see cref="Dispose"/> stops the producer and waits for it.
/// </summary>
internal sealed class Prefetcher<T> : IDisposable
{
    private readonly BlockingCollection<T> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private ExceptionDispatchInfo? _error;
    private bool _disposed;

    public Prefetcher(int depth, int first, int end, Func<int, T> produce)
    {
        _queue = new BlockingCollection<T>(new ConcurrentQueue<T>(), depth);
        _thread = new Thread(() => Run(first, end, produce)) { IsBackground = true, Name = "DataLoader prefetch" };
        _thread.Start();
    }

    private void Run(int first, int end, Func<int, T> produce)
    {
        try
        {
            for (int i = first; i < end && !_stop.IsCancellationRequested; i++) _queue.Add(produce(i), _stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (Exception e) { _error = ExceptionDispatchInfo.Capture(e); }
        finally { _queue.CompleteAdding(); }
    }

    /// <summary>Waits for the next item; false when all were taken. Rethrows the producer's exception.</summary>
    public bool TryTake(out T item)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_queue.TryTake(out item!, Timeout.Infinite)) return true;
        // CompleteAdding happened after _error was set, and the take saw the completion, so _error is visible.
        _error?.Throw();
        return false;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        _thread.Join();
        _queue.Dispose();
        _stop.Dispose();
    }
}
