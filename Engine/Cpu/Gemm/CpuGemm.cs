using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

/// <summary>
/// General matrix multiply on the CPU: <c>C = alpha * A * B + beta * C</c> over strided views.
/// </summary>
/// <remarks>
/// <para>
/// Element addressing: <c>A[i,p] = a[i*aRowStride + p*aColStride]</c>,
/// <c>B[p,j] = b[p*bRowStride + j*bColStride]</c>, <c>C[i,j] = c[i*cRowStride + j]</c>, for
/// i &lt; m, j &lt; n, p &lt; k. A transpose is just swapped strides, and any strided view works
/// without a copy because packing reads through the strides. Strides may be negative or zero for A and B.
/// </para>
/// <para>
/// When <c>beta == 0</c>, C is write-only: whatever it held (NaN included) does not reach the result.
/// When <c>k == 0</c> or <c>alpha == 0</c>, A and B are not read and <c>C = beta * C</c>.
/// </para>
/// <para>
/// Uses up to <see cref="CpuParallel.ThreadCount"/> threads. The result is bitwise independent of the
/// thread count. C must not overlap A or B.
/// </para>
/// </remarks>
public static unsafe class CpuGemm
{
    [ThreadStatic] private static bool t_forcePortable;
    [ThreadStatic] private static bool t_forceAvx2;
    private static volatile bool s_allowAvx512 = true;
    [ThreadStatic] private static long t_directPathMaxWork;
    [ThreadStatic] private static GemmSplit t_split;

    /// <summary>
    /// Tests and A/B timings only: force a multi-threaded product's work items to split the rows or the columns of C
    /// (per calling thread); <see cref="GemmSplit.Auto"/> (the default) lets the driver choose from the shape. The
    /// split never changes an element's operations, so the bits do not depend on it.
    /// </summary>
    internal static GemmSplit Split
    {
        get => t_split;
        set => t_split = value;
    }

    [ThreadStatic] private static bool t_coarseRowItems;

    /// <summary>
    /// Tests and A/B timings only: give mid-size products in one k block the default number of row items instead of
    /// twice as many (GemmDriver's Job.RowItems; per calling thread). The split never changes an element's operations.
    /// </summary>
    internal static bool CoarseRowItems
    {
        get => t_coarseRowItems;
        set => t_coarseRowItems = value;
    }

    /// <summary>
    /// Tests only: use the portable micro-kernel even when AVX2+FMA are available. Per calling thread,
    /// so test classes running in parallel do not see each other's setting.
    /// </summary>
    internal static bool ForcePortable
    {
        get => t_forcePortable;
        set => t_forcePortable = value;
    }

    /// <summary>
    /// Problems with m*n*k below this go through the unpacked loop (default 32^3). Per calling thread;
    /// tests set it to 0 to push tiny shapes through the packed path and its edge tiles.
    /// </summary>
    internal static long DirectPathMaxWork
    {
        get => t_directPathMaxWork == 0 ? DefaultDirectPathMaxWork : t_directPathMaxWork - 1;
        set => t_directPathMaxWork = value + 1;
    }

    private const long DefaultDirectPathMaxWork = 32 * 32 * 32;

    /// <summary>
    /// Tests only: use the AVX2 micro-kernels even when AVX-512 is available (per calling thread, like
    /// <see cref="ForcePortable"/>, which wins over it).
    /// </summary>
    internal static bool ForceAvx2
    {
        get => t_forceAvx2;
        set => t_forceAvx2 = value;
    }

    /// <summary>
    /// Whether the AVX-512 micro-kernels may be used where the hardware has them (default true). Process-wide;
    /// benchmarks turn it off to time the AVX2 kernels in the same run. The environment variable
    /// <c>DOTNET_EnableAVX512=0</c> turns AVX-512 off for the whole process instead (.NET 10 spelling; earlier
    /// runtimes read <c>DOTNET_EnableAVX512F</c>, which .NET 10 ignores).
    /// </summary>
    public static bool AllowAvx512
    {
        get => s_allowAvx512;
        set => s_allowAvx512 = value;
    }

    private static volatile int s_itemsPerWorker = DefaultItemsPerWorker;

    /// <summary>The default of <see cref="ItemsPerWorker"/>.</summary>
    public const int DefaultItemsPerWorker = 4;

