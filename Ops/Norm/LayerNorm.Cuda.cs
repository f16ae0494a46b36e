using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// LayerNorm on CUDA (<c>LayerNorm.cu</c>): the kernel by name and dtype, its launch configuration, its
/// arguments. Rows go one per warp (8 per block of 256); the affine gradients in two passes, chunk partials in
/// double then their ordered sum, so that the same input gives the same bits.
/// </summary>
internal static class LayerNormCuda
{
    private const string Unit = "Norm/LayerNorm.cu";
    private const uint Block = 256, RowsPerBlock = Block / 32;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(LayerNormCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    private static LaunchConfig WarpRows(long rows) => new((uint)Math.Clamp((rows + RowsPerBlock - 1) / RowsPerBlock, 1, LaunchConfig.DefaultMaxGrid), Block);

    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, long rows, int d, double eps)
    {
        if (rows == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(w); args.Add(b); args.Add(y); args.Add(mean); args.Add(rstd);
        args.Add(rows); args.Add(d); args.Add(eps);
        Kernel(x, "layer_norm_forward").Launch(WarpRows(rows), args);
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, long rows, int d)
    {
        if (dx is not null && rows > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(x); args.Add(w); args.Add(mean); args.Add(rstd); args.Add(dx); args.Add(rows); args.Add(d);
            Kernel(x, "layer_norm_backward_input").Launch(WarpRows(rows), args);
        }
        if (dw is null && db is null) return;
        // Chunks of rows fixed by the shape alone (never by the device): at most 512 partial rows of 2·d doubles.
        long chunks = Math.Clamp((rows + 31) / 32, 1, 512);
        using var partials = Tensor.Empty([(int)(chunks * 2), d], DType.F64, x.Device);
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(x); args.Add(mean); args.Add(rstd); args.Add(partials); args.Add(rows); args.Add(d); args.Add(chunks);
            Kernel(x, "layer_norm_affine_partials").Launch(LaunchConfig.ForElements(chunks * d), args);
        }
        SumAffinePartials(partials, dw, db, d, chunks);
    }

    /// <summary>
    /// Pass 2 of the affine gradients of the norms that keep per-chunk partials as (chunks, 2, d) doubles (Σ g·x̂,
    /// then Σ g): dw and db (either may be null, of the dtype of the one given) sum the chunks in chunk order.
    /// </summary>
    internal static void SumAffinePartials(Tensor partials, Tensor? dw, Tensor? db, int d, long chunks)
    {
        if (d == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(partials); args.Add(dw); args.Add(db); args.Add(d); args.Add(chunks);
        Kernel((dw ?? db)!, "layer_norm_affine_final").Launch(LaunchConfig.ForElements(d), args);
    }
}
