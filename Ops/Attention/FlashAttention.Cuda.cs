using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Fused attention on CUDA in the FlashAttention-2 manner (<c>FlashAttention.cu</c>): the forward streams tiles of
/// keys and values through shared memory with an online softmax and saves the log-sum-exp of each query row; the
/// backward recomputes the probabilities tile by tile in two passes (dK and dV per key tile over every query
/// tile in order, then dQ per query tile over every key tile in order), so every gradient is summed in a fixed
/// order without atomics. Operands are read through their strides: each is passed as one <c>Strided</c> layout
/// (its batch dimensions, merged where every operand allows, then its rows and columns).
/// </summary>
internal static class FlashAttentionCuda
{
    private const string Unit = "Attention/FlashAttention.cu";

    // The tiling of FlashAttention.cu (FLASH_*): blocks of 4 warps; tiles of 32 keys (forward, dQ) or 32 queries
    // (dK/dV), one per lane; 4 query rows per warp in the forward, 2 query or key rows per warp in the backward;
    // head widths up to 4 columns per lane.
    private const uint Block = 128;
    private const int Tile = 32, ForwardRows = 16, BackwardRows = 8;

    /// <summary>The widest head (E and Ev) the kernels hold in registers: 4 columns per lane.</summary>
    public const int MaxHeadWidth = 128;

    /// <summary>The shared memory a block may use without the opt-in attribute, which every kernel stays under.</summary>
    private const int SharedLimit = 48 * 1024;

    /// <summary>The batch dimensions a layout keeps beside its rows and columns (the prelude's 8 in all).</summary>
    private const int MaxBatchDims = KernelSource.MaxDims - 2;

    /// <summary>
    /// Why the fused kernels cannot take these operands (a head wider than <see cref="MaxHeadWidth"/>, tiles over the
    /// shared memory limit, too many batch dimensions), or null when they can.
    /// </summary>
    public static string? Unsupported(AttentionGeometry g, Tensor q, Tensor k, Tensor v)
    {
        if (g.E > MaxHeadWidth || g.Ev > MaxHeadWidth)
            return $"its kernels take head widths up to {MaxHeadWidth} (E = {g.E}, Ev = {g.Ev})";
        int bytes = Math.Max(ForwardShared(g), Math.Max(QueryShared(g), KeyValueShared(g))) * q.DType.SizeOf();
        if (bytes > SharedLimit)
            return $"its tiles for E = {g.E}, Ev = {g.Ev} in {q.DType.TorchName()} need {bytes} bytes of shared memory, over {SharedLimit}";
        if (g.Batch.Count(size => size != 1) > MaxBatchDims)
            return $"its layouts take at most {MaxBatchDims} batch dimensions of size above 1 (batch {Layout.Format(g.Batch)})";
        return null;
    }

    // Elements of shared memory per block, as FlashAttention.cu carves it (key and query tiles read across lanes
    // have an odd row stride, E | 1, so that the 32 lanes hit 32 banks).
    private static int ForwardShared(AttentionGeometry g) => Tile * (g.E | 1) + Tile * g.Ev + ForwardRows * g.E + ForwardRows * Tile;

    private static int QueryShared(AttentionGeometry g) => Tile * (g.E | 1) + Tile * (g.Ev | 1) + BackwardRows * (g.E + g.Ev + Tile);

    private static int KeyValueShared(AttentionGeometry g) => Tile * (g.E | 1) + Tile * (g.Ev | 1) + BackwardRows * (g.E + g.Ev + 2 * Tile);

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(FlashAttentionCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>One block per tile of <paramref name="rowsPerTile"/> rows of each matrix, grid-strided, at most <see cref="AttentionCuda.MaxGrid"/> blocks.</summary>
    private static LaunchConfig Tiles(long count, int length, int rowsPerTile) =>
        new((uint)Math.Clamp(count * ((length + rowsPerTile - 1) / rowsPerTile), 1, AttentionCuda.MaxGrid), Block);

    /// <summary>An empty dot product is 0 whatever the scale, as on the CPU: zero-width heads must not give inf · 0.</summary>
    private static double KernelScale(AttentionGeometry g, double scale) => g.E == 0 ? 0 : scale;

    /// <summary>o = softmax(scale · q kᵀ) v and the log-sum-exp of every query row (contiguous, shape (*, L)).</summary>
    public static void Forward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, double scale, Tensor o, Tensor logSumExp)
    {
        if (g.Count == 0 || g.L == 0) return;
        var layouts = Layouts(g, q, k, v, o);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(q); args.Add(layouts[0]); args.Add(k); args.Add(layouts[1]); args.Add(v); args.Add(layouts[2]);
        args.Add(o); args.Add(layouts[3]); args.Add(logSumExp);
        args.Add(g.Count); args.Add(g.L); args.Add(g.S); args.Add(g.E); args.Add(g.Ev); args.Add(KernelScale(g, scale));
        Kernel(q, "flash_attention_forward").Launch(Tiles(g.Count, g.L, ForwardRows), args, (uint)(ForwardShared(g) * q.DType.SizeOf()));
    }

