namespace Engine.Backends;

/// <summary>What a reduction computes along the reduced axes.</summary>
public enum ReduceKind
{
    /// <summary>Sum of the elements.</summary>
    Sum,
    /// <summary>Largest element (NaN propagates).</summary>
    Max,
    /// <summary>Smallest element (NaN propagates).</summary>
    Min,
    /// <summary>Index of the first largest element along one axis (I64 result).</summary>
    ArgMax,
    /// <summary>Index of the first smallest element along one axis (I64 result).</summary>
    ArgMin,
}

/// <summary>
/// The small set of core primitives a device implements. Everything differentiable is composed from
/// these in <c>Engine/Functional</c>, so a new backend only has to provide this interface.
/// Outputs are always freshly allocated contiguous tensors unless a method says otherwise; inputs may
/// have any strides, including zero strides from broadcasting.
/// </summary>
internal interface IBackend
{
    /// <summary>Memory for <paramref name="length"/> elements on <paramref name="device"/>.</summary>
    Storage Allocate(Device device, long length, DType dtype, bool zeroed);

    /// <summary>Writes <paramref name="value"/> into every element of <paramref name="dst"/> (any strides).</summary>
    void Fill(Tensor dst, double value);

    /// <summary>Copies <paramref name="src"/> into <paramref name="dst"/> elementwise, converting the dtype; shapes are equal.</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>y = op(x), same shape.</summary>
    void Unary<TOp>(Tensor x, Tensor y, double a, double b) where TOp : IUnaryOp;

    /// <summary>gx = g * op'(x, y), the fused backward of a unary op.</summary>
    void UnaryBackward<TOp>(Tensor g, Tensor x, Tensor y, Tensor gx, double a, double b) where TOp : IUnaryOp;

    /// <summary>z = op(x, y); x and y are already broadcast to z's shape (zero strides).</summary>
    void Binary<TOp>(Tensor x, Tensor y, Tensor z) where TOp : IBinaryOp;

    /// <summary>
    /// gx = g * y and gy = g * x, the gradients of a product, with the bits of two <see cref="Binary{TOp}"/> calls
    /// of <see cref="MulOp"/>: x and y are broadcast to g's shape, gx and gy are fresh tensors of that shape.
    /// </summary>
    void ProductGradients(Tensor g, Tensor x, Tensor y, Tensor gx, Tensor gy);

    /// <summary>
    /// gx = g / y and gy = -(g * (z / y)), the gradients of the quotient z = x / y in PyTorch's order, with the bits of
    /// those four operations done one by one: y is broadcast to g's shape, z has it, gx and gy are fresh tensors of it.
    /// </summary>
    void QuotientGradients(Tensor g, Tensor y, Tensor z, Tensor gx, Tensor gy);

    /// <summary>z = x op y as Bool; x and y broadcast to z's shape and share a dtype.</summary>
    void Compare<TOp>(Tensor x, Tensor y, Tensor z) where TOp : ICompareOp;

    /// <summary>z = cond ? x : y; all three broadcast to z's shape.</summary>
    void Where(Tensor cond, Tensor x, Tensor y, Tensor z);

    /// <summary>Reduces <paramref name="x"/> over <paramref name="axes"/> into <paramref name="y"/>, whose shape is x's with those axes set to 1.</summary>
    void Reduce(ReduceKind kind, Tensor x, int[] axes, Tensor y);

    /// <summary>c[b] = a[b] @ bm[b] for every batch index; a is [..., m, k], bm is [..., k, n], both already broadcast to c's batch shape.</summary>
    void MatMul(Tensor a, Tensor bm, Tensor c);

    /// <summary>
    /// Two independent products, c1 = a1 @ b1 and c2 = a2 @ b2, each as <see cref="MatMul"/> (same bits), which the
    /// backend may compute at the same time (a matmul's two operand gradients). The outputs are fresh tensors that
    /// overlap neither each other nor the inputs.
    /// </summary>
    void MatMulPair(Tensor a1, Tensor b1, Tensor c1, Tensor a2, Tensor b2, Tensor c2);

    /// <summary>
    /// c[b] = alpha · a[b] @ bm[b] + beta · c[b] for every batch index, in place: a is [..., m, k], bm is
    /// [..., k, n], both broadcast to c's batch shape; c may be any view whose columns are adjacent (unit
    /// column stride). beta = 0 never reads c.
    /// </summary>
    void Gemm(Tensor a, Tensor bm, Tensor c, double alpha, double beta);

    /// <summary>Fills <paramref name="dst"/> (contiguous, floating point) from the Philox stream at the given key and counter offset.</summary>
    void Random(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double p0, double p1);

