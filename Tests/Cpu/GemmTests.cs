using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// CpuGemm against a naive double-precision triple loop, over random shapes (0, 1, odd, and sizes
/// straddling the MR/NR/MC/KC block edges), memory layouts, and alpha/beta; on every micro-kernel this
/// machine has (AVX-512 where present, AVX2, portable), forced per thread with <see cref="CpuGemm.ForceAvx2"/>
/// and <see cref="CpuGemm.ForcePortable"/>. <c>Samples.GemmKernelSelectionTests</c> checks in a child process
/// that <c>DOTNET_EnableAVX512=0</c> really selects the AVX2 kernel.
/// </summary>
[Xunit.Collection(Engine.Tests.Support.SerialCollection.Name)]
public unsafe class GemmTests
{
    /// <summary>How one operand is laid out in memory; all of them are just strides to CpuGemm.</summary>
    public enum Layout { RowMajor, ColMajor, StridedRows, StridedCols, ReversedRows }

    /// <summary>Which micro-kernel a case runs on: the widest the machine has (AVX-512 where present), AVX2, or portable.</summary>
    public enum Path { Widest, Avx2, Portable }

    private static readonly Path[] AllPaths = Enum.GetValues<Path>();

    public sealed record Case(int M, int N, int K, Layout A, Layout B, int Pad, double Alpha, double Beta,
        bool PackedOnly, int Seed);

    private static readonly Gen<int> Dim = Gen.Frequency(
        (3, Gen.Choose(0, 9)),
        (3, Gen.Choose(10, 80)),
        // Just below, at and above the tile and block sizes of the kernels (AVX2: MR 6, NR 8/16, MC 72/144, KC 256;
        // AVX-512: MR 12, NR 16/32, MC 192/384, KC 512).
        (3, Gen.Elements(5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 31, 32, 33, 71, 72, 73, 95, 96, 97, 143, 144, 145,
            191, 192, 193, 255, 256, 257, 383, 384, 385, 511, 512, 513)),
        (1, Gen.Choose(81, 300)));

    private static readonly Gen<Case> Cases =
        from m in Dim
        from n in Dim
        from k in Dim
        from la in Gen.Elements(Enum.GetValues<Layout>())
        from lb in Gen.Elements(Enum.GetValues<Layout>())
        from pad in Gen.Choose(0, 3)
        from alpha in Gen.Elements(1.0, -1.0, 0.5, 2.25)
        from beta in Gen.Elements(0.0, 0.0, 1.0, -1.5, 0.75)
        from packedOnly in Gen.Elements(false, true)
        from seed in Gen.Choose(0, int.MaxValue)
        where (long)m * n * k <= 3_000_000
        select new Case(m, n, k, la, lb, pad, alpha, beta, packedOnly, seed);

    private static void CheckAll<T>(Path path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(200);
        Check.One(config, Prop.ForAll(Arb.From(Cases), (Case c) => RunCase<T>(c, path)));
    }

    [Fact] public void Float_WidestPath_MatchesReference() => CheckAll<float>(Path.Widest);
    [Fact] public void Float_Avx2Path_MatchesReference() => CheckAll<float>(Path.Avx2);
    [Fact] public void Float_PortablePath_MatchesReference() => CheckAll<float>(Path.Portable);
    [Fact] public void Double_WidestPath_MatchesReference() => CheckAll<double>(Path.Widest);
    [Fact] public void Double_Avx2Path_MatchesReference() => CheckAll<double>(Path.Avx2);
    [Fact] public void Double_PortablePath_MatchesReference() => CheckAll<double>(Path.Portable);

    [Fact]
    public void Switches_SelectTheKernel_AndTheWidestIsAvx512ExactlyWhereTheProcessHasIt()
    {
        bool fma = System.Runtime.Intrinsics.X86.Fma.IsSupported && System.Runtime.Intrinsics.X86.Avx2.IsSupported;
        bool avx512 = System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        Assert.Equal(avx512 && fma ? "AVX-512" : fma ? "AVX2+FMA" : "portable", WithPath(Path.Widest, () => CpuGemm.KernelName));
        Assert.Equal(fma ? "AVX2+FMA" : "portable", WithPath(Path.Avx2, () => CpuGemm.KernelName));
        Assert.Equal("portable", WithPath(Path.Portable, () => CpuGemm.KernelName));
    }

