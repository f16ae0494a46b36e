using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Convolution as matrix products, group by group, over the whole batch at once: the weight times the column
/// matrix, which the GEMM packs straight from the input (<see cref="ConvOperands"/>), writing each image's
/// output in place. The weight gradient is the output gradient times the transposed column matrix, packed the
/// same way. The input gradient of a stride-1 convolution is itself a convolution (of the output gradient with
/// the flipped kernel, channels swapped), computed the same way; other strides go through a stored column
/// matrix and its adjoint (<see cref="Im2Col"/>), the path described below.
/// </summary>
/// <remarks>
/// <para>
/// The self-packed paths compute the same sums in the same order as a stored column matrix would give: their
/// bits equal the column-matrix path's (<see cref="Path"/>; kept for short rows, thin products and strided input
/// gradients, and as the tests' reference) in the forward pass, and depend on the shapes only, never on the thread count.
/// </para>
/// <para>Column-matrix path:
/// Images are taken in chunks so that small feature maps still give the GEMM a few hundred columns: a
/// chunk's outputs come out as (Cout, images·Ho·Wo) and are scattered back to (images, Cout, Ho, Wo).
/// With large maps a chunk is one image and the GEMM writes the output directly. The chunking depends on
/// the shapes only, and chunks run in order (the GEMM threads its own tiles), so the weight gradient sums
/// the images in the same order for any thread count.
/// </para>
/// </remarks>
internal static unsafe class ConvGemm
{
    /// <summary>Columns a chunk aims for: narrower GEMMs spend their time on edges, packing and thread hand-offs (measured on the MV2 blocks' small maps).</summary>
    public const int TargetColumns = 8192;

    /// <summary>Upper bound on a chunk's column matrix, in elements, so it stays in the last-level cache's neighbourhood.</summary>
    public const long MaxColumnElements = 1L << 21;

    /// <summary>Which path a pass takes: chosen from the shapes, or forced (tests).</summary>
    internal enum PathChoice { Auto, ColumnMatrix, SelfPacked }

    [ThreadStatic] private static PathChoice t_path;

    /// <summary>
    /// Tests only: force the stored column-matrix path or the self-packed one for every pass they can take (per
    /// calling thread); <see cref="PathChoice.Auto"/> (the default) picks by shape.
    /// </summary>
    internal static PathChoice Path
    {
        get => t_path;
        set => t_path = value;
    }

    /// <summary>Shortest run of output pixels (an output row; a plane when pointwise) for which packing from the input pays.</summary>
    private const int MinRun = 16;

    /// <summary>
    /// Whether the forward product packs its column matrix from the input. Short rows make many short copies,
    /// and few output channels a short product per packed panel: there the stored matrix's block copies win
    /// (measured on vHeat-Nano's stem, 8 channels on a 16-wide map, and its 8x8 to 1x1 maps, 2026-12-07).
    /// Shapes only, never the thread count, decide. Patch convolutions (<see cref="ConvGeometry.IsPatchify"/>) with rows of
    /// 16+ patches pack from the input whatever their channels: their panels are transposed input rows
    /// (<see cref="PatchOperands"/>, whole vectors of patches at a time); with shorter rows the transposes run in scalar
    /// pieces and the stored path was faster (Sequencer-Nano's 2x2 downsampling, 8 patches a row, 2026-12-07).
    /// </summary>
    private static bool SelfPackedForward(ConvGeometry g) => Path switch
    {
        PathChoice.ColumnMatrix => false,
        PathChoice.SelfPacked => Fits(g),
        _ => Fits(g) && (g.IsPointwise ? g.OutPlane : g.Wo) >= MinRun && (g.IsPatchify || g.CoutG >= 32),
    };

    /// <summary>
    /// Whether the weight gradient packs the transposed column matrix from the input: only for deep column
    /// matrices (3x3 and larger kernels over many channels); with a few dozen rows the product is too thin and the
    /// stored path was faster (the bench's 1x1 case, vHeat-Nano's stem; 2026-12-07). Patch convolutions with rows of 16+
    /// patches whatever their depth: their rows are kx-contiguous pieces of the input, copied as they lie
    /// (<see cref="PatchOperands.Rows{T}"/>).
    /// </summary>
    private static bool SelfPackedWeightGradient(ConvGeometry g) => Path switch
    {
        PathChoice.ColumnMatrix => false,
        PathChoice.SelfPacked => Fits(g),
        _ => Fits(g) && !g.IsPointwise && g.Wo >= MinRun && (g.IsPatchify || g.Kg >= 256),
    };

