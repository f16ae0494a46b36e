using System.Runtime.InteropServices;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Float32 3x3 convolutions (stride 1, dilation 1, one group) by Winograd's minimal filtering algorithm F(2x2, 3x3)
/// (Lavin and Gray, 2015): each 2x2 output tile is <c>Aᵀ [Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B)] A</c> for the 4x4 input tile d
/// around it, so the sum over input channels becomes 16 matrix products (Cout x Cin) · (Cin x tiles), one per
/// position of the 4x4 transformed tile, through the engine's GEMM. The input gradient of such a convolution is
/// the same kind of convolution (see <see cref="ConvGeometry.InputGradientConv"/>) and goes the same way.
/// </summary>
/// <remarks>
/// <para>
/// Work is cut into chunks of whole tile rows (a chunk's transformed input and products take about 2 MiB, near
/// a core's L2): each chunk transforms its input tiles, runs its 16 products on the thread that took it
/// (the GEMM runs serially inside a parallel region) and writes its output tiles. The chunks depend on the shapes
/// only and every output element is computed by one chunk in a fixed order, so the bits do not depend on the
/// thread count.
/// </para>
/// <para>
/// Error: the transforms are sums and differences of at most nine terms (the weight's are formed in float64 and
/// rounded once), so the result differs from the exact sum by a small multiple of float32's unit roundoff times
/// the sum of the absolute transformed products; measured, about the direct path's error (see
/// <see cref="ConvAlgorithms.AllowWinograd"/>). F(4x4, 3x3) would need 36 products per 16 outputs (a quarter of the
/// direct path's instead of 4/9), but its transforms' coefficients (up to 5 in Bᵀ, 8 in Aᵀ, 1/24 in G) amplify the
/// rounding by about an order of magnitude; not used.
/// </para>
/// </remarks>
internal static unsafe class WinogradCpu
{
    /// <summary>
    /// Bytes of transformed input plus products a chunk aims for, about a core's L2: the bench's 64-channel case ran
    /// 2-4% faster per chunk of 2 MiB than of 1 MiB and 10% faster than of 256 KiB (one thread, CPU time, loaded
    /// machine with 1 MiB of L2 per core, 2026-12-07): wider products outweigh the spill.
    /// </summary>
    private const long ChunkBytes = 2L << 20;

    /// <summary>Fewest tiles a chunk is cut to for the threads' sake (see <see cref="ChunkRows"/>).</summary>
    private const long MinChunkTiles = 64;

    /// <summary>
    /// Fewest output tiles (batch included) for which the path is taken: with fewer, the weight transform and the
    /// per-chunk packing of the transformed weights cost more than the multiply-adds saved.
    /// </summary>
    private const long MinTiles = 64;

    /// <summary>
    /// From this many input channels the path is taken for any output channels (from <see cref="ConvAlgorithms.WinogradMinChannels"/>);
    /// below it only when there are no more output channels than input ones. The products' depth is the input
    /// channels, and the output transform's work grows with the output channels: 16 input channels into 32, 64 and
    /// 96 output channels ran at 1.01, 1.15 and 1.28 of the direct path's CPU time, 24 into 48 at 0.82, 32 into 64 at
    /// 0.92, 16 into 16 at 0.46 and 64 into 16 at 0.53 (one thread, loaded machine, 2026-12-07).
    /// </summary>
    private const int DeepInputChannels = 24;

    /// <summary>Whether the forward pass of <paramref name="g"/> takes this path (the caller has checked float32).</summary>
    public static bool Handles(ConvGeometry g) =>
        ConvAlgorithms.AllowWinograd && ConvGemm.Path == ConvGemm.PathChoice.Auto && Supports(g);

    /// <summary>Whether the input gradient of <paramref name="g"/> takes this path (as the convolution it is).</summary>
    public static bool HandlesInputGradient(ConvGeometry g) =>
        ConvAlgorithms.AllowWinograd && ConvGemm.Path == ConvGemm.PathChoice.Auto && g.InputGradientConv() is { } t && Supports(t);

    /// <summary>The shapes the algorithm computes, whatever the switches say.</summary>
    internal static bool Supports(ConvGeometry g) =>
        g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && g.Groups == 1
        && g.Cin >= ConvAlgorithms.WinogradMinChannels && g.Cout >= ConvAlgorithms.WinogradMinChannels
        && (g.Cin >= DeepInputChannels || g.Cout <= g.Cin)
        && g.Ho > 0 && g.Wo > 0 && (long)g.N * ((g.Ho + 1) / 2) * ((g.Wo + 1) / 2) >= MinTiles
        && g.W < 1 << 28 && g.Wo < 1 << 28; // the staged rows' widths and a chunk's tile count stay ints

    /// <summary>y = conv(x, w) + bias; contiguous operands, <paramref name="bias"/> may be null.</summary>
    public static void Forward(ConvGeometry g, float* x, float* w, float* bias, float* y)
    {
        using var u = new ConvScratch<float>(16L * g.Cout * g.Cin);
        WinogradTransforms.Weights(w, g.Cout, g.Cin, flipped: false, u.Ptr);
        Run(g, x, u.Ptr, bias, y);
    }

    /// <summary>gx = the input gradient of conv(x, w) for the output gradient gy (overwritten, not accumulated).</summary>
    public static void InputGradient(ConvGeometry g, float* w, float* gy, float* gx)
    {
        var t = g.InputGradientConv() ?? throw new InvalidOperationException("conv2d: the Winograd input gradient needs a stride-1 convolution.");
        using var u = new ConvScratch<float>(16L * t.Cout * t.Cin);
        WinogradTransforms.Weights(w, t.Cout, t.Cin, flipped: true, u.Ptr);
        Run(t, gy, u.Ptr, null, gx);
    }

