namespace Engine.Autograd;

/// <summary>
/// Computes the gradients of an operation's inputs from the gradients of its outputs. Entries of the
/// result may be null for inputs that need no gradient; every output gradient is given (zeros when an
/// output did not reach the loss).
/// </summary>
public delegate Tensor?[] BackwardFunction(Tensor[] outputGradients);

/// <summary>Where the gradient of one input of a node goes.</summary>
/// <param name="Node">The node that produced the input, or null for a leaf.</param>
/// <param name="OutputIndex">Which output of <paramref name="Node"/> the input is.</param>
/// <param name="Leaf">The leaf tensor that accumulates the gradient, when <paramref name="Node"/> is null.</param>
public readonly record struct Edge(Node? Node, int OutputIndex, Tensor? Leaf);

/// <summary>
/// One entry of the tape: an operation that ran while recording, with where its input gradients go,
/// what it saved for the backward pass, and the function that computes the backward.
/// </summary>
public sealed class Node
{
    private readonly SavedTensor[] _saved;
    private BackwardFunction? _backward;

    internal Node(string op, long sequence, Edge?[] inputs, int[][] inputShapes, int[][] outputShapes, DType dtype, Device device, BackwardFunction backward, SavedTensor[] saved, double forwardMilliseconds)
    {
        Op = op;
        Sequence = sequence;
        Inputs = inputs;
        InputShapes = inputShapes;
        OutputShapes = outputShapes;
        DType = dtype;
        Device = device;
        _backward = backward;
        _saved = saved;
        SavedBytesAtRecord = saved.Sum(s => s.Bytes);
        ForwardMilliseconds = forwardMilliseconds;
    }

    /// <summary>The operation's name (add, matmul, ...).</summary>
    public string Op { get; }

    /// <summary>Order of creation on its thread: a node's inputs always come earlier.</summary>
    public long Sequence { get; }

    /// <summary>One edge per input; null for inputs that need no gradient.</summary>
    public IReadOnlyList<Edge?> Inputs { get; }

    /// <summary>Shapes of the inputs.</summary>
    public IReadOnlyList<int[]> InputShapes { get; }

    /// <summary>Shapes of the outputs.</summary>
    public IReadOnlyList<int[]> OutputShapes { get; }

    /// <summary>Element type of the outputs.</summary>
    public DType DType { get; }

    /// <summary>Device of the outputs.</summary>
    public Device Device { get; }

    /// <summary>Bytes held alive for the backward pass by this node.</summary>
    public long SavedBytes => _saved.Sum(s => s.Bytes);

    /// <summary>Bytes the node saved when it was recorded; unlike <see cref="SavedBytes"/> it stays after the backward freed them.</summary>
    public long SavedBytesAtRecord { get; }

    /// <summary>Time the forward kernel took, when it was measured.</summary>
    public double ForwardMilliseconds { get; }

    /// <summary>Time the backward took, once it ran.</summary>
    public double BackwardMilliseconds { get; internal set; }

    /// <summary>True once the backward ran without <c>retainGraph</c> and the saved tensors were freed.</summary>
    public bool IsReleased => _backward is null;

    internal Tensor?[] RunBackward(Tensor[] outputGradients)
    {
        if (_backward is null)
            throw new InvalidOperationException(
                $"Backward: trying to backward through the graph a second time (through '{Op}'); its saved tensors were already freed. " +
                "Pass retainGraph: true to the first Backward call if you need to backward through the graph again.");
        foreach (var s in _saved) s.Check(Op);
        return _backward(outputGradients);
    }

    internal void Release()
    {
        _backward = null;
        foreach (var s in _saved) s.Free();
    }
}

/// <summary>
/// A tensor an operation keeps for its backward pass: a handle of its own on the same storage, plus the
/// storage's version at save time, so a later in-place change is detected instead of giving wrong gradients.
/// </summary>
public sealed class SavedTensor
{
    private Tensor? _alias;
    private readonly int _version;

    internal SavedTensor(Tensor t)
    {
        _alias = t.Alias();
        _version = t.Storage.Version;
        // The handle stays in the current scope: a forward pass whose backward never runs frees its
        // saved tensors when the scope ends, instead of waiting for the garbage collector.
    }

    internal long Bytes => _alias?.Storage.Bytes ?? 0;

    /// <summary>The saved tensor. Throws if it was freed or modified in place since it was saved.</summary>
    public Tensor Value => _alias is { IsDisposed: false } a ? a
        : throw new InvalidOperationException("Backward: a tensor saved for the backward pass was already freed (the scope it was created in ended, or the graph was already run without retainGraph).");

    internal void Check(string op)
    {
        int now = Value.Storage.Version;
        if (now != _version)
            throw new InvalidOperationException(
                $"Backward: one of the tensors needed by '{op}' for gradient computation has been modified by an in-place operation: " +
                $"tensor {Layout.Format(_alias!.Layout.Shape)} is at version {now}; expected version {_version} instead.");
    }

    internal void Free()
    {
        _alias?.Dispose();
        _alias = null;
    }
}