    /// <summary>
    /// Whether a pointwise convolution's gradients are products over the whole batch with operands packed from the
    /// tensors (<see cref="PlaneRows{T}"/>, <see cref="PlaneColumns{T}"/>) instead of chunk copies to and
    /// from stored matrices: always, unless the column-matrix path is forced.
    /// </summary>
    private static bool PointwiseBackward(ConvGeometry g) => g.IsPointwise && Path != PathChoice.ColumnMatrix && Fits(g);

    /// <summary>
    /// Whether a patch convolution's input gradient is one product over the batch into a patch-gradient matrix, then
    /// written back (<see cref="PatchOperands.ScatterPatches{T}"/>): for rows of 16+ patches, as the forward pass.
    /// </summary>
    private static bool PatchInputGradient(ConvGeometry g) => g.IsPatchify && Fits(g) && Path switch
    {
        PathChoice.ColumnMatrix => false,
        PathChoice.SelfPacked => true,
        _ => g.Wo >= MinRun,
    };

    /// <summary>Whether the batch's pixels fit the GEMM's int column count; the self-packed paths need that.</summary>
    private static bool Fits(ConvGeometry g) => (long)g.N * g.OutPlane <= int.MaxValue;

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
        if (SelfPackedForward(g))
        {
            ForwardSelfPacked(g, x, w, y);
            if (bias != null) AddBias(g, bias, y);
            return;
        }
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