    /// <summary>
    /// Fills <paramref name="dst"/> (contiguous I64) with integers uniform on [<paramref name="low"/>, <paramref name="high"/>)
    /// from the Philox stream (two per block). The bounds are integers, not doubles, so every int64 range is exact.
    /// </summary>
    void RandomInteger(Tensor dst, ulong seed, ulong offset, long low, long high);

    /// <summary>y = x.index_select(dim, index); y is allocated with the right shape.</summary>
    void IndexSelect(Tensor x, int dim, Tensor index, Tensor y);

    /// <summary>dst.index_add_(dim, index, src), in place.</summary>
    void IndexAdd(Tensor dst, int dim, Tensor index, Tensor src);

    /// <summary>y = x.gather(dim, index).</summary>
    void Gather(Tensor x, int dim, Tensor index, Tensor y);

    /// <summary>dst.scatter_add_(dim, index, src), in place.</summary>
    void ScatterAdd(Tensor dst, int dim, Tensor index, Tensor src);

    /// <summary>
    /// Batched discrete Fourier transforms over the last <paramref name="lengths"/>.Length (1 or 2) logical
    /// dimensions of contiguous tensors, unnormalised (forward e^-i, inverse e^+i). A complex tensor is a real
    /// one with a trailing dimension of 2 (interleaved real and imaginary parts, as <c>torch.view_as_real</c>).
    /// C2C: x and y are [..., n0, (n1,) 2]. R2C: x [..., n0, n1] gives y [..., n0, n1/2+1, 2] (always forward).
    /// C2R: x [..., n0, n1/2+1, 2] gives y [..., n0, n1] (always inverse; the imaginary parts of the zero and
    /// Nyquist bins of the last axis are ignored; with two axes it is the inverse C2C along the first, then a
    /// C2R along the last, as cuFFT defines it). x is never changed.
    /// </summary>
    void Fft(Tensor x, Tensor y, FftKind kind, int[] lengths, bool inverse);

    /// <summary>Copies the elements of <paramref name="src"/> (contiguous, on this backend's device) to host memory at <paramref name="destination"/>; returns when they are there.</summary>
    unsafe void CopyToHost(Tensor src, void* destination);

    /// <summary>Copies host memory at <paramref name="source"/> into <paramref name="dst"/> (contiguous, on this backend's device); the host memory may be reused when this returns.</summary>
    unsafe void CopyFromHost(void* source, Tensor dst);

    /// <summary>Waits until every operation queued on <paramref name="device"/> has finished (a no-op on the CPU).</summary>
    void Synchronize(Device device);

    /// <summary>Starts a timer on <paramref name="device"/>'s own clock: events on its stream on CUDA, a stopwatch on the CPU.</summary>
    DeviceTimer StartTimer(Device device);

    /// <summary>Starts a timeline of points on <paramref name="device"/>'s clock, for profilers (see <see cref="DeviceTimeline"/>).</summary>
    DeviceTimeline StartTimeline(Device device);

    /// <summary>The memory figures of <paramref name="device"/>.</summary>
    DeviceMemoryStats Memory(Device device);

    /// <summary>Starts the peak of <see cref="Memory"/> over from what is allocated now.</summary>
    void ResetPeakMemory(Device device);

    /// <summary>The running counts of the work queued on and waited for on <paramref name="device"/>.</summary>
    DeviceCounters Counters(Device device);

    /// <summary>Returns cached, unused memory of <paramref name="device"/> to the system.</summary>
    void EmptyCache(Device device);
}

/// <summary>The kinds of transform <see cref="IBackend.Fft"/> computes.</summary>
public enum FftKind
{
    /// <summary>Complex to complex.</summary>
    C2C,
    /// <summary>Real to the half spectrum along the last axis.</summary>
    R2C,
    /// <summary>The half spectrum to real.</summary>
    C2R,
}

/// <summary>Distributions the random fill produces.</summary>
public enum RandomDistribution
{
    /// <summary>Uniform on [p0, p1).</summary>
    Uniform,
    /// <summary>Normal with mean p0 and standard deviation p1.</summary>
    Normal,
    /// <summary>Integers uniform on [low, high), filled by <see cref="IBackend.RandomInteger"/>.</summary>
    Integer,
}

/// <summary>Finds the backend for a device.</summary>
internal static class Backend
{
    public static IBackend For(Device device) => device.Type switch
    {
        DeviceType.Cpu => Cpu.CpuBackend.Instance,
        DeviceType.Cuda => Cuda.Runtime.CudaBackend.Instance,
        _ => throw new NotSupportedException($"No backend for device {device}."),
    };
}