    /// <summary>
    /// About how many work items (row or column chunks of C) a multi-threaded product is cut into per worker, claimed
    /// dynamically: more, smaller items leave less idle time at the end of each k block when the workers run at
    /// different speeds, at the price of more passes over the shared packed B. Process-wide, default
    /// <see cref="DefaultItemsPerWorker"/>; for benchmarks (<c>engine bench gemm --items-per-worker</c> times another
    /// value beside the default in the same run). The result's bits do not depend on it: the split never changes an
    /// element's operations.
    /// </summary>
    public static int ItemsPerWorker
    {
        get => s_itemsPerWorker;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 64);
            s_itemsPerWorker = value;
        }
    }

    private static volatile bool s_pipelineKBlocks = true;

    /// <summary>
    /// Whether a multi-threaded product of at least 2^31 multiply-adds whose work items split
    /// the rows runs all its k blocks in one fork, the items of block p + 1 claimed while block p's last ones finish
    /// (two packed B blocks in turn), instead of one fork and join per k block (default true). Process-wide; for
    /// benchmarks (<c>engine bench gemm --compare-pipeline</c> times both schedules in turns in the same run). The
    /// result's bits do not depend on it: every element still takes the k blocks in order through the same kernel calls.
    /// </summary>
    public static bool PipelineKBlocks
    {
        get => s_pipelineKBlocks;
        set => s_pipelineKBlocks = value;
    }

    /// <summary>
    /// Fewest multiply-adds for <see cref="PipelineKBlocks"/> (default 2^31, between the 1024^3 and 2048^3 products it
    /// was measured on: a win at 2048 and 4096, mixed at 1024). Process-wide; tests set 0 to pipeline small shapes.
    /// </summary>
    internal static double PipelineMinWork { get; set; } = DefaultPipelineMinWork;

    internal const double DefaultPipelineMinWork = 1L << 31;

    /// <summary>True when the AVX2+FMA micro-kernels are used (hardware support and not forced off).</summary>
    internal static bool UsesAvx2 => Fma.IsSupported && Avx2.IsSupported && !ForcePortable;

    /// <summary>True when the AVX-512 micro-kernels are used: hardware support, and neither forced nor switched off.</summary>
    internal static bool UsesAvx512 => UsesAvx2 && Avx512F.IsSupported && Vector512.IsHardwareAccelerated && AllowAvx512 && !ForceAvx2;

    /// <summary>
    /// The micro-kernels a call from this thread would use: "AVX-512", "AVX2+FMA" or "portable". A product with
    /// no more columns than one AVX2 tile (16 floats, 8 doubles) takes the AVX2 kernel even where AVX-512 is used:
    /// the AVX-512 tile is twice as wide, so half of its arithmetic would be padding.
    /// </summary>
    public static string KernelName => UsesAvx512 ? "AVX-512" : UsesAvx2 ? "AVX2+FMA" : "portable";

    /// <summary>Single precision: <c>C = alpha * A * B + beta * C</c>. See the class remarks for addressing.</summary>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Columns of A, rows of B.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">Base of A.</param>
    /// <param name="aRowStride">Elements between A[i,p] and A[i+1,p].</param>
    /// <param name="aColStride">Elements between A[i,p] and A[i,p+1].</param>
    /// <param name="b">Base of B.</param>
    /// <param name="bRowStride">Elements between B[p,j] and B[p+1,j].</param>
    /// <param name="bColStride">Elements between B[p,j] and B[p,j+1].</param>
    /// <param name="beta">Scale of the existing C; 0 means C is not read.</param>
    /// <param name="c">Base of C (row-major, unit column stride).</param>
    /// <param name="cRowStride">Elements between C[i,j] and C[i+1,j].</param>
    public static void Gemm(int m, int n, int k, float alpha, float* a, long aRowStride, long aColStride,
        float* b, long bRowStride, long bColStride, float beta, float* c, long cRowStride)
    {
        if (!Prologue(m, n, k, alpha, a, b, beta, c, cRowStride)) return;
        if ((double)m * n * k < DirectPathMaxWork)
            GemmSmall.Direct(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
        else if (UsesAvx512 && n > Avx2KernelF32.NR)
            GemmDriver<float, Avx512KernelF32>.Run(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
        else if (UsesAvx2)
            GemmDriver<float, Avx2KernelF32>.Run(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
        else
            GemmDriver<float, PortableKernel<float>>.Run(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
    }

    /// <summary>Double precision: <c>C = alpha * A * B + beta * C</c>. See the class remarks for addressing.</summary>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Columns of A, rows of B.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">Base of A.</param>
    /// <param name="aRowStride">Elements between A[i,p] and A[i+1,p].</param>
    /// <param name="aColStride">Elements between A[i,p] and A[i,p+1].</param>
    /// <param name="b">Base of B.</param>
    /// <param name="bRowStride">Elements between B[p,j] and B[p+1,j].</param>
    /// <param name="bColStride">Elements between B[p,j] and B[p,j+1].</param>
    /// <param name="beta">Scale of the existing C; 0 means C is not read.</param>
    /// <param name="c">Base of C (row-major, unit column stride).</param>
    /// <param name="cRowStride">Elements between C[i,j] and C[i+1,j].</param>
    public static void Gemm(int m, int n, int k, double alpha, double* a, long aRowStride, long aColStride,
        double* b, long bRowStride, long bColStride, double beta, double* c, long cRowStride)
    {
        if (!Prologue(m, n, k, alpha, a, b, beta, c, cRowStride)) return;
        if ((double)m * n * k < DirectPathMaxWork)
            GemmSmall.Direct(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
        else if (UsesAvx512 && n > Avx2KernelF64.NR)
            GemmDriver<double, Avx512KernelF64>.Run(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
        else if (UsesAvx2)
            GemmDriver<double, Avx2KernelF64>.Run(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
        else
            GemmDriver<double, PortableKernel<double>>.Run(m, n, k, alpha, a, aRowStride, aColStride, b, bRowStride, bColStride, beta, c, cRowStride);
    }

    /// <summary>
    /// <c>C = A * B (+ C when <paramref name="accumulate"/>)</c> where A and B are each either a
    /// <see cref="GemmOperand{T}"/> that packs itself or, when that is null, a strided pointer as in the public
    /// overloads; C may be split into column blocks (column j at <c>c + (j / cBlock) * cBlockStride + j % cBlock</c>,
    /// <paramref name="cBlock"/> 0 for one block). Always the packed path, whatever the size, so every element
    /// is the micro-kernel's sequence of operations; bits independent of the thread count as for the public overloads.
    /// </summary>
    internal static void Gemm<T>(int m, int n, int k, GemmOperand<T>? aOp, T* a, long ars, long acs,
        GemmOperand<T>? bOp, T* b, long brs, long bcs, bool accumulate, T* c, long rsc, int cBlock = 0, long cBlockStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0) return;
        if (c == null) throw new ArgumentNullException(nameof(c));
        if ((aOp is null && a == null) || (bOp is null && b == null)) throw new ArgumentNullException(aOp is null && a == null ? nameof(a) : nameof(b));
        ArgumentOutOfRangeException.ThrowIfNegative(cBlock);
        if (m > 1 && rsc < (cBlock == 0 ? n : Math.Min(cBlock, n)))
            throw new ArgumentOutOfRangeException(nameof(rsc), "Rows of C (of each column block) must not overlap.");
        if (k == 0)
        {
            if (accumulate) return;
            int width = cBlock == 0 ? n : cBlock;
            for (int j = 0; j < n; j += width)
                GemmSmall.Scale(m, Math.Min(width, n - j), T.Zero, c + (cBlock == 0 ? 0 : j / cBlock * cBlockStride), rsc);
            return;
        }
        T beta = accumulate ? T.One : T.Zero;
        if (typeof(T) == typeof(float))
        {
            var (ao, bo) = ((GemmOperand<float>?)(object?)aOp, (GemmOperand<float>?)(object?)bOp);
            if (UsesAvx512) GemmDriver<float, Avx512KernelF32>.Run(m, n, k, 1f, ao, (float*)a, ars, acs, bo, (float*)b, brs, bcs, float.CreateTruncating(beta), (float*)c, rsc, cBlock, cBlockStride);
            else if (UsesAvx2) GemmDriver<float, Avx2KernelF32>.Run(m, n, k, 1f, ao, (float*)a, ars, acs, bo, (float*)b, brs, bcs, float.CreateTruncating(beta), (float*)c, rsc, cBlock, cBlockStride);
            else GemmDriver<float, PortableKernel<float>>.Run(m, n, k, 1f, ao, (float*)a, ars, acs, bo, (float*)b, brs, bcs, float.CreateTruncating(beta), (float*)c, rsc, cBlock, cBlockStride);
        }
        else if (typeof(T) == typeof(double))
        {
            var (ao, bo) = ((GemmOperand<double>?)(object?)aOp, (GemmOperand<double>?)(object?)bOp);
            if (UsesAvx512) GemmDriver<double, Avx512KernelF64>.Run(m, n, k, 1.0, ao, (double*)a, ars, acs, bo, (double*)b, brs, bcs, double.CreateTruncating(beta), (double*)c, rsc, cBlock, cBlockStride);
            else if (UsesAvx2) GemmDriver<double, Avx2KernelF64>.Run(m, n, k, 1.0, ao, (double*)a, ars, acs, bo, (double*)b, brs, bcs, double.CreateTruncating(beta), (double*)c, rsc, cBlock, cBlockStride);
            else GemmDriver<double, PortableKernel<double>>.Run(m, n, k, 1.0, ao, (double*)a, ars, acs, bo, (double*)b, brs, bcs, double.CreateTruncating(beta), (double*)c, rsc, cBlock, cBlockStride);
        }
        else throw new NotSupportedException($"gemm: element type {typeof(T).Name} is not supported (float or double).");
    }

    /// <summary>
    /// <c>C = A * B (+ C when <paramref name="accumulate"/>)</c> with an A packed beforehand (m = <c>a.Rows</c>,
    /// k = <c>a.Depth</c>); B, C and the column blocks as in the operand overload, whose bits this gives for the
    /// same kernel (the one <paramref name="a"/> was packed for), whatever the thread count.
    /// </summary>
    internal static void Gemm<T>(GemmPackedA<T> a, int n, GemmOperand<T>? bOp, T* b, long brs, long bcs, bool accumulate,
        T* c, long rsc, int cBlock = 0, long cBlockStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        int m = a.Rows, k = a.Depth;
        T* ap = a.Data;
        if (n == 0) return;
        if (c == null) throw new ArgumentNullException(nameof(c));
        if (bOp is null && b == null) throw new ArgumentNullException(nameof(b));
        ArgumentOutOfRangeException.ThrowIfNegative(cBlock);
        if (m > 1 && rsc < (cBlock == 0 ? n : Math.Min(cBlock, n)))
            throw new ArgumentOutOfRangeException(nameof(rsc), "Rows of C (of each column block) must not overlap.");
        T beta = accumulate ? T.One : T.Zero;
        if (typeof(T) == typeof(float))
        {
            var bo = (GemmOperand<float>?)(object?)bOp;
            float* af = (float*)ap, bf = (float*)b, cf = (float*)c;
            float betaF = float.CreateTruncating(beta);
            if (a.Kernel == GemmKernelKind.Avx512) GemmDriver<float, Avx512KernelF32>.Run(m, n, k, 1f, af, bo, bf, brs, bcs, betaF, cf, rsc, cBlock, cBlockStride);
            else if (a.Kernel == GemmKernelKind.Avx2) GemmDriver<float, Avx2KernelF32>.Run(m, n, k, 1f, af, bo, bf, brs, bcs, betaF, cf, rsc, cBlock, cBlockStride);
            else GemmDriver<float, PortableKernel<float>>.Run(m, n, k, 1f, af, bo, bf, brs, bcs, betaF, cf, rsc, cBlock, cBlockStride);
        }
        else
        {
            var bo = (GemmOperand<double>?)(object?)bOp;
            double* ad = (double*)ap, bd = (double*)b, cd = (double*)c;
            double betaD = double.CreateTruncating(beta);
            if (a.Kernel == GemmKernelKind.Avx512) GemmDriver<double, Avx512KernelF64>.Run(m, n, k, 1.0, ad, bo, bd, brs, bcs, betaD, cd, rsc, cBlock, cBlockStride);
            else if (a.Kernel == GemmKernelKind.Avx2) GemmDriver<double, Avx2KernelF64>.Run(m, n, k, 1.0, ad, bo, bd, brs, bcs, betaD, cd, rsc, cBlock, cBlockStride);
            else GemmDriver<double, PortableKernel<double>>.Run(m, n, k, 1.0, ad, bo, bd, brs, bcs, betaD, cd, rsc, cBlock, cBlockStride);
        }
    }

    // Validates arguments and handles everything that needs no multiplication. Returns false when done.
    private static bool Prologue<T>(int m, int n, int k, T alpha, T* a, T* b, T beta, T* c, long cRowStride)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0) return false;
        if (c == null) throw new ArgumentNullException(nameof(c));
        if (m > 1 && cRowStride < n)
            throw new ArgumentOutOfRangeException(nameof(cRowStride), "Rows of C must not overlap (cRowStride >= n).");
        if (k == 0 || alpha == T.Zero)
        {
            GemmSmall.Scale(m, n, beta, c, cRowStride);
            return false;
        }
        if (a == null) throw new ArgumentNullException(nameof(a));
        if (b == null) throw new ArgumentNullException(nameof(b));
        return true;
    }
}

/// <summary>How a multi-threaded product's work items cut C: chosen from the shape, or forced (tests, A/B timings).</summary>
internal enum GemmSplit { Auto, Rows, Columns }