    /// <summary>y = conv(x, w) without bias: per group, W_g (CoutG x Kg) times the self-packed column matrix, images side by side.</summary>
    private static void ForwardSelfPacked<T>(ConvGeometry g, T* x, T* w, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int grp = 0; grp < g.Groups; grp++)
            CpuGemm.Gemm(g.CoutG, g.N * g.OutPlane, g.Kg, null, w + (long)grp * g.CoutG * g.Kg, g.Kg, 1,
                Panels(g, x, grp), null, 0, 0, false,
                y + (long)grp * g.CoutG * g.OutPlane, g.OutPlane, g.OutPlane, (long)g.Cout * g.OutPlane);
    }

    /// <summary>Group <paramref name="grp"/>'s column matrix as the forward product's B: patches, a pointwise input as it lies, or general.</summary>
    private static GemmOperand<T> Panels<T>(ConvGeometry g, T* x, int grp) where T : unmanaged, IFloatingPointIeee754<T> =>
        g.IsPatchify ? new PatchOperands.Columns<T>(g, x, grp)
        : g.IsPointwise ? new PlaneColumns<T>(x, g.Cin, grp * g.CinG, g.InPlane)
        : new ConvOperands.Columns<T>(g, x, grp);

    /// <summary>
    /// Gradients of the input, weight and bias from the output gradient <paramref name="gy"/>; a null target
    /// is skipped. <paramref name="x"/> is read only for the weight gradient, <paramref name="w"/> only for the input's.
    /// </summary>
    public static void Backward<T>(ConvGeometry g, T* x, T* w, T* gy, T* gx, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Pointwise: gW_g = gY_g · X_gᵀ, k running over the whole batch's pixels in order; gX_g = W_gᵀ · gY_g with the
        // batch's pixels as columns, each image's plane written in place.
        if (PointwiseBackward(g))
        {
            for (int grp = 0; grp < g.Groups && gw != null; grp++)
                CpuGemm.Gemm(g.CoutG, g.CinG, g.N * g.OutPlane, new PlaneRows<T>(gy, g.Cout, grp * g.CoutG, g.OutPlane), null, 0, 0,
                    new PlaneRows<T>(x, g.Cin, grp * g.CinG, g.InPlane), null, 0, 0, false, gw + (long)grp * g.CoutG * g.Kg, g.Kg);
            for (int grp = 0; grp < g.Groups && gx != null; grp++)
                CpuGemm.Gemm(g.CinG, g.N * g.OutPlane, g.CoutG, null, w + (long)grp * g.CoutG * g.Kg, 1, g.Kg,
                    new PlaneColumns<T>(gy, g.Cout, grp * g.CoutG, g.OutPlane), null, 0, 0, false,
                    gx + (long)grp * g.CinG * g.InPlane, g.InPlane, g.InPlane, (long)g.Cin * g.InPlane);
            gw = gx = null;
        }
        // gW_gᵀ = cols_g (Kg x N·Ho·Wo) · gY_gᵀ, one product over the whole batch (k runs over the images in
        // order), then transposed. This way round the long column matrix is A, which the workers split between
        // them and pack once; as B it would be shared but the output gradient, as A, packed by every worker.
        if (gw != null && SelfPackedWeightGradient(g))
        {
            using var gwT = new ConvScratch<T>((long)g.Kg * g.CoutG);
            for (int grp = 0; grp < g.Groups; grp++)
            {
                GemmOperand<T> rows = g.IsPatchify ? new PatchOperands.Rows<T>(g, x, grp) : new ConvOperands.ColumnRows<T>(g, x, grp);
                CpuGemm.Gemm(g.Kg, g.CoutG, g.N * g.OutPlane, rows, null, 0, 0,
                    new ConvOperands.OutputRows<T>(g, gy, grp), null, 0, 0, false, gwT.Ptr, g.CoutG);
                T* dst = gw + (long)grp * g.CoutG * g.Kg;
                for (int co = 0; co < g.CoutG; co++)
                    for (int r = 0; r < g.Kg; r++) dst[(long)co * g.Kg + r] = gwT.Ptr[(long)r * g.CoutG + co];
            }
            gw = null;
        }
        // Patches: gP_g = W_gᵀ (Kg x CoutG) · gY_g, the patches of as many images as MaxColumnElements allows as columns,
        // then each value written to its one input pixel (patches do not overlap: no sums, so the bits are the
        // column-matrix path's, and k is the channels, so the chunking changes no sum).
        if (gx != null && PatchInputGradient(g))
        {
            int chunk = (int)Math.Clamp(MaxColumnElements / Math.Max(1L, (long)g.Kg * g.OutPlane), 1, Math.Max(1, g.N));
            using var cols = new ConvScratch<T>((long)g.Kg * chunk * g.OutPlane);
            for (int b0 = 0; b0 < g.N; b0 += chunk)
            {
                int images = Math.Min(chunk, g.N - b0);
                long patches = (long)images * g.OutPlane;
                for (int grp = 0; grp < g.Groups; grp++)
                {
                    CpuGemm.Gemm(g.Kg, (int)patches, g.CoutG, null, w + (long)grp * g.CoutG * g.Kg, 1, g.Kg,
                        new PlaneColumns<T>(gy + (long)b0 * g.Cout * g.OutPlane, g.Cout, grp * g.CoutG, g.OutPlane), null, 0, 0,
                        false, cols.Ptr, patches);
                    PatchOperands.ScatterPatches(g, cols.Ptr, patches, grp, gx + (long)b0 * g.Cin * g.InPlane, images);
                }
            }
            gx = null;
        }
        // The input gradient of a stride-1 convolution is the convolution of gY with the flipped kernel (pointwise ones are
        // done above, or go to the column-matrix path when forced or too large for one product).
        var t = gx != null ? g.InputGradientConv() : null;
        if (t != null && SelfPackedForward(t) && (Path == PathChoice.SelfPacked || !g.IsPointwise))
        {
            using var flipped = new ConvScratch<T>((long)g.Cin * g.CoutG * g.KH * g.KW);
            FlipKernel(g, w, flipped.Ptr);
            ForwardSelfPacked(t, gy, flipped.Ptr, gx);
            gx = null;
        }
        if (gx != null || gw != null) BackwardColumnMatrix(g, x, w, gy, gx, gw);
        if (gb != null) BiasGradient(g, gy, gb);
    }

    /// <summary>
    /// The kernel of <see cref="ConvGeometry.InputGradientConv"/>: w' (Cin, CoutG, kH, kW) with
    /// w'[grp·CinG + ci, co, ky, kx] = w[grp·CoutG + co, ci, kH−1−ky, kW−1−kx].
    /// </summary>
    private static void FlipKernel<T>(ConvGeometry g, T* w, T* flipped) where T : unmanaged
    {
        int taps = g.KH * g.KW;
        for (int grp = 0; grp < g.Groups; grp++)
            for (int co = 0; co < g.CoutG; co++)
                for (int ci = 0; ci < g.CinG; ci++)
                {
                    T* src = w + ((long)(grp * g.CoutG + co) * g.CinG + ci) * taps;
                    T* dst = flipped + ((long)(grp * g.CinG + ci) * g.CoutG + co) * taps;
                    for (int t = 0; t < taps; t++) dst[t] = src[taps - 1 - t];
                }
    }

    /// <summary>The weight and input gradients through stored column matrices, chunk of images by chunk; a null target is skipped.</summary>
    private static void BackwardColumnMatrix<T>(ConvGeometry g, T* x, T* w, T* gy, T* gx, T* gw) where T : unmanaged, IFloatingPointIeee754<T>
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
