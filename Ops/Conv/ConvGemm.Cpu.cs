using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Convolution as matrix products: per chunk of images, the column matrix (<see cref="Im2Col"/>) times the
/// weight, group by group. A 1x1 stride-1 convolution of one image reads the input itself as the matrix.
/// </summary>
/// <remarks>
/// Images are taken in chunks so that small feature maps still give the GEMM a few hundred columns: a
/// chunk's outputs come out as (Cout, images·Ho·Wo) and are scattered back to (images, Cout, Ho, Wo).
/// With large maps a chunk is one image and the GEMM writes the output directly. The chunking depends on
/// the shapes only, and chunks run in order (the GEMM threads its own tiles), so the weight gradient sums
/// the images in the same order for any thread count.
/// </remarks>
internal static unsafe class ConvGemm
{
    /// <summary>Columns a chunk aims for: narrower GEMMs spend their time on edges, packing and thread hand-offs (measured on the MV2 blocks' small maps).</summary>
    public const int TargetColumns = 8192;

    /// <summary>Upper bound on a chunk's column matrix, in elements, so it stays in the last-level cache's neighbourhood.</summary>
    public const long MaxColumnElements = 1L << 21;

    public static int ImagesPerChunk(ConvGeometry g)
    {
        if (g.N <= 1 || g.OutPlane == 0) return 1;
        long wanted = (TargetColumns + g.OutPlane - 1) / g.OutPlane;
        long rows = Math.Max(1L, (long)g.Cin * g.KH * g.KW);
        long cap = Math.Max(1L, MaxColumnElements / (rows * g.OutPlane));
        return (int)Math.Clamp(Math.Min(wanted, cap), 1, g.N);
    }

    /// <summary>y = conv(x, w) + bias; every operand contiguous, <paramref name="bias"/> may be null.</summary>
    public static void Forward<T>(ConvGeometry g, T* x, T* w, T* bias, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunk = ImagesPerChunk(g);
        bool direct = chunk == 1;
        bool readInput = g.IsPointwise && direct;
        long rows = (long)g.Cin * g.KH * g.KW;
        using var cols = new ConvScratch<T>(readInput ? 0 : rows * chunk * g.OutPlane);
        using var tmp = new ConvScratch<T>(direct ? 0 : (long)g.Cout * chunk * g.OutPlane);
        for (int b0 = 0; b0 < g.N; b0 += chunk)
        {
            int count = Math.Min(chunk, g.N - b0);
            int n = count * g.OutPlane;
            T* b = readInput ? x + (long)b0 * g.Cin * g.InPlane : cols.Ptr;
            if (!readInput) Im2Col.Fill(g, x, b0, count, cols.Ptr);
            T* c = direct ? y + (long)b0 * g.Cout * g.OutPlane : tmp.Ptr;
            for (int grp = 0; grp < g.Groups; grp++)
                ConvPoolKernels.Gemm(g.CoutG, n, g.Kg, w + (long)grp * g.CoutG * g.Kg, g.Kg, 1,
                    b + (long)grp * g.Kg * n, n, 1, false, c + (long)grp * g.CoutG * n, n);
            if (!direct) Unpack(g, tmp.Ptr, b0, count, y);
        }
        if (bias != null) AddBias(g, bias, y);
    }

