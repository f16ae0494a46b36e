using Engine.Autograd;
using Engine.Backends;
using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Conv2d on CUDA: depthwise convolutions go to <see cref="DepthwiseConvCuda"/>; the rest are column matrices
/// (<c>Conv2d.cu</c>) times the weight through the backend's cuBLAS GEMM, group by group, chunk by chunk.
/// </summary>
/// <remarks>
/// <para>The forward writes an image-major column matrix, [count, groups, Cin/groups·kH·kW, Ho·Wo], so that
/// one GEMM batched over the chunk's images (the weight broadcast with batch stride 0) writes each group's
/// outputs straight into y; a 1x1 stride-1 convolution reads the input itself as that matrix, with no
/// im2col. The backward works like the CPU's: a group-major column matrix with one row of count·Ho·Wo
/// pixels per (channel, tap), and the output gradient packed to [Cout, count·Ho·Wo] (read in place for
/// one image), so the weight gradient is one GEMM per chunk over every pixel of it, accumulated onto the
/// previous chunks' (beta = 1) in chunk order; the input gradient is Wᵀ times the packed gradient, folded
/// back by the col2im gather.</para>
/// <para>Deterministic: the chunks depend on the shapes alone, cuBLAS's GEMMs give the same bits for the same
/// call (no split-K atomics), col2im gives each input element to one thread, and the bias gradient is the
/// backend's fixed-order sum.</para>
/// </remarks>
internal static class Conv2dCuda
{
    private const string Unit = "Conv/Conv2d.cu";

