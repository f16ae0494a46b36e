namespace Engine.Models.Optim;

/// <summary>
/// The gradient scale of one <see cref="Optimizer.Step(Tensor?)"/>: the caller's scalar tensor (usually the
/// clipping factor computed on the gradients' device), and the forms each update path needs, made once per
/// step: a double for the CPU's fused kernels, a float64 scalar on each device for the CUDA kernels, a scalar
/// of the parameter's dtype for the tensor-op path.
/// </summary>
internal sealed class GradScale : IDisposable
{
    private readonly Tensor _scale;
    private readonly Dictionary<(Device, DType), Tensor> _copies = [];
    private double? _host;

    public GradScale(Tensor scale, string owner)
    {
        ArgumentNullException.ThrowIfNull(scale);
        if (scale.IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"{owner}: the gradient scale was disposed.");
        if (!scale.DType.IsFloatingPoint() || scale.NumEl != 1)
            throw new ArgumentException($"{owner}: the gradient scale must be one floating-point value, not a {scale.DType.TorchName()} tensor {Layout.Format(scale.Shape)}.");
        _scale = scale;
    }

    /// <summary>The caller's tensor.</summary>
    public Tensor Source => _scale;

    /// <summary>The scale as a double: free for a CPU scale; a read (a wait) for a device scale, so only parameters on the CPU ask for it.</summary>
    public double Host => _host ??= _scale.Item();

    /// <summary>The scale as a rank-0 tensor of <paramref name="dtype"/> on <paramref name="device"/> (owned here).</summary>
    public Tensor On(Device device, DType dtype)
    {
        if (_copies.TryGetValue((device, dtype), out var t)) return t;
        t = OptimTensors.Owned(Tensor.Empty([], dtype, device));
        using (var scalar = _scale.Reshape([])) t.CopyFrom(scalar);
        _copies[(device, dtype)] = t;
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _copies.Values) t.Dispose();
        _copies.Clear();
    }
}
