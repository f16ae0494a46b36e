namespace Engine;

/// <summary>
/// Deterministic lifetimes: every tensor created on this thread while the scope is open is disposed
/// when the scope is, except those moved out with <see cref="Tensor.MoveToOuterScope"/>. Scopes nest.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly TensorScope? _parent;
    private readonly HashSet<Tensor> _owned = new(ReferenceEqualityComparer.Instance);
    private bool _disposed;

    internal TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    /// <summary>Number of tensors this scope will dispose.</summary>
    public int Count => _owned.Count;

    internal static void Register(Tensor t) => _current?._owned.Add(t);

    /// <summary>Removes a tensor from every open scope on this thread (gradients, parameters).</summary>
    internal static void Forget(Tensor t)
    {
        for (var s = _current; s is not null; s = s._parent)
            if (s._owned.Remove(t)) return;
    }

    internal static void MoveOut(Tensor t)
    {
        for (var s = _current; s is not null; s = s._parent)
        {
            if (!s._owned.Remove(t)) continue;
            s._parent?._owned.Add(t);
            return;
        }
    }

    /// <summary>Disposes every tensor still owned by the scope and closes it.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (!ReferenceEquals(_current, this))
            throw new InvalidOperationException("TensorScope: scopes must be disposed in the reverse order they were opened, on the thread that opened them.");
        _disposed = true;
        _current = _parent;
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}
