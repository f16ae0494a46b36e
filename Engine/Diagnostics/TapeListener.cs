using Engine.Autograd;

namespace Engine.Diagnostics;

/// <summary>Told about every tape node recorded and every backward run on the thread it listens on.</summary>
public interface ITapeListener
{
    /// <summary>A node was recorded (its forward has just run).</summary>
    void NodeRecorded(Node node);

    /// <summary>The backward of <paramref name="node"/> has just run.</summary>
    void BackwardRan(Node node);
}

/// <summary>
/// Where tape events go: one listener per thread at a time (profilers nest by replacing and restoring).
/// Costs one thread-static read per node when nobody listens.
/// </summary>
public static class TapeListeners
{
    [ThreadStatic] private static ITapeListener? _current;

    /// <summary>The listener on this thread, or null.</summary>
    public static ITapeListener? Current => _current;

    /// <summary>Sends this thread's tape events to <paramref name="listener"/> until the result is disposed.</summary>
    public static IDisposable Listen(ITapeListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var previous = _current;
        _current = listener;
        return new Restore(previous);
    }

    private sealed class Restore(ITapeListener? previous) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _current = previous;
        }
    }
}