    /// <summary>
    /// The gradients asked for (null: skipped) from the output gradient <paramref name="go"/> (any layout), the saved
    /// output and log-sum-exp: first D = rowsum(go ∘ o) per query row, then the dK/dV pass and the dQ pass.
    /// </summary>
    public static void Backward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, Tensor o, Tensor logSumExp, Tensor go, double scale,
        Tensor? dq, Tensor? dk, Tensor? dv)
    {
        if (g.Count == 0) return;
        using var delta = Tensor.Empty(logSumExp.Layout.Shape, q.DType, q.Device);
        // Every layout from one joint merge, so that the kernels see the same batch dimensions in all of them.
        var layouts = Layouts(g, q, k, v, o, go, dq, dk, dv);
        var (lq, lk, lv, lo, lg, ldq, ldk, ldv) = (layouts[0], layouts[1], layouts[2], layouts[3], layouts[4], layouts[5], layouts[6], layouts[7]);
        double kernelScale = KernelScale(g, scale);
        long rows = g.Count * g.L;
        if (rows > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(go); args.Add(lg); args.Add(o); args.Add(lo); args.Add(delta); args.Add(g.Count); args.Add(g.L); args.Add(g.Ev);
            Kernel(q, "flash_attention_delta").Launch(new LaunchConfig((uint)Math.Clamp((rows + 3) / 4, 1, AttentionCuda.MaxGrid), Block), args);
        }
        if ((dk is not null || dv is not null) && g.S > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(q); args.Add(lq); args.Add(k); args.Add(lk); args.Add(v); args.Add(lv); args.Add(go); args.Add(lg);
            args.Add(logSumExp); args.Add(delta); args.Add(dk); args.Add(ldk); args.Add(dv); args.Add(ldv);
            args.Add(g.Count); args.Add(g.L); args.Add(g.S); args.Add(g.E); args.Add(g.Ev); args.Add(kernelScale);
            Kernel(q, "flash_attention_backward_key_value").Launch(Tiles(g.Count, g.S, BackwardRows), args, (uint)(KeyValueShared(g) * q.DType.SizeOf()));
        }
        if (dq is not null && rows > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(q); args.Add(lq); args.Add(k); args.Add(lk); args.Add(v); args.Add(lv); args.Add(go); args.Add(lg);
            args.Add(logSumExp); args.Add(delta); args.Add(dq); args.Add(ldq);
            args.Add(g.Count); args.Add(g.L); args.Add(g.S); args.Add(g.E); args.Add(g.Ev); args.Add(kernelScale);
            Kernel(q, "flash_attention_backward_query").Launch(Tiles(g.Count, g.L, BackwardRows), args, (uint)(QueryShared(g) * q.DType.SizeOf()));
        }
    }

    /// <summary>
    /// Each operand (null: an empty layout) as (batch..., rows, cols): the batch dimensions of <paramref name="g"/>
    /// without those of size 1, neighbours merged where they are contiguous in every operand, then the operand's
    /// own row and column strides.
    /// </summary>
    private static StridedArg[] Layouts(AttentionGeometry g, params Tensor?[] operands)
    {
        var batch = g.Batch;
        var present = operands.Where(t => t is not null).Select(t => t!).ToArray();
        var (sizes, strides) = Engine.Cpu.StridedIterator.Coalesce(batch, present.Select(t => t.Layout.Strides[..^2]).ToArray(), present.Select(_ => 1).ToArray());
        var result = new StridedArg[operands.Length];
        for (int i = 0, p = 0; i < operands.Length; i++)
        {
            if (operands[i] is not { } t) continue;
            var layout = t.Layout;
            result[i] = StridedArg.Of([.. sizes, layout.Shape[^2], layout.Shape[^1]], [.. strides[p++], layout.Strides[^2], layout.Strides[^1]]);
        }
        return result;
    }
}