    /// <summary>
    /// A product no wider than one AVX2 tile (16 floats, 8 doubles) runs the AVX2 kernel even where AVX-512 is
    /// used: its bits are then those of the forced AVX2 path (k spans several blocks of both kernels, whose KC
    /// differ, so the AVX-512 kernel would round differently), and one column more takes the AVX-512 kernel again.
    /// </summary>
    [Theory]
    [InlineData(16)]
    [InlineData(7)]
    public void NarrowProducts_TakeTheAvx2Kernel(int n)
    {
        Assert.True(SameBits<float>(37, n, 1000, Path.Widest, Path.Avx2));
        Assert.True(SameBits<double>(37, Math.Min(n, 8), 1000, Path.Widest, Path.Avx2));
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported || !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
            return;
        Assert.False(SameBits<float>(37, 17, 1000, Path.Widest, Path.Avx2));
        Assert.False(SameBits<double>(37, 9, 1000, Path.Widest, Path.Avx2));
    }

    private static bool SameBits<T>(int m, int n, int k, Path first, Path second) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(3);
        var cs = new Case(m, n, k, Layout.RowMajor, Layout.RowMajor, 0, 1.0, 0.0, true, 0);
        var (a, aOff, ars, acs) = Operand<T>(m, k, cs.A, cs.Pad, rng);
        var (b, bOff, brs, bcs) = Operand<T>(k, n, cs.B, cs.Pad, rng);
        var c1 = new T[m * n];
        var c2 = new T[m * n];
        Call(cs, first, a, aOff, ars, acs, b, bOff, brs, bcs, c1, n, threads: 1);
        Call(cs, second, a, aOff, ars, acs, b, bOff, brs, bcs, c2, n, threads: 1);
        return MemoryMarshal.AsBytes(c1.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(c2.AsSpan()));
    }

    /// <summary>
    /// Packing twelve row-major lanes (the AVX-512 float kernel's A panel; eight k steps at a time through register
    /// transposes where AVX is present) puts element (lane l, step p) at p*12 + l, for every k including the tails.
    /// </summary>
    [Fact]
    public void PackingTwelveRowMajorLanes_PlacesEveryElement()
    {
        var rng = new Random(11);
        foreach (int kc in new[] { 1, 7, 8, 9, 16, 23, 40 })
        {
            long laneStride = kc + 5;
            var src = new float[12 * laneStride];
            for (int i = 0; i < src.Length; i++) src[i] = (float)rng.NextDouble();
            var dst = new float[12 * kc + 12];
            fixed (float* s = src)
            fixed (float* d = dst)
                GemmPack.Pack(d, s, laneStride, 1, 12, kc, 12, 0, 1);
            for (int p = 0; p < kc; p++)
                for (int l = 0; l < 12; l++)
                    Assert.True(dst[p * 12 + l] == src[l * laneStride + p], $"kc {kc}: lane {l}, step {p}");
            Assert.All(dst.AsSpan(12 * kc).ToArray(), x => Assert.Equal(0f, x)); // nothing written past the panel
        }
    }

    /// <summary>
    /// Packing whole lanes that are contiguous along k (a transposed B: 8 x 8 float or 4 x 4 double register transposes
    /// where AVX is present) puts element (lane l, step p) at p*width + l for every panel width of the kernels and every
    /// k, tails included, and writes nothing past the panel.
    /// </summary>
    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    public void PackingLanesContiguousAlongK_PlacesEveryElement(int width)
    {
        PackLanesAlongK<float>(width);
        PackLanesAlongK<double>(width / 2);
    }

    private static void PackLanesAlongK<T>(int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(width);
        foreach (int kc in new[] { 1, 3, 4, 5, 7, 8, 9, 16, 23, 40 })
        {
            long laneStride = kc + 3;
            var src = new T[width * laneStride];
            for (int i = 0; i < src.Length; i++) src[i] = T.CreateTruncating(rng.NextDouble() + 1);
            var dst = new T[width * kc + width];
            fixed (T* s = src)
            fixed (T* d = dst)
                GemmPack.Pack(d, s, laneStride, 1, width, kc, width, 0, 1);
            for (int p = 0; p < kc; p++)
                for (int l = 0; l < width; l++)
                    Assert.True(dst[p * width + l] == src[l * laneStride + p], $"{typeof(T).Name} width {width}, kc {kc}: lane {l}, step {p}");
            Assert.All(dst.AsSpan(width * kc).ToArray(), x => Assert.Equal(T.Zero, x));
        }
    }

    /// <summary>
    /// k is cut into the fewest blocks of at most KC, all of nearly the same depth (every block but the last has the
    /// returned depth, the last is at most one per block shorter), for every kernel's KC.
    /// </summary>
    [Fact]
    public void KBlocks_AreTheFewestOfNearlyEqualDepth()
    {
        CheckKBlocks(GemmDriver<float, Avx512KernelF32>.KBlockDepth, Avx512KernelF32.KC);
        CheckKBlocks(GemmDriver<double, Avx512KernelF64>.KBlockDepth, Avx512KernelF64.KC);
        CheckKBlocks(GemmDriver<float, Avx2KernelF32>.KBlockDepth, Avx2KernelF32.KC);
        Assert.Equal(344, GemmDriver<double, Avx512KernelF64>.KBlockDepth(1030)); // 3 x 344 - 2, not 2 x 512 + 6
        Assert.Equal(512, GemmDriver<float, Avx512KernelF32>.KBlockDepth(512));
        Assert.Equal(256, GemmDriver<float, Avx2KernelF32>.KBlockDepth(512));
    }

    private static void CheckKBlocks(Func<int, int> depthOf, int kcMax)
    {
        for (int k = 1; k <= 5000; k++)
        {
            int depth = depthOf(k), blocks = (k + depth - 1) / depth;
            Assert.True(depth >= 1 && depth <= kcMax, $"k {k}: depth {depth} outside [1, {kcMax}]");
            Assert.Equal((k + kcMax - 1) / kcMax, blocks);
            Assert.True(k - (blocks - 1) * depth >= depth - blocks, $"k {k}: last block {k - (blocks - 1) * depth} of depth {depth}");
        }
    }

    private static TResult WithPath<TResult>(Path path, Func<TResult> body)
    {
        bool savedPortable = CpuGemm.ForcePortable, savedAvx2 = CpuGemm.ForceAvx2;
        try
        {
            CpuGemm.ForcePortable = path == Path.Portable;
            CpuGemm.ForceAvx2 = path == Path.Avx2;
            return body();
        }
        finally
        {
            CpuGemm.ForcePortable = savedPortable;
            CpuGemm.ForceAvx2 = savedAvx2;
        }
    }

    [Theory]
    [InlineData(145, 300, 257)] // crosses MC (both dtypes) and KC
    [InlineData(193, 70, 385)]  // crosses the AVX-512 f64 kernel's MC and the AVX2 KC, edge tiles in both directions
    [InlineData(50, 40, 1030)]  // three AVX-512 k blocks (3 x 344 - 2) and five AVX2 ones
    [InlineData(385, 40, 100)]  // crosses the AVX-512 f32 kernel's MC
    [InlineData(73, 4100, 20)]  // crosses NC
    [InlineData(300, 7, 600)]   // two KC steps, a single partial column panel
    [InlineData(1, 300, 300)]
    [InlineData(300, 1, 300)]
    [InlineData(300, 300, 1)]
    [InlineData(97, 1500, 47)]  // a tiny A (one k block, L1-sized): with threads the workers split the columns, edge rows and columns
    public void BlockBoundaryShapes_MatchReference(int m, int n, int k)
    {
        var layouts = new[] { (Layout.RowMajor, Layout.RowMajor, 0.0), (Layout.ColMajor, Layout.StridedCols, 0.75) };
        foreach (var path in AllPaths)
        foreach (var (la, lb, beta) in layouts)
        {
            var cs = new Case(m, n, k, la, lb, 1, -0.5, beta, PackedOnly: false, Seed: m * 31 + n * 7 + k);
            RunCase<float>(cs, path);
            RunCase<double>(cs, path);
        }
    }

    [Theory]
    [InlineData(301, 257, 300)] // enough M panels: workers split rows
    [InlineData(12, 2000, 300)] // few M panels: workers split columns
    [InlineData(400, 300, 800)] // several KC blocks of every kernel
    // Deep products of narrow matrices (a linear layer's weight gradient): with more than one thread B is packed
    // whole and one fork walks all k blocks, where one thread runs a fork per k block; the bits must agree.
    [InlineData(16, 16, 5000)]
    [InlineData(64, 256, 2000)]
    [InlineData(12, 300, 1500)] // ... with the columns split among the workers
    [InlineData(100, 150, 1153)] // k blocks of uneven nominal split (2 x 512 + 129 for AVX-512) made nearly equal
    // A tiny A (one k block, L1-sized) with many rows: one thread splits nothing, more split the columns, not the rows.
    [InlineData(96, 8192, 48)]   // conv2d_patch4's forward product
    [InlineData(97, 1500, 47)]
    public void ResultBitsDoNotDependOnThreadCount(int m, int n, int k)
    {
        foreach (var path in AllPaths)
        {
            AssertThreadInvariant<float>(m, n, k, path);
            AssertThreadInvariant<double>(m, n, k, path);
        }
    }

    /// <summary>
    /// The small-product path is vectorised along the columns, but each element must still be exactly the plain
    /// loop's sequence (acc += a*b over p, then alpha*acc + beta*c), whatever lane or tail it falls in.
    /// </summary>
    [Theory]
    [InlineData(1, 37, 20)]
    [InlineData(7, 70, 9)]
    [InlineData(31, 1, 31)]
    [InlineData(5, 100, 1)]
    [InlineData(20, 3, 100)] // narrower than one vector
    [InlineData(3, 33, 64)]
    public void SmallPath_MatchesThePlainLoopBitForBit(int m, int n, int k)
    {
        foreach (var lb in new[] { Layout.RowMajor, Layout.ColMajor, Layout.StridedCols })
            foreach (double beta in new[] { 0.0, 0.75 })
            {
                SmallPathExact<float>(m, n, k, lb, beta);
                SmallPathExact<double>(m, n, k, lb, beta);
            }
    }

    private static void SmallPathExact<T>(int m, int n, int k, Layout lb, double betaD) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.True((long)m * n * k < CpuGemm.DirectPathMaxWork);
        var rng = new Random(m * 1000 + n * 10 + k);
        var (a, aOff, ars, acs) = Operand<T>(m, k, Layout.RowMajor, 1, rng);
        var (b, bOff, brs, bcs) = Operand<T>(k, n, lb, 2, rng);
        var c = new T[m * n];
        for (int i = 0; i < c.Length; i++) c[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        var expected = (T[])c.Clone();
        T alpha = T.CreateTruncating(-1.25), beta = T.CreateTruncating(betaD);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T acc = T.Zero;
                for (int p = 0; p < k; p++)
                    acc += a[aOff + i * ars + p * acs] * b[bOff + p * brs + j * bcs];
                expected[i * n + j] = beta == T.Zero ? alpha * acc : alpha * acc + beta * expected[i * n + j];
            }
        var cs = new Case(m, n, k, Layout.RowMajor, lb, 0, -1.25, betaD, PackedOnly: false, Seed: 0);
        Call(cs, Path.Widest, a, aOff, ars, acs, b, bOff, brs, bcs, c, n, threads: null);
        Assert.True(MemoryMarshal.AsBytes(expected.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(c.AsSpan())),
            $"{typeof(T).Name} {m}x{n}x{k} B {lb} beta {betaD}: the small path differs from the plain loop");
    }

    [Fact]
    public void EmptyShapes_AreNoOps_And_KZero_ScalesC()
    {
        float* p = null;
        CpuGemm.Gemm(0, 5, 7, 1f, p, 7, 1, p, 5, 1, 0f, p, 5);
        CpuGemm.Gemm(5, 0, 7, 1f, p, 7, 1, p, 0, 1, 0f, p, 0);

        var c = new[] { 1.0, 2.0, double.NaN, 4.0 };
        fixed (double* pc = c) CpuGemm.Gemm(2, 2, 0, 1.0, null, 0, 1, null, 2, 1, 0.0, pc, 2);
        Assert.Equal(new[] { 0.0, 0.0, 0.0, 0.0 }, c);

        c = [1.0, 2.0, 3.0, 4.0];
        fixed (double* pc = c) CpuGemm.Gemm(2, 2, 0, 1.0, null, 0, 1, null, 2, 1, 2.0, pc, 2);
        Assert.Equal(new[] { 2.0, 4.0, 6.0, 8.0 }, c);
    }

    [Fact]
    public void AlphaZero_DoesNotReadAOrB()
    {
        var a = Enumerable.Repeat(float.NaN, 64 * 64).ToArray();
        var c = Enumerable.Repeat(3f, 64 * 64).ToArray();
        fixed (float* pa = a)
        fixed (float* pc = c)
            CpuGemm.Gemm(64, 64, 64, 0f, pa, 64, 1, pa, 64, 1, 0.5f, pc, 64);
        Assert.All(c, x => Assert.Equal(1.5f, x));
    }

    [Fact]
    public void NegativeDimension_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.Gemm(-1, 1, 1, 1f, null, 1, 1, null, 1, 1, 0f, null, 1));
    }

    // ---- helpers ----

    private static bool RunCase<T>(Case cs, Path path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(cs.Seed);
        var (aBuf, aOff, ars, acs) = Operand<T>(cs.M, cs.K, cs.A, cs.Pad, rng);
        var (bBuf, bOff, brs, bcs) = Operand<T>(cs.K, cs.N, cs.B, cs.Pad, rng);
        long rsc = Math.Max(1, cs.N + cs.Pad);
        var c = new T[Math.Max(1, cs.M * rsc)];
        for (int i = 0; i < c.Length; i++)
        {
            bool inside = i % rsc < cs.N;
            // beta == 0 must not read C: fill it with NaN. Padding holds a sentinel that must survive.
            c[i] = !inside ? T.CreateTruncating(12345.0)
                : cs.Beta == 0 ? T.NaN : T.CreateTruncating(rng.NextDouble() * 2 - 1);
        }
        var c0 = (T[])c.Clone();

        Call(cs, path, aBuf, aOff, ars, acs, bBuf, bOff, brs, bcs, c, rsc, threads: null);

        // Standard bound for a length-k dot product, plus the alpha/beta roundings; epsilon is the unit roundoff x2.
        double eps = typeof(T) == typeof(float) ? Math.Pow(2, -23) : Math.Pow(2, -52);
        for (int i = 0; i < cs.M; i++)
        {
            for (int j = 0; j < cs.N; j++)
            {
                double dot = 0, absDot = 0;
                for (int p = 0; p < cs.K; p++)
                {
                    double x = double.CreateTruncating(aBuf[aOff + i * ars + p * acs]) * double.CreateTruncating(bBuf[bOff + p * brs + j * bcs]);
                    dot += x;
                    absDot += Math.Abs(x);
                }
                double old = cs.Beta == 0 ? 0 : double.CreateTruncating(c0[i * rsc + j]);
                double expected = cs.Alpha * dot + cs.Beta * old;
                double tol = (cs.K + 4) * eps * (Math.Abs(cs.Alpha) * absDot + Math.Abs(cs.Beta * old)) + 1e-300;
                double got = double.CreateTruncating(c[i * rsc + j]);
                if (!(Math.Abs(got - expected) <= tol))
                    throw new Exception($"{typeof(T).Name} {cs} path={path}: C[{i},{j}] = {got}, expected {expected} (tol {tol})");
            }
            for (int j = cs.N; j < rsc; j++)
                if (c[i * rsc + j] != c0[i * rsc + j])
                    throw new Exception($"{typeof(T).Name} {cs}: wrote into C's row padding at [{i},{j}]");
        }
        return true;
    }

    // Allocates an rows x cols operand in the given layout and fills the whole buffer (gaps included)
    // with random values. Returns the buffer, the offset of element [0,0], and its strides.
    private static (T[] Buf, long Off, long Rs, long Cs) Operand<T>(int rows, int cols, Layout layout, int pad, Random rng)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (long rs, long cs) = layout switch
        {
            Layout.RowMajor => ((long)cols + pad, 1L),
            Layout.ColMajor => (1L, (long)rows + pad),
            Layout.StridedRows => (2L * cols + pad + 1, 2L),
            Layout.StridedCols => (2L, 2L * rows + pad + 1),
            Layout.ReversedRows => (-((long)cols + pad), 1L),
            _ => throw new ArgumentOutOfRangeException(nameof(layout)),
        };
        long off = rs < 0 ? -rs * Math.Max(0, rows - 1) : 0;
        long len = off + Math.Max(0, (rows - 1) * rs) + Math.Max(0, (cols - 1) * cs) + 1;
        var buf = new T[len];
        for (long i = 0; i < len; i++) buf[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        return (buf, off, rs, cs);
    }

    private static void Call<T>(Case cs, Path path, T[] a, long aOff, long ars, long acs, T[] b, long bOff, long brs,
        long bcs, T[] c, long rsc, int? threads) where T : unmanaged
    {
        bool savedPortable = CpuGemm.ForcePortable, savedAvx2 = CpuGemm.ForceAvx2;
        long savedDirect = CpuGemm.DirectPathMaxWork;
        int savedThreads = CpuParallel.ThreadCount;
        try
        {
            CpuGemm.ForcePortable = path == Path.Portable;
            CpuGemm.ForceAvx2 = path == Path.Avx2;
            if (cs.PackedOnly) CpuGemm.DirectPathMaxWork = 0;
            if (threads is { } t) CpuParallel.ThreadCount = t;
            fixed (T* pa = a)
            fixed (T* pb = b)
            fixed (T* pc = c)
            {
                if (typeof(T) == typeof(float))
                    CpuGemm.Gemm(cs.M, cs.N, cs.K, (float)cs.Alpha, (float*)pa + aOff, ars, acs, (float*)pb + bOff, brs, bcs,
                        (float)cs.Beta, (float*)pc, rsc);
                else
                    CpuGemm.Gemm(cs.M, cs.N, cs.K, cs.Alpha, (double*)pa + aOff, ars, acs, (double*)pb + bOff, brs, bcs,
                        cs.Beta, (double*)pc, rsc);
            }
        }
        finally
        {
            CpuGemm.ForcePortable = savedPortable;
            CpuGemm.ForceAvx2 = savedAvx2;
            CpuGemm.DirectPathMaxWork = savedDirect;
            if (threads is not null) CpuParallel.ThreadCount = savedThreads;
        }
    }

    private static void AssertThreadInvariant<T>(int m, int n, int k, Path path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(7);
        var cs = new Case(m, n, k, Layout.RowMajor, Layout.ColMajor, 1, 1.5, 0.5, true, 0);
        var (a, aOff, ars, acs) = Operand<T>(m, k, cs.A, cs.Pad, rng);
        var (b, bOff, brs, bcs) = Operand<T>(k, n, cs.B, cs.Pad, rng);
        var c0 = new T[m * n];
        for (int i = 0; i < c0.Length; i++) c0[i] = T.CreateTruncating(rng.NextDouble());

        T[]? reference = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var c = (T[])c0.Clone();
            Call(cs, path, a, aOff, ars, acs, b, bOff, brs, bcs, c, n, threads);
            if (reference is null) reference = c;
            else Assert.True(MemoryMarshal.AsBytes(reference.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(c.AsSpan())),
                $"{typeof(T).Name} {m}x{n}x{k} path={path}: {threads} threads differ from 1 thread");
        }
    }
}
