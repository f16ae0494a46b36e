using Engine.Autograd;
using Engine.Backends;

namespace Engine;

/// <summary>
/// An n-dimensional array: a handle on a shared <see cref="Storage"/> plus a <see cref="Layout"/>.
/// Views share the storage and never copy. A tensor is disposed deterministically, by
/// <see cref="Dispose"/> or by the <see cref="TensorScope"/> it was created in; its memory is freed
/// when the last handle on the storage goes.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private static long _liveCount;
    private static long _nextId;
    private bool _disposed;
    private bool _requiresGrad;
    private Tensor? _grad;

    /// <summary>Number of tensor handles created and not yet disposed, on all threads.</summary>
    public static long LiveCount => Interlocked.Read(ref _liveCount);

    /// <summary>The memory this tensor reads and writes.</summary>
    public Storage Storage { get; private set; }

    /// <summary>Shape, strides and offset.</summary>
    public Layout Layout { get; private set; }

    /// <summary>A number unique to this handle, used when the tape is printed.</summary>
    public long Id { get; }

    /// <summary>The entry of the tape that produced this tensor, or null for leaves.</summary>
    public Node? GradFn { get; internal set; }

    /// <summary>Which output of <see cref="GradFn"/> this tensor is.</summary>
    internal int OutputIndex { get; set; }

    /// <summary>An optional name shown by the tape printer.</summary>
    public string? Name { get; set; }

    internal Tensor(Storage storage, Layout layout, bool addRef)
    {
        if (addRef) storage.AddRef();
        Storage = storage;
        Layout = layout;
        Id = Interlocked.Increment(ref _nextId);
        Interlocked.Increment(ref _liveCount);
        TensorScope.Register(this);
    }

    /// <summary>Element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>The device the data lives on.</summary>
    public Device Device => Storage.Device;

    /// <summary>Size of each dimension (a copy).</summary>
    public int[] Shape => (int[])Layout.Shape.Clone();

    /// <summary>Distance in elements between neighbours along each dimension (a copy).</summary>
    public long[] Strides => (long[])Layout.Strides.Clone();

    /// <summary>Index of the first element in the storage.</summary>
    public long Offset => Layout.Offset;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Layout.Rank;

    /// <summary>Number of elements.</summary>
    public long NumEl => Layout.NumEl;

    /// <summary>True when the elements form one row-major span of the storage.</summary>
    public bool IsContiguous => Layout.IsContiguous;

    /// <summary>True once this handle has been disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim)
    {
        // A 0-dim tensor has no size to report, even for the dims -1 and 0 that other ops accept (as in PyTorch).
        if (Rank == 0)
            throw new ArgumentOutOfRangeException(nameof(dim), $"size: dimension specified as {dim} but tensor has no dimensions (shape []).");
        return Layout.Shape[Layout.NormalizeDim(dim, Rank, "size", Layout.Shape)];
    }

    /// <summary>True for tensors that no operation produced (parameters, inputs).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>
    /// Whether operations on this tensor are recorded so that gradients flow back to it. Only leaves
    /// may set it; results of recorded operations report true.
    /// </summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!IsLeaf && !value)
                throw new InvalidOperationException("RequiresGrad: you can only change RequiresGrad of leaf tensors; use Detach() to cut a result from the tape.");
            if (value && !DType.IsFloatingPoint())
                throw new InvalidOperationException($"RequiresGrad: only floating point tensors can require gradients, not {DType.TorchName()}.");
            _requiresGrad = value;
        }
    }

    internal void MarkRequiresGrad() => _requiresGrad = true;

    /// <summary>
    /// The gradient accumulated by <see cref="Backward"/> for a leaf, or null. It belongs to this
    /// tensor: no scope disposes it, and setting a new one disposes the old.
    /// </summary>
    public Tensor? Grad
    {
        get => _grad;
        set
        {
            if (value is not null)
            {
                if (!value.Layout.Shape.AsSpan().SequenceEqual(Layout.Shape) || value.DType != DType || value.Device != Device)
                    throw new ArgumentException($"Grad: assigned gradient has shape {Layout.Format(value.Layout.Shape)}, {value.DType.TorchName()}, {value.Device}, but the tensor has {Layout.Format(Layout.Shape)}, {DType.TorchName()}, {Device}.");
                TensorScope.Forget(value);
            }
            if (!ReferenceEquals(_grad, value)) _grad?.Dispose();
            _grad = value;
        }
    }

    /// <summary>Drops the accumulated gradient (PyTorch's <c>zero_grad(set_to_none=True)</c>).</summary>
    public void ZeroGrad() => Grad = null;

    internal IBackend Backend => Backends.Backend.For(Device);

    internal void ThrowIfDisposed(string op)
    {
        if (_disposed) throw new ObjectDisposedException(nameof(Tensor), $"{op}: the tensor {Layout.Format(Layout.Shape)} was already disposed.");
    }

    /// <summary>Releases this handle; the memory goes when no other handle shares it.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Interlocked.Decrement(ref _liveCount);
        _grad?.Dispose();
        _grad = null;
        Storage.Release();
    }

    /// <summary>A new handle on the same storage and layout, with no tape history.</summary>
    internal Tensor Alias() => new(Storage, Layout, addRef: true);

    /// <summary>
    /// Makes this handle refer to <paramref name="data"/>'s memory and layout (its dtype and device too),
    /// keeping the handle itself: PyTorch's <c>tensor.data = data</c>, which <c>Module.to</c> uses so that
    /// references to a parameter (an optimizer's, a module's own field) stay valid across a move. Only leaves
    /// can change their data; a tensor that requires a gradient must stay floating point. The gradient, if
    /// any, is dropped when the dtype or device changes (move it with the data, as Module.ToDevice does).
    /// </summary>
    public void SetData(Tensor data)
    {
        ThrowIfDisposed("set_data");
        data.ThrowIfDisposed("set_data");
        if (!IsLeaf) throw new InvalidOperationException($"set_data: only a leaf tensor's data can be replaced; this {Layout.Format(Layout.Shape)} tensor was produced by {GradFn!.Op}.");
        if (RequiresGrad && !data.DType.IsFloatingPoint())
            throw new ArgumentException($"set_data: a tensor that requires grad needs floating point data, not {data.DType.TorchName()}.");
        if (ReferenceEquals(data.Storage, Storage) && data.Layout == Layout) return;
        bool sameKind = data.DType == DType && data.Device == Device && data.Layout.Shape.AsSpan().SequenceEqual(Layout.Shape);
        data.Storage.AddRef();
        var old = Storage;
        Storage = data.Storage;
        Layout = data.Layout;
        old.Release();
        if (!sameKind) Grad = null;
    }

    /// <summary>A tensor with the same data, cut from the tape: it never requires a gradient.</summary>
    public Tensor Detach()
    {
        ThrowIfDisposed("detach");
        return Alias();
    }

    /// <summary>
    /// Keeps this tensor alive when the innermost <see cref="TensorScope"/> ends, handing it to the
    /// enclosing scope (or to nobody, at the outermost level). Returns the tensor for chaining.
    /// </summary>
    public Tensor MoveToOuterScope()
    {
        TensorScope.MoveOut(this);
        return this;
    }

    /// <summary>
    /// Takes this tensor out of every open scope on this thread, so that only an explicit
    /// <see cref="Dispose"/> frees it (parameters, buffers, long-lived state). Returns the tensor.
    /// </summary>
    public Tensor DetachFromScope()
    {
        TensorScope.Forget(this);
        return this;
    }

    /// <summary>Opens a scope: every tensor created on this thread until it is disposed is disposed with it.</summary>
    public static TensorScope Scope() => new();
}