    /// <summary>Tile rows (of tilesW tiles each) per chunk: a function of the shapes only.</summary>
    internal static int ChunkRows(ConvGeometry g)
    {
        long tilesW = (g.Wo + 1) / 2, rows = (long)g.N * ((g.Ho + 1) / 2);
        long tiles = Math.Max(32, ChunkBytes / (16L * sizeof(float) * (g.Cin + g.Cout)));
        long perChunk = Math.Max(1, tiles / tilesW);
        // At least eight chunks where the rows allow, so that a small batch still spreads over the threads, but not
        // below MinChunkTiles: every chunk packs the 16 transformed weights for its products, which costs as much as
        // the products themselves when a chunk has a handful of tiles.
        long spread = Math.Max((rows + 7) / 8, (MinChunkTiles + tilesW - 1) / tilesW);
        return (int)Math.Max(1, Math.Min(perChunk, spread));
    }

    [ThreadStatic] private static bool t_packPerChunk;

    /// <summary>
    /// Tests only (per calling thread): each chunk packs the transformed weights for its own products, as before they
    /// were packed once per call; the bits must not change.
    /// </summary>
    internal static bool PackWeightsPerChunk
    {
        get => t_packPerChunk;
        set => t_packPerChunk = value;
    }

    private static void Run(ConvGeometry g, float* x, float* u, float* bias, float* y)
    {
        int tilesW = (g.Wo + 1) / 2;
        long rows = (long)g.N * ((g.Ho + 1) / 2);
        int perChunk = ChunkRows(g);
        int chunks = (int)((rows + perChunk - 1) / perChunk);
        nint xs = (nint)x, us = (nint)u, bs = (nint)bias, ys = (nint)y;
        // The 16 transformed weights are the A of every chunk's 16 products: packed once here (in parallel, one
        // matrix per task) instead of once per chunk and product, which cost about as much as a chunk's input
        // transform. The kernel family is this thread's choice, as it was the chunks'.
        GemmPackedA<float>?[] packed = new GemmPackedA<float>?[16];
        try
        {
            if (!PackWeightsPerChunk)
            {
                var kind = GemmPackedA<float>.CallerKernel;
                CpuParallel.ForEachTask(16, xi => packed[xi] = new GemmPackedA<float>(g.Cout, g.Cin, (float*)us + (long)xi * g.Cout * g.Cin, g.Cin, 1, kind));
            }
            CpuParallel.ForEachTask(chunks, c =>
            {
                long r0 = (long)c * perChunk;
                Chunk(g, (float*)xs, (float*)us, packed, (float*)bs, (float*)ys, r0, (int)Math.Min(perChunk, rows - r0), tilesW);
            });
        }
        finally
        {
            foreach (var p in packed) p?.Dispose();
        }
    }

    /// <summary>Tile rows [r0, r0 + count) of the batch (row r is image r / tilesH, tile row r % tilesH).</summary>
    private static void Chunk(ConvGeometry g, float* x, float* u, GemmPackedA<float>?[] packed, float* bias, float* y, long r0, int count, int tilesW)
    {
        int tilesH = (g.Ho + 1) / 2;
        int tiles = count * tilesW;
        // Row stride of the transformed input and products: room for the last row's whole vectors past the end.
        long ld = (tiles + WinogradTransforms.Lanes + 15) & ~15L;
        int stageW = WinogradTransforms.StageWidth(tilesW);
        float* v = (float*)Transformed.Get(16L * g.Cin * ld * sizeof(float));
        float* m = (float*)Products.Get(16L * g.Cout * ld * sizeof(float));
        float* stage = (float*)Stage.Get((2L * count + 2) * stageW * sizeof(float));
        for (int i = 0; i < count;)
        {
            // The chunk's rows in runs of one image each.
            long r = r0 + i;
            int n = (int)(r / tilesH), ty = (int)(r % tilesH), run = Math.Min(count - i, tilesH - ty);
            WinogradTransforms.InputRows(g, x, n, ty, run, tilesW, stage, stageW, v + (long)i * tilesW, ld);
            i += run;
        }
        for (int xi = 0; xi < 16; xi++)
        {
            if (packed[xi] is { } a)
                CpuGemm.Gemm(a, tiles, null, v + xi * g.Cin * ld, ld, 1, false, m + xi * g.Cout * ld, ld);
            else
                CpuGemm.Gemm<float>(g.Cout, tiles, g.Cin, null, u + (long)xi * g.Cout * g.Cin, g.Cin, 1,
                    null, v + xi * g.Cin * ld, ld, 1, false, m + xi * g.Cout * ld, ld);
        }
        for (int i = 0; i < count; i++)
        {
            long r = r0 + i;
            WinogradTransforms.OutputRow(g, m + (long)i * tilesW, ld, (int)(r / tilesH), (int)(r % tilesH), tilesW, bias, y);
        }
    }

    // This thread's grow-only native buffers (the GEMM's kind), so chunks allocate nothing after warm-up.
    [ThreadStatic] private static GemmBuffer? t_transformed, t_products, t_stage;

    private static GemmBuffer Transformed => t_transformed ??= new GemmBuffer();
    private static GemmBuffer Products => t_products ??= new GemmBuffer();
    private static GemmBuffer Stage => t_stage ??= new GemmBuffer();
}