    /// <summary>
    /// Upper bound on a chunk's column matrix and packed output gradient, in elements (64 MiB of floats):
    /// enough images for wide GEMMs on small maps, bounded memory on large ones (one image at least).
    /// </summary>
    public const long MaxColumnElements = 1L << 24;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(Conv2dCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>Images per chunk: as many as the column bound allows, from the shapes alone.</summary>
    public static int ImagesPerChunk(ConvGeometry g)
    {
        long perImage = Math.Max(1L, Math.Max((long)g.Cin * g.KH * g.KW, g.Cout) * g.OutPlane);
        return (int)Math.Clamp(MaxColumnElements / perImage, 1, Math.Max(1, g.N));
    }

    public static void Forward(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        if (g.IsDepthwise)
        {
            DepthwiseConvCuda.Forward(g, x, w, b, y);
            return;
        }
        if (y.NumEl == 0) return;
        using var noGrad = Tape.NoGrad();
        int chunk = ImagesPerChunk(g);
        long rows = (long)g.Cin * g.KH * g.KW;
        using var cols = g.IsPointwise ? null : Tensor.Empty([checked((int)(chunk * rows * g.OutPlane))], x.DType, x.Device);
        using var filters = w.View(1, g.Groups, g.CoutG, g.Kg);
        using var outputs = y.View(g.N, g.Groups, g.CoutG, g.OutPlane);
        using var planes = g.IsPointwise ? x.View(g.N, g.Groups, g.CinG, g.InPlane) : null;
        for (int b0 = 0; b0 < g.N; b0 += chunk)
        {
            int count = Math.Min(chunk, g.N - b0);
            using var columns = planes is not null ? planes.Narrow(0, b0, count) : ImageMajorColumns(g, x, b0, count, cols!);
            using var target = outputs.Narrow(0, b0, count);
            using var weights = filters.Expand(count, g.Groups, g.CoutG, g.Kg);
            GroupedGemm(weights, columns, target);
        }
        if (b is not null) AddBias(g, b, y);
    }

    public static void Backward(ConvGeometry g, Tensor? x, Tensor? w, Tensor gy, Tensor? gx, Tensor? gw, Tensor? gb)
    {
        if (g.IsDepthwise)
        {
            DepthwiseConvCuda.Backward(g, x, w, gy, gx, gw, gb);
            return;
        }
        using var noGrad = Tape.NoGrad();
        if (gb is not null) BiasGradient(g, gy, gb);
        if (gw is not null && g.N == 0) gw.Backend.Fill(gw, 0);
        if (gx is null && gw is null || g.N == 0) return;
        int chunk = ImagesPerChunk(g);
        long rows = (long)g.Cin * g.KH * g.KW;
        // A 1x1 stride-1 convolution of one image at a time reads the input and writes the input gradient in place of the columns.
        bool pointwise = g.IsPointwise && chunk == 1;
        // One column buffer serves both: the weight gradient reads it, then the input gradient overwrites it (the stream keeps the order).
        using var cols = pointwise ? null : Tensor.Empty([checked((int)(chunk * rows * g.OutPlane))], gy.DType, gy.Device);
        using var packed = chunk == 1 ? null : Tensor.Empty([checked((int)((long)g.Cout * chunk * g.OutPlane))], gy.DType, gy.Device);
        using var weights = w?.View(g.Groups, g.CoutG, g.Kg);
        using var weightsT = weights?.Transpose(1, 2);
        using var gw3 = gw?.View(g.Groups, g.CoutG, g.Kg);
        for (int b0 = 0; b0 < g.N; b0 += chunk)
        {
            int count = Math.Min(chunk, g.N - b0);
            using var a = OutputGradientMatrix(g, gy, b0, count, packed);
            if (gw3 is not null)
            {
                // gW_g (+)= gY_g (CoutG × n) · cols_gᵀ (n × Kg), chunks in order.
                using var columns = pointwise ? Image(x!, g.N, g.Groups, g.CinG, g.InPlane, b0) : GroupMajorColumns(g, x!, b0, count, cols!);
                using var columnsT = columns.Transpose(1, 2);
                gw3.Backend.Gemm(a, columnsT, gw3, 1, b0 > 0 ? 1 : 0);
            }
            if (gx is not null)
            {
                // cols_g = W_gᵀ (Kg × CoutG) · gY_g (CoutG × n), then folded back onto the input.
                long n = (long)count * g.OutPlane;
                using var target = pointwise ? Image(gx, g.N, g.Groups, g.CinG, g.InPlane, b0) : Matrix(cols!, g.Groups, g.Kg, (int)n);
                gx.Backend.Gemm(weightsT!, a, target, 1, 0);
                if (!pointwise) Col2Im(g, cols!, gx, b0, count, rowStride: n, imageStride: g.OutPlane);
            }
        }
    }

    /// <summary>
    /// c = a·b over [count, groups] batches of matrices in one cuBLAS call where the batch is one stride (one
    /// image, or one group), else one call per group (or per image, whichever is fewer).
    /// </summary>
    private static void GroupedGemm(Tensor a, Tensor b, Tensor c)
    {
        int count = c.Size(0), groups = c.Size(1);
        if (count == 1 || groups == 1)
        {
            c.Backend.Gemm(a, b, c, 1, 0);
            return;
        }
        int dim = groups <= count ? 1 : 0;
        for (int i = 0; i < c.Size(dim); i++)
        {
            using var ai = a.Select(dim, i);
            using var bi = b.Select(dim, i);
            using var ci = c.Select(dim, i);
            c.Backend.Gemm(ai, bi, ci, 1, 0);
        }
    }

    /// <summary>Image <paramref name="index"/> of a contiguous map seen as [n, groups, rows, cols]: a [groups, rows, cols] view.</summary>
    private static Tensor Image(Tensor t, int n, int groups, int rows, int cols, int index)
    {
        using var all = t.View(n, groups, rows, cols);
        return all.Select(0, index);
    }

    /// <summary>The first groups·rows·cols elements of a flat buffer as [groups, rows, cols].</summary>
    private static Tensor Matrix(Tensor buffer, int groups, int rows, int cols)
    {
        using var used = buffer.Narrow(0, 0, groups * rows * cols);
        return used.View(groups, rows, cols);
    }

    /// <summary>Images [b0, b0 + count) of a contiguous (N, C, H, W) tensor as one [count, C·H·W] view.</summary>
    private static Tensor Images(Tensor t, int n, long perImage, int b0, int count)
    {
        using var all = t.View(n, checked((int)perImage));
        return all.Narrow(0, b0, count);
    }

    /// <summary>The chunk's column matrix, image-major, as [count, groups, Kg, Ho·Wo].</summary>
    private static Tensor ImageMajorColumns(ConvGeometry g, Tensor x, int b0, int count, Tensor cols)
    {
        long rows = (long)g.Cin * g.KH * g.KW;
        Im2Col(g, x, b0, count, cols, rowStride: g.OutPlane, imageStride: rows * g.OutPlane);
        using var used = cols.Narrow(0, 0, checked((int)(count * rows * g.OutPlane)));
        return used.View(count, g.Groups, g.Kg, g.OutPlane);
    }

    /// <summary>The chunk's column matrix, group-major, as [groups, Kg, count·Ho·Wo].</summary>
    private static Tensor GroupMajorColumns(ConvGeometry g, Tensor x, int b0, int count, Tensor cols)
    {
        long n = (long)count * g.OutPlane;
        Im2Col(g, x, b0, count, cols, rowStride: n, imageStride: g.OutPlane);
        return Matrix(cols, g.Groups, g.Kg, (int)n);
    }

    /// <summary>The output gradient of the chunk as [groups, CoutG, count·Ho·Wo]: in place for one image, else packed.</summary>
    private static Tensor OutputGradientMatrix(ConvGeometry g, Tensor gy, int b0, int count, Tensor? packed)
    {
        if (count == 1) return Image(gy, g.N, g.Groups, g.CoutG, g.OutPlane, b0);
        using var all = gy.View(g.N, g.Cout, g.OutPlane);
        using var chunk = all.Narrow(0, b0, count);
        using var byChannel = chunk.Permute(1, 0, 2);
        using var used = packed!.Narrow(0, 0, g.Cout * count * g.OutPlane);
        using var target = used.View(g.Cout, count, g.OutPlane);
        gy.Backend.Copy(byChannel, target);
        return used.View(g.Groups, g.CoutG, count * g.OutPlane);
    }

    private static void Im2Col(ConvGeometry g, Tensor x, int b0, int count, Tensor cols, long rowStride, long imageStride)
    {
        long total = (long)g.Cin * g.KH * g.KW * count * g.OutPlane;
        if (total == 0) return;
        using var images = Images(x, g.N, (long)g.Cin * g.InPlane, b0, count);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(images); args.Add(cols); args.Add(count);
        AddShape(ref args, g);
        args.Add(rowStride); args.Add(imageStride);
        Kernel(x, "conv_im2col").Launch(LaunchConfig.ForElements(total), args);
    }

    private static void Col2Im(ConvGeometry g, Tensor cols, Tensor gx, int b0, int count, long rowStride, long imageStride)
    {
        long total = (long)count * g.Cin * g.InPlane;
        if (total == 0) return;
        using var images = Images(gx, g.N, (long)g.Cin * g.InPlane, b0, count);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(cols); args.Add(images); args.Add(count);
        AddShape(ref args, g);
        args.Add(rowStride); args.Add(imageStride);
        Kernel(gx, "conv_col2im").Launch(LaunchConfig.ForElements(total), args);
    }

    /// <summary>The kernels' ConvShape: input channels and plane, kernel, stride, dilation, top and left padding, output plane.</summary>
    private static void AddShape(ref KernelArgs args, ConvGeometry g)
    {
        args.Add(g.Cin); args.Add(g.H); args.Add(g.W); args.Add(g.KH); args.Add(g.KW);
        args.Add(g.SH); args.Add(g.SW); args.Add(g.DH); args.Add(g.DW);
        args.Add(g.PadTop); args.Add(g.PadLeft); args.Add(g.Ho); args.Add(g.Wo);
    }

    /// <summary>y[n, co, :] += bias[co], through the backend's elementwise add (the CPU adds after its GEMM too).</summary>
    private static void AddBias(ConvGeometry g, Tensor b, Tensor y)
    {
        using var outputs = y.View(g.N, g.Cout, g.OutPlane);
        using var column = b.View(1, g.Cout, 1);
        using var bias = column.Expand(g.N, g.Cout, g.OutPlane);
        y.Backend.Binary<AddOp>(outputs, bias, outputs);
    }

    /// <summary>gb[co] = the sum of gy[:, co, :], by the backend's reduction (fixed order, double accumulation).</summary>
    private static void BiasGradient(ConvGeometry g, Tensor gy, Tensor gb)
    {
        using var outputs = gy.View(g.N, g.Cout, g.OutPlane);
        using var target = gb.View(1, g.Cout, 1);
        gy.Backend.Reduce(ReduceKind.Sum, outputs, [0, 2], target);
    }
}
