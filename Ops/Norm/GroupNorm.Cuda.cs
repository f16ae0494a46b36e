using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// The group norm on CUDA (<c>GroupNorm.cu</c>). Forward: one block per (sample, group) row, sized by the row's
/// length (32 to 256 threads), fixed-order sums. Backward: per-(sample, channel) sums by one warp each, then the
/// input gradient's two coefficients per row, then dx elementwise, and the affine gradients summed over the samples
/// in order: no atomics, so the same input gives the same bits.
/// </summary>
internal static class GroupNormCuda
{
    private const string Unit = "Norm/GroupNorm.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(GroupNormCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>Blocks per row: as many threads as the row has values, in whole warps, from 32 to 256 (the shape's choice, never the device's).</summary>
    private static LaunchConfig BlockRows(long rows, long length) =>
        new((uint)Math.Clamp(rows, 1, LaunchConfig.DefaultMaxGrid), (uint)Math.Clamp((length + 31) / 32 * 32, 32, 256));

    /// <summary>One warp per row, 8 per block.</summary>
    private static LaunchConfig WarpRows(long rows) => LaunchConfig.ForElements(rows * 32);

    public static void Forward(Tensor x, Tensor? w, Tensor? b, Tensor y, Tensor mean, Tensor rstd, GroupNormShape shape, double eps)
    {
        if (shape.Rows == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(w); args.Add(b); args.Add(y); args.Add(mean); args.Add(rstd);
        args.Add(shape.Rows); args.Add(shape.C); args.Add(shape.S); args.Add(shape.Groups); args.Add(eps);
        Kernel(x, "group_norm_forward").Launch(BlockRows(shape.Rows, shape.Length), args);
    }

    public static void Backward(Tensor g, Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor? dx, Tensor? dw, Tensor? db, GroupNormShape shape)
    {
        var (n, c, s, groups) = shape;
        // Σ g·(x - mean) and Σ g per (sample, channel), as (N, 2, C).
        using var sums = Tensor.Empty([n, 2, c], DType.F64, x.Device);
        if ((long)n * c > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(x); args.Add(mean); args.Add(sums); args.Add(n); args.Add(c); args.Add(s); args.Add(groups);
            Kernel(x, "group_norm_channel_sums").Launch(WarpRows((long)n * c), args);
        }
        if (dx is not null && dx.NumEl > 0)
        {
            using var coefficients = Tensor.Empty([checked((int)shape.Rows), 2], DType.F64, x.Device);
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(sums); args.Add(w); args.Add(mean); args.Add(rstd); args.Add(coefficients);
            args.Add(shape.Rows); args.Add(c); args.Add(s); args.Add(groups);
            Kernel(x, "group_norm_input_coefficients").Launch(LaunchConfig.ForElements(shape.Rows), args);

            args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(x); args.Add(w); args.Add(rstd); args.Add(coefficients); args.Add(dx);
            args.Add(dx.NumEl); args.Add(c); args.Add(s); args.Add(groups);
            Kernel(x, "group_norm_backward_input").Launch(LaunchConfig.ForElements(dx.NumEl), args);
        }
        if ((dw is not null || db is not null) && c > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(sums); args.Add(rstd); args.Add(dw); args.Add(db); args.Add(n); args.Add(c); args.Add(groups);
            Kernel(x, "group_norm_affine").Launch(LaunchConfig.ForElements(c), args);
        }
    }
}
