using System.Runtime.InteropServices;
using Engine.Cpu;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// A matmul's two operand gradients as one pair of products (<see cref="CpuBackend.MatMulPair"/>): with two threads
/// and mid-size products each product runs whole on one thread. Which thread computes a product never changes its
/// bits, so the gradients must be those of the products computed one after the other, on any number of threads.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class MatMulPairTests
{
    public static TheoryData<int[], int[]> Shapes => new()
    {
        { [512, 512], [512, 512] },      // the bench's matmul (2^27 multiply-adds per gradient, the largest pair): paired
        { [128, 128], [128, 128] },      // 2^21 exactly, the smallest pair
        { [127, 128], [128, 128] },      // one row fewer: in turn
        { [513, 512], [512, 512] },      // one row past 2^27 multiply-adds: in turn
        { [384, 700], [700, 499] },      // 1.34e8, just below 2^27: paired; ragged panels in every direction
        { [3, 100, 90], [90, 250] },     // a broadcast B: its gradient sums the batch
        { [2, 1, 96, 33], [3, 33, 520] },// broadcast batch dimensions on both sides
        { [300], [300, 4000] },          // a vector times a matrix (promoted to 1 x 300)
        { [1000, 37], [37, 61] },        // edge tiles in every direction
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BothGradients_HaveTheBitsOfTheProductsInTurn(int[] aShape, int[] bShape)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            var (refA, refB) = Gradients(aShape, bShape, dtype, threads: 1, inTurn: true);
            foreach (var (threads, inTurn) in new[] { (1, false), (2, false), (2, true), (3, false) })
            {
                var (ga, gb) = Gradients(aShape, bShape, dtype, threads, inTurn);
                string what = $"{dtype} {Layout.Format(aShape)} @ {Layout.Format(bShape)}, {threads} threads{(inTurn ? ", in turn" : "")}";
                Assert.True(refA.AsSpan().SequenceEqual(ga), $"{what}: the gradient of a differs");
                Assert.True(refB.AsSpan().SequenceEqual(gb), $"{what}: the gradient of b differs");
            }
        }
    }

    [Fact]
    public void BothGradients_MatchAFloat64Reference()
    {
        // dA = g Bᵀ and dB = Aᵀ g of a paired product, against the sums in double: the pair computes the right products.
        int m = 160, k = 150, n = 140;
        int saved = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = 2;
            using var scope = Tensor.Scope();
            var a = Tensor.Randn([m, k], DType.F32, Device.Cpu, new Generator(11));
            var b = Tensor.Randn([k, n], DType.F32, Device.Cpu, new Generator(12));
            var g = Tensor.Randn([m, n], DType.F32, Device.Cpu, new Generator(13));
            a.RequiresGrad = b.RequiresGrad = true;
            a.MatMul(b).Backward(g);
            float[] av = a.ToArray<float>(), bv = b.ToArray<float>(), gv = g.ToArray<float>();
            float[] ga = a.Grad!.ToArray<float>(), gb = b.Grad!.ToArray<float>();
            for (int i = 0; i < m; i += 7)
                for (int p = 0; p < k; p += 5)
                {
                    double s = 0, abs = 0;
                    for (int j = 0; j < n; j++) { s += (double)gv[i * n + j] * bv[p * n + j]; abs += Math.Abs((double)gv[i * n + j] * bv[p * n + j]); }
                    Assert.True(Math.Abs(ga[i * k + p] - s) <= 1e-5 * abs, $"dA[{i},{p}] = {ga[i * k + p]}, expected {s}");
                }
            for (int p = 0; p < k; p += 5)
                for (int j = 0; j < n; j += 7)
                {
                    double s = 0, abs = 0;
                    for (int i = 0; i < m; i++) { s += (double)av[i * k + p] * gv[i * n + j]; abs += Math.Abs((double)av[i * k + p] * gv[i * n + j]); }
                    Assert.True(Math.Abs(gb[p * n + j] - s) <= 1e-5 * abs, $"dB[{p},{j}] = {gb[p * n + j]}, expected {s}");
                }
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    [Fact]
    public void ThePairRunsTogether_OnlyOnTwoThreads_ForMidSizeProducts()
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = 2;
            Assert.True(CpuBackend.PairTogether(1L << 27, 1L << 27));
            Assert.True(CpuBackend.PairTogether(1L << 21, 1L << 27));
            Assert.False(CpuBackend.PairTogether((1L << 21) - 1, 1L << 27)); // one product would not fork on its own
            Assert.False(CpuBackend.PairTogether(1L << 27, (1L << 27) + 1));  // past the measured sizes: the GEMM's own schedule
            CpuBackend.PairInTurn = true;
            Assert.False(CpuBackend.PairTogether(1L << 27, 1L << 27));
            CpuBackend.PairInTurn = false;
            bool nested = true;
            CpuParallel.ForEachTask(1, _ => nested = CpuBackend.PairTogether(1L << 27, 1L << 27));
            CpuParallel.ForEachTask(2, i => { if (i == 0 && CpuParallel.InsideParallelRegion) nested = CpuBackend.PairTogether(1L << 27, 1L << 27); });
            Assert.False(nested);
            foreach (int threads in new[] { 1, 3, 4 })
            {
                CpuParallel.ThreadCount = threads;
                Assert.False(CpuBackend.PairTogether(1L << 27, 1L << 27));
            }
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
            CpuBackend.PairInTurn = false;
        }
    }

    [Fact]
    public void APairedProduct_ThatFails_Throws()
    {
        // An output without unit column stride is refused by the product on the worker as on the caller.
        int saved = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = 2;
            using var scope = Tensor.Scope();
            var a = Tensor.Randn([512, 512], DType.F32, Device.Cpu, new Generator(1));
            var b = Tensor.Randn([512, 512], DType.F32, Device.Cpu, new Generator(2));
            var c1 = Tensor.Zeros([512, 512], DType.F32, Device.Cpu);
            var c2 = Tensor.Zeros([512, 512], DType.F32, Device.Cpu).Transpose(0, 1);
            var e = Assert.ThrowsAny<Exception>(() => a.Backend.MatMulPair(a, b, c1, a, b, c2));
            Assert.Contains("unit column stride", (e.InnerException ?? e).Message);
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    private static (byte[] A, byte[] B) Gradients(int[] aShape, int[] bShape, DType dtype, int threads, bool inTurn)
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            CpuBackend.PairInTurn = inTurn;
            using var scope = Tensor.Scope();
            var a = Tensor.Randn(aShape, dtype, Device.Cpu, new Generator((ulong)aShape.Sum() + 1));
            var b = Tensor.Randn(bShape, dtype, Device.Cpu, new Generator((ulong)bShape.Sum() + 2));
            a.RequiresGrad = b.RequiresGrad = true;
            var y = a.MatMul(b);
            var g = Tensor.Randn(y.Shape, dtype, Device.Cpu, new Generator(3));
            y.Backward(g);
            return (Bytes(a.Grad!), Bytes(b.Grad!));
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
            CpuBackend.PairInTurn = false;
        }
    }

    private static byte[] Bytes(Tensor t) => t.DType == DType.F32
        ? MemoryMarshal.AsBytes(t.ToArray<float>().AsSpan()).ToArray()
        : MemoryMarshal.AsBytes(t.ToArray<double>().AsSpan()).ToArray();
}