    /// <summary>
    /// Gradients of the input, weight and bias from the output gradient <paramref name="gy"/>; a null target
    /// is skipped. <paramref name="x"/> is read only for the weight gradient, <paramref name="w"/> only for the input's.
    /// </summary>
    public static void Backward<T>(ConvGeometry g, T* x, T* w, T* gy, T* gx, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunk = ImagesPerChunk(g);
        bool direct = chunk == 1;
        bool readInput = g.IsPointwise && direct;
        long rows = (long)g.Cin * g.KH * g.KW;
        // One column buffer serves both: the weight gradient reads it, then the input gradient overwrites it.
        using var cols = new ConvScratch<T>(readInput || (gx == null && gw == null) ? 0 : rows * chunk * g.OutPlane);
        using var packed = new ConvScratch<T>(direct ? 0 : (long)g.Cout * chunk * g.OutPlane);
        if (gw != null && g.N == 0) new Span<T>(gw, g.Cout * g.Kg).Clear();
        for (int b0 = 0; b0 < g.N && (gx != null || gw != null); b0 += chunk)
        {
            int count = Math.Min(chunk, g.N - b0);
            int n = count * g.OutPlane;
            T* a = gy + (long)b0 * g.Cout * g.OutPlane;
            if (!direct)
            {
                Pack(g, gy, b0, count, packed.Ptr);
                a = packed.Ptr;
            }
            if (gw != null)
            {
                T* b = readInput ? x + (long)b0 * g.Cin * g.InPlane : cols.Ptr;
                if (!readInput) Im2Col.Fill(g, x, b0, count, cols.Ptr);
                // gW_g += gY_g (CoutG x n) * cols_g^T (n x Kg), images in order.
                for (int grp = 0; grp < g.Groups; grp++)
                    ConvPoolKernels.Gemm(g.CoutG, g.Kg, n, a + (long)grp * g.CoutG * n, n, 1,
                        b + (long)grp * g.Kg * n, 1, n, b0 > 0, gw + (long)grp * g.CoutG * g.Kg, g.Kg);
            }
            if (gx != null)
            {
                T* c = readInput ? gx + (long)b0 * g.Cin * g.InPlane : cols.Ptr;
                // cols_g = W_g^T (Kg x CoutG) * gY_g (CoutG x n), then folded back onto the input.
                for (int grp = 0; grp < g.Groups; grp++)
                    ConvPoolKernels.Gemm(g.Kg, n, g.CoutG, w + (long)grp * g.CoutG * g.Kg, 1, g.Kg,
                        a + (long)grp * g.CoutG * n, n, 1, false, c + (long)grp * g.Kg * n, n);
                if (!readInput) Im2Col.Accumulate(g, cols.Ptr, b0, count, gx);
            }
        }
        if (gb != null) BiasGradient(g, gy, gb);
    }

    /// <summary>y[n, co, :] += bias[co].</summary>
    public static void AddBias<T>(ConvGeometry g, T* bias, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint bs = (nint)bias, ys = (nint)y;
        CpuParallel.For((long)g.N * g.Cout, g.OutPlane, (start, end) =>
        {
            for (long p = start; p < end; p++)
                ConvPoolKernels.AddScalar((T*)ys + p * g.OutPlane, ((T*)bs)[p % g.Cout], g.OutPlane);
        });
    }

    /// <summary>gb[co] = sum over images and pixels of gy[n, co, :], images in order.</summary>
    public static void BiasGradient<T>(ConvGeometry g, T* gy, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint gs = (nint)gy, bs = (nint)gb;
        CpuParallel.For(g.Cout, (double)g.N * g.OutPlane, (start, end) =>
        {
            for (long co = start; co < end; co++)
            {
                T sum = T.Zero;
                for (int n = 0; n < g.N; n++) sum += ConvPoolKernels.Sum((T*)gs + ((long)n * g.Cout + co) * g.OutPlane, g.OutPlane);
                ((T*)bs)[co] = sum;
            }
        });
    }

    /// <summary>(Cout, count·Ho·Wo) chunk result to y[b0 .. b0 + count).</summary>
    private static void Unpack<T>(ConvGeometry g, T* tmp, int b0, int count, T* y) where T : unmanaged
    {
        nint ts = (nint)tmp, ys = (nint)y;
        long n = (long)count * g.OutPlane;
        CpuParallel.For((long)count * g.Cout, g.OutPlane, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                long b = p / g.Cout, co = p % g.Cout;
                new ReadOnlySpan<T>((T*)ts + co * n + b * g.OutPlane, g.OutPlane)
                    .CopyTo(new Span<T>((T*)ys + ((b0 + b) * g.Cout + co) * g.OutPlane, g.OutPlane));
            }
        });
    }

    /// <summary>gy[b0 .. b0 + count) to a (Cout, count·Ho·Wo) matrix.</summary>
    private static void Pack<T>(ConvGeometry g, T* gy, int b0, int count, T* packed) where T : unmanaged
    {
        nint gs = (nint)gy, ps = (nint)packed;
        long n = (long)count * g.OutPlane;
        CpuParallel.For((long)count * g.Cout, g.OutPlane, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                long b = p / g.Cout, co = p % g.Cout;
                new ReadOnlySpan<T>((T*)gs + ((b0 + b) * g.Cout + co) * g.OutPlane, g.OutPlane)
                    .CopyTo(new Span<T>((T*)ps + co * n + b * g.OutPlane, g.OutPlane));
            }
        });
    }
}
