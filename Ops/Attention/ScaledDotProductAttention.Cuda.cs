using Engine.Autograd;
using Engine.Backends;
using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Attention on CUDA with saved probabilities, for short sequences and as the fused path's reference: the
/// products by the backend's strided batched GEMM (cuBLAS), the row softmax and its backward by the kernels of
/// <c>ScaledDotProductAttention.cu</c> (one warp per row, statistics in double, the CPU's NaN rule).
/// </summary>
internal static class AttentionCuda
{
    private const string Unit = "Attention/ScaledDotProductAttention.cu";
    private const uint Block = 256, RowsPerBlock = Block / 32;

    /// <summary>
    /// The most blocks of a row launch: 4096 blocks of 8 warps fill an H100's 132 SMs several times over, and a
    /// cap reached at 32,768 rows means a test of 70,000 rows walks the grid-stride loop.
    /// </summary>
    internal const uint MaxGrid = 4096;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(AttentionCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    private static LaunchConfig WarpRows(long rows) => new((uint)Math.Clamp((rows + RowsPerBlock - 1) / RowsPerBlock, 1, MaxGrid), Block);

    /// <summary>p (contiguous) = softmax(scale · q kᵀ) and o = p v (any layout with unit column stride).</summary>
    public static void Forward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, double scale, Tensor p, Tensor o)
    {
        var backend = Backend.For(q.Device);
        using (var kT = Transposed(k)) backend.Gemm(q, kT, p, scale, 0);
        long rows = g.Count * g.L;
        if (rows > 0 && g.S > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(p); args.Add(rows); args.Add(g.S);
            Kernel(p, "attention_softmax_rows").Launch(WarpRows(rows), args);
        }
        GemmInto(backend, p, v, o, 1);
    }

    /// <summary>
    /// dv = pᵀ go, dS = p ∘ (go vᵀ − rowsum(go vᵀ ∘ p)), dq = scale · dS k, dk = scale · dSᵀ q; the gradients
    /// not asked for (null) are skipped.
    /// </summary>
    public static void Backward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, Tensor p, Tensor go, double scale, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        var backend = Backend.For(q.Device);
        if (dv is not null)
            using (var pT = Transposed(p)) GemmInto(backend, pT, go, dv, 1);
        if (dq is null && dk is null) return;
        using var ds = Tensor.Empty(p.Layout.Shape, p.DType, p.Device);
        using (var vT = Transposed(v)) backend.Gemm(go, vT, ds, 1, 0);
        long rows = g.Count * g.L;
        if (rows > 0 && g.S > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(p); args.Add(ds); args.Add(rows); args.Add(g.S);
            Kernel(p, "attention_softmax_backward_rows").Launch(WarpRows(rows), args);
        }
        if (dq is not null) GemmInto(backend, ds, k, dq, scale);
        if (dk is not null)
            using (var dsT = Transposed(ds)) GemmInto(backend, dsT, q, dk, scale);
    }

    /// <summary>The view with the last two dimensions swapped, not recorded (the node records its own backward).</summary>
    private static Tensor Transposed(Tensor t)
    {
        using var noGrad = Tape.NoGrad();
        return t.Transpose(-2, -1);
    }

    /// <summary>
    /// c = alpha · a b. cuBLAS writes a batch of matrices one stride apart; an output whose batch dimensions do not
    /// step by one stride (a head view of (B, L, h, d) memory) gets the product in a dense scratch, then copied in.
    /// </summary>
    private static void GemmInto(IBackend backend, Tensor a, Tensor b, Tensor c, double alpha)
    {
        if (OneBatchStride(c))
        {
            backend.Gemm(a, b, c, alpha, 0);
            return;
        }
        using var dense = Tensor.Empty(c.Layout.Shape, c.DType, c.Device);
        backend.Gemm(a, b, dense, alpha, 0);
        backend.Copy(dense, c);
    }

    /// <summary>True when the batch dimensions of size above 1 step through memory by one stride (cuBLAS's batch stride).</summary>
    private static bool OneBatchStride(Tensor t)
    {
        var shape = t.Layout.Shape; var strides = t.Layout.Strides;
        long? expected = null;
        for (int d = shape.Length - 3; d >= 0; d--)
        {
            if (shape[d] == 1) continue;
            if (expected is { } e && strides[d] != e) return false;
            expected = strides[d] * shape[d];
        }
        return true;
    }
}
