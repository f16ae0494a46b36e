using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Cpu;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// <see cref="GemmPackedA{T}"/>: an A packed once and reused gives, product after product, the bits of the call that
/// packs A itself (on every kernel family this machine has, 1 to 3 threads, shapes across the panel, MC, KC and NC
/// edges), copies its source at construction, and rejects bad input.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public unsafe class GemmPackedATests
{
    public enum Family { Widest, Avx2, Portable }

    [Theory]
    [InlineData(145, 300, 257)]  // crosses MC (both dtypes) and the AVX2 KC
    [InlineData(193, 70, 385)]   // crosses the AVX-512 f64 MC, edge tiles both ways
    [InlineData(50, 40, 1030)]   // three AVX-512 k blocks of 344 / 343
    [InlineData(13, 33, 511)]    // one k block below KC
    [InlineData(13, 33, 513)]    // two k blocks just above KC
    [InlineData(385, 40, 100)]   // crosses the AVX-512 f32 MC
    [InlineData(73, 4100, 20)]   // crosses NC: a call would share its own packed A here
    [InlineData(12, 2000, 300)]  // few row panels: the workers split the columns
    [InlineData(64, 256, 2000)]  // deep and narrow: with threads, B packed whole and one fork over the k blocks
    [InlineData(97, 1500, 47)]   // a tiny A: the columns split among the workers
    [InlineData(1, 300, 300)]
    [InlineData(300, 1, 300)]
    [InlineData(300, 300, 1)]
    public void ProductsWithAPackedA_HaveTheBitsOfTheSelfPackingCall(int m, int n, int k)
    {
        foreach (var family in Enum.GetValues<Family>())
        foreach (bool transposedA in new[] { false, true })
        {
            Check<float>(m, n, k, family, transposedA);
            Check<double>(m, n, k, family, transposedA);
        }
    }

    [Fact]
    public void CBlocks_AndAccumulation_KeepTheBits()
    {
        // C in column blocks of 50 (a batch of images' planes), accumulated onto: the packed A changes neither.
        const int m = 40, n = 230, k = 70, block = 50, blockStride = m * 64;
        var rng = new Random(3);
        float[] a = Values<float>(m * k, rng), b = Values<float>(k * n, rng);
        float[] c0 = Values<float>(blockStride * ((n + block - 1) / block), rng);
        float[] expected = (float[])c0.Clone(), actual = (float[])c0.Clone();
        fixed (float* pa = a, pb = b, pe = expected, pc = actual)
        {
            CpuGemm.Gemm<float>(m, n, k, null, pa, k, 1, null, pb, n, 1, true, pe, 64, block, blockStride);
            using var packed = new GemmPackedA<float>(m, k, pa, k, 1);
            CpuGemm.Gemm(packed, n, null, pb, n, 1, true, pc, 64, block, blockStride);
        }
        Assert.True(expected.AsSpan().SequenceEqual(actual), "column-blocked C accumulated with a packed A differs from the self-packing call");
    }

    [Fact]
    public void ThePackedCopyIsTakenAtConstruction_AndServesManyProducts()
    {
        const int m = 30, n = 50, k = 40;
        var rng = new Random(5);
        double[] a = Values<double>(m * k, rng), b1 = Values<double>(k * n, rng), b2 = Values<double>(k * n, rng);
        double[] e1 = new double[m * n], e2 = new double[m * n], c1 = new double[m * n], c2 = new double[m * n];
        fixed (double* pa = a, pb1 = b1, pb2 = b2, pe1 = e1, pe2 = e2, pc1 = c1, pc2 = c2)
        {
            CpuGemm.Gemm<double>(m, n, k, null, pa, k, 1, null, pb1, n, 1, false, pe1, n);
            CpuGemm.Gemm<double>(m, n, k, null, pa, k, 1, null, pb2, n, 1, false, pe2, n);
            using var packed = new GemmPackedA<double>(m, k, pa, k, 1);
            a.AsSpan().Fill(double.NaN); // must not reach the packed copy
            CpuGemm.Gemm(packed, n, null, pb1, n, 1, false, pc1, n);
            CpuGemm.Gemm(packed, n, null, pb2, n, 1, false, pc2, n);
        }
        Assert.True(e1.AsSpan().SequenceEqual(c1), "first product with the packed A");
        Assert.True(e2.AsSpan().SequenceEqual(c2), "second product with the packed A");
    }

    [Fact]
    public void BadInput_Throws()
    {
        var a = new float[12];
        var c = new float[64];
        fixed (float* pa = a, pc = c)
        {
            float* p = pa, q = pc;
            Assert.Throws<ArgumentOutOfRangeException>(() => new GemmPackedA<float>(0, 3, p, 3, 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => new GemmPackedA<float>(3, -1, p, 3, 1));
            Assert.Throws<ArgumentNullException>(() => new GemmPackedA<float>(3, 4, null, 4, 1));
            var packed = new GemmPackedA<float>(3, 4, p, 4, 1);
            Assert.Throws<ArgumentNullException>(() => CpuGemm.Gemm(packed, 5, null, null, 5, 1, false, q, 5));
            Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.Gemm(packed, 5, null, p, 5, 1, false, q, 4)); // rows of C overlap
            Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.Gemm(packed, -1, null, p, 5, 1, false, q, 5));
            Assert.Throws<ArgumentNullException>(() => CpuGemm.Gemm<float>(null!, 5, null, p, 5, 1, false, q, 5));
            packed.Dispose();
            Assert.Throws<ObjectDisposedException>(() => CpuGemm.Gemm(packed, 1, null, p, 1, 1, false, q, 1));
        }
    }

    private static void Check<T>(int m, int n, int k, Family family, bool transposedA) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(m * 7919 + n * 31 + k);
        T[] a = Values<T>(m * k, rng), b = Values<T>(k * n, rng);
        long ars = transposedA ? 1 : k, acs = transposedA ? m : 1;
        T[]? reference = null;
        fixed (T* fa = a, fb = b)
        {
            T* pa = fa, pb = fb;
            using var packed = WithFamily(family, () => new GemmPackedA<T>(m, k, pa, ars, acs));
            foreach (int threads in new[] { 1, 2, 3 })
            {
                var self = new T[m * n];
                var pre = new T[m * n];
                int saved = CpuParallel.ThreadCount;
                try
                {
                    CpuParallel.ThreadCount = threads;
                    fixed (T* ps = self, pp = pre)
                    {
                        T* s = ps, q = pp;
                        WithFamily(family, () => { CpuGemm.Gemm<T>(m, n, k, null, pa, ars, acs, null, pb, n, 1, false, s, n); return 0; });
                        CpuGemm.Gemm(packed, n, null, pb, n, 1, false, q, n);
                    }
                }
                finally
                {
                    CpuParallel.ThreadCount = saved;
                }
                string what = $"{typeof(T).Name} {m}x{n}x{k} {family} A{(transposedA ? "ᵀ" : "")} {threads} threads";
                Assert.True(MemoryMarshal.AsBytes(self.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(pre.AsSpan())), $"{what}: packed A differs from the self-packing call");
                reference ??= self;
                Assert.True(MemoryMarshal.AsBytes(reference.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(pre.AsSpan())), $"{what}: differs from 1 thread");
            }
        }
        // And the self-packing call is right: a float64 check of a few elements.
        for (int t = 0; t < 5; t++)
        {
            int i = rng.Next(m), j = rng.Next(n);
            double sum = 0, abs = 0;
            for (int p = 0; p < k; p++)
            {
                double x = double.CreateTruncating(a[i * ars + p * acs]) * double.CreateTruncating(b[p * n + j]);
                sum += x;
                abs += Math.Abs(x);
            }
            double eps = typeof(T) == typeof(float) ? 1.2e-7 : 2.3e-16;
            Assert.True(Math.Abs(double.CreateTruncating(reference![i * n + j]) - sum) <= 2 * k * eps * abs + 1e-30, $"{typeof(T).Name} {m}x{n}x{k}: C[{i},{j}]");
        }
    }

    private static TResult WithFamily<TResult>(Family family, Func<TResult> body)
    {
        bool savedPortable = CpuGemm.ForcePortable, savedAvx2 = CpuGemm.ForceAvx2;
        try
        {
            CpuGemm.ForcePortable = family == Family.Portable;
            CpuGemm.ForceAvx2 = family == Family.Avx2;
            return body();
        }
        finally
        {
            CpuGemm.ForcePortable = savedPortable;
            CpuGemm.ForceAvx2 = savedAvx2;
        }
    }

    private static T[] Values<T>(int count, Random rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var v = new T[count];
        for (int i = 0; i < count; i++) v[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        return v;
    }
}
