using System.Reflection;
using Engine.Backends;
using Engine.Ops;
using Engine.Randomness;
using Engine.Tests.Cuda.Backend;
using Engine.Tests.Gradients;
using Engine.Tests.Support;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// Scaled dot-product attention on CUDA with each path forced (fused: the FlashAttention-2 kernels; unfused: cuBLAS
/// and the row kernels, with saved probabilities) against the CPU, float32 to 1e-5 and float64 to 1e-12 relative
/// (an element may differ by tol·(1 + |cpu|)), output and the gradients of query, key and value: several key and
/// query tiles, head views, strided keys and values, broadcast batches, the widest heads the fused kernels take,
/// NaN rows, and more rows than one grid holds. Then the choice of path.
/// </summary>
public class AttentionGpuTests
{
    private static void AssertMatchesCpu(bool fused, string name, int[][] shapes, Func<Tensor[], Tensor> op, DType[]? dtypes = null)
    {
        using var path = AttentionPaths.Force(fused ? AttentionPath.Flash : AttentionPath.Probabilities);
        foreach (var dtype in dtypes ?? [DType.F64, DType.F32])
        {
            using var scope = Tensor.Scope();
            var generator = new Generator(17);
            var inputs = shapes.Select(s => Tensor.Randn(s, DType.F64, Device.Cpu, generator).ToDType(dtype)).ToArray();
            var cpu = Run(op, inputs, Device.Cpu);
            var gpu = Run(op, inputs, Device.Cuda(0));
            double tol = DeviceParity.Tolerance(dtype);
            string what = $"{name} ({(fused ? "fused" : "unfused")}, {dtype.TorchName()})";
            for (int i = 0; i < cpu.Length; i++) AssertNear(cpu[i], gpu[i], tol, i == 0 ? $"{what} output" : $"{what} gradient of operand {i - 1}");
        }
    }

    /// <summary>The output and the gradient of every operand, on the host in float64.</summary>
    private static double[][] Run(Func<Tensor[], Tensor> op, Tensor[] inputs, Device device)
    {
        var leaves = inputs.Select(t => t.ToDevice(device).Clone().RequiresGradInPlace()).ToArray();
        var y = op(leaves);
        Assert.Equal(device, y.Device);
        using var g64 = Tensor.Randn(y.Shape, DType.F64, Device.Cpu, new Generator(23));
        y.Backward(g64.ToDType(y.DType).ToDevice(device));
        return [Host(y), .. leaves.Select(t => Host(t.Grad!))];
    }

    private static double[] Host(Tensor t) => t.ToDevice(Device.Cpu).ToDType(DType.F64).ToArray<double>();

    private static void AssertNear(double[] cpu, double[] gpu, double tol, string what)
    {
        Assert.Equal(cpu.Length, gpu.Length);
        for (int i = 0; i < cpu.Length; i++)
        {
            double a = cpu[i], b = gpu[i];
            if (double.IsNaN(a) || double.IsNaN(b))
            {
                Assert.True(double.IsNaN(a) && double.IsNaN(b), $"{what}: element {i} is {b:R} on the GPU, {a:R} on the CPU");
                continue;
            }
            Assert.True(Math.Abs(a - b) <= tol * (1 + Math.Abs(a)), $"{what}: element {i} is {b:R} on the GPU, {a:R} on the CPU");
        }
    }

    /// <summary>(B, L, h, d) data seen as heads (B, h, L, d), as a model makes them.</summary>
    private static Tensor Heads(Tensor t) => t.Permute(0, 2, 1, 3);

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(false)]
    [InlineData(true)]
    public void SelfAttentionOnHeadViewsOverSeveralTiles(bool fused) =>
        // 37 rows: two key tiles (32 + 5), three forward query tiles (16) and five backward tiles (8).
        AssertMatchesCpu(fused, "self", [[2, 37, 3, 8], [2, 37, 3, 8], [2, 37, 3, 8]],
            x => F.ScaledDotProductAttention(Heads(x[0]), Heads(x[1]), Heads(x[2])));

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(false)]
    [InlineData(true)]
    public void CrossAttentionWithStridedKeysAndValues(bool fused) =>
        // Keys read through a transpose (column stride 70), values through a column slice; 70 keys: three tiles.
        AssertMatchesCpu(fused, "cross", [[2, 45, 6], [2, 6, 70], [2, 70, 10]],
            x => F.ScaledDotProductAttention(x[0], x[1].Transpose(1, 2), x[2].Narrow(2, 5, 5), scale: 0.3));

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(false)]
    [InlineData(true)]
    public void UnbatchedQueriesBroadcastAgainstBatchedKeys(bool fused) =>
        AssertMatchesCpu(fused, "broadcast", [[20, 16], [3, 33, 16], [3, 33, 16]], x => F.ScaledDotProductAttention(x[0], x[1], x[2]));

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(false)]
    [InlineData(true)]
    public void HeadWidthsAcrossTheLanesColumns(bool fused) =>
        // E = 33 and Ev = 65: the second and third column chunk of each lane, partly filled.
        AssertMatchesCpu(fused, "widths", [[1, 2, 11, 33], [1, 2, 40, 33], [1, 2, 40, 65]], x => F.ScaledDotProductAttention(x[0], x[1], x[2]));

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(false)]
    [InlineData(true)]
    public void WidestHeadsOfTheFusedKernels(bool fused)
    {
        // 128 in float32 and 64 in float64: the tiles that still fit 48 KiB of shared memory.
        AssertMatchesCpu(fused, "widest f32", [[2, 19, 128], [2, 35, 128], [2, 35, 128]], x => F.ScaledDotProductAttention(x[0], x[1], x[2]), [DType.F32]);
        AssertMatchesCpu(fused, "widest f64", [[2, 19, 64], [2, 35, 64], [2, 35, 64]], x => F.ScaledDotProductAttention(x[0], x[1], x[2]), [DType.F64]);
    }

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(false)]
    [InlineData(true)]
    public void ANaNQueryGivesNaNWhereTheCpuDoes(bool fused) =>
        AssertMatchesCpu(fused, "nan", [[2, 9, 4], [2, 12, 4], [2, 12, 3]], x =>
        {
            var mask = Tensor.Ones([2, 9, 1], x[0].DType, Device.Cpu);
            mask.Narrow(1, 4, 1).Fill(double.NaN);
            return F.ScaledDotProductAttention(x[0] * mask.ToDevice(x[0].Device), x[1], x[2]);
        });

    /// <summary>
    /// 70,000 query rows against 3 keys (Dual-ViT's pixel-to-semantic cross-attention, long): more rows than one grid of
    /// the row kernels covers (4,096 blocks of 8 warps) and more query tiles than one grid of the fused kernels, so
    /// every kernel walks its grid-stride loop; the dK/dV pass loops over 2,188 query tiles in one block.
    /// </summary>
    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(false)]
    [InlineData(true)]
    public void MoreRowsThanOneGrid(bool fused) =>
        // In float64: the gradients of key and value are sums over the 70,000 rows, and in float32 two correct
        // summation orders already differ by more than float32's tolerance there (element 0 of dk, exact 12.0240973:
        // the CPU's packed GEMM, which sums in blocks, gave 12.0240870, the GPU's row-sequential sums 12.0239067,
        // 1.5e-5 relative apart); float64 checks the same grid handling to 1e-12.
        AssertMatchesCpu(fused, "70000 rows", [[1, 70_000, 4], [1, 3, 4], [1, 3, 2]], x => F.ScaledDotProductAttention(x[0], x[1], x[2]), [DType.F64]);

    /// <summary>Every property of <see cref="AttentionGradients"/> (zero-size dimensions, broadcast and stepped layouts, scales) again as GPU-vs-CPU properties, on the fused path.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void FusedPathMatchesCpuOnTheGradientProperties()
    {
        using var path = AttentionPaths.Force(AttentionPath.Flash);
        GradientProperty.OverriddenRuns = 0;
        using (GradientProperty.Override(DeviceParity.CheckCase, 25))
        {
            var properties = new AttentionGradients();
            foreach (var m in typeof(AttentionGradients).GetMethods(BindingFlags.Public | BindingFlags.Instance).Where(m => m.GetCustomAttribute<FactAttribute>() is not null))
            {
                try { m.Invoke(properties, null); }
                catch (TargetInvocationException e) when (e.InnerException is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                }
            }
        }
        Assert.Equal(2, GradientProperty.OverriddenRuns);
    }

    private static AttentionPath Choice(int l, int s, int e, int ev, DType dtype)
    {
        using var scope = Tensor.Scope();
        var q = Tensor.Empty([2, l, e], dtype, Device.Cuda(0));
        var k = Tensor.Empty([2, s, e], dtype, Device.Cuda(0));
        var v = Tensor.Empty([2, s, ev], dtype, Device.Cuda(0));
        return AttentionPaths.Choose(AttentionGeometry.Of(q, k, v), q, k, v);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaFusesFromSelfAttentionOf512TokensWhereTheKernelsTakeTheHeads()
    {
        Assert.Equal(AttentionPath.Flash, Choice(512, 512, 64, 64, DType.F32));
        Assert.Equal(AttentionPath.Flash, Choice(4096, 64, 128, 128, DType.F32));
        Assert.Equal(AttentionPath.Probabilities, Choice(511, 512, 64, 64, DType.F32));
        Assert.Equal(AttentionPath.Probabilities, Choice(3136, 64, 64, 64, DType.F32));   // Dual-ViT stage 1: 200,704 logits per head
        Assert.Equal(AttentionPath.Probabilities, Choice(1024, 1024, 160, 160, DType.F32)); // wider than 4 columns per lane
        Assert.Equal(AttentionPath.Probabilities, Choice(1024, 1024, 128, 128, DType.F64)); // over 48 KiB of shared memory
        Assert.Equal(AttentionPath.Flash, Choice(1024, 1024, 64, 64, DType.F64));
        using (AttentionPaths.Force(AttentionPath.Flash))
        {
            var e = Assert.Throws<NotSupportedException>(() => Choice(8, 8, 160, 4, DType.F32));
            Assert.Contains("E = 160", e.Message);
        }
        using (AttentionPaths.Force(AttentionPath.Probabilities)) Assert.Equal(AttentionPath.Probabilities, Choice(512, 512, 64, 64, DType.F32));
    }
}

/// <summary>
/// What the fused path saves: at 512 x 512 logits CUDA fuses by itself and keeps the log-sum-exp per query row, not the
/// probabilities, for the backward. Serial: it reads the device's allocated bytes, which parallel tests would move.
/// </summary>
[Collection(SerialCollection.Name)]
public class AttentionGpuMemoryTests
{
    private static long SavedBytes(AttentionPath? path, Tensor q, Tensor k, Tensor v, out double[] output)
    {
        using var forced = path is { } p ? AttentionPaths.Force(p) : null;
        long before = Devices.Memory(q.Device).Allocated;
        using var y = F.ScaledDotProductAttention(q, k, v);
        long held = Devices.Memory(q.Device).Allocated - before;
        output = y.ToDevice(Device.Cpu).ToArray<double>();
        return held;
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void LongSequencesKeepTheLogSumExpNotTheProbabilities()
    {
        using var scope = Tensor.Scope();
        var generator = new Generator(29);
        var cpu = new[] { 4, 4, 4 }.Select(width => Tensor.Randn([1, 512, width], DType.F64, Device.Cpu, generator)).ToArray();
        var gpu = cpu.Select(t => t.ToDevice(Device.Cuda(0)).Clone().RequiresGradInPlace()).ToArray();
        long fused = SavedBytes(null, gpu[0], gpu[1], gpu[2], out var fusedOutput);
        long unfused = SavedBytes(AttentionPath.Probabilities, gpu[0], gpu[1], gpu[2], out var unfusedOutput);
        long probabilities = 512L * 512 * sizeof(double);
        Assert.True(unfused >= probabilities, $"the unfused path holds {unfused} bytes, less than its probabilities ({probabilities})");
        Assert.True(fused < probabilities / 16, $"the fused path holds {fused} bytes: it kept more than the output and the log-sum-exp");
        var expected = F.ScaledDotProductAttention(cpu[0], cpu[1], cpu[2]).ToArray<double>();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(fusedOutput[i] - expected[i]) <= 1e-12 * (1 + Math.Abs(expected[i])), $"fused output element {i}");
            Assert.True(Math.Abs(unfusedOutput[i] - expected[i]) <= 1e-12 * (1 + Math.Abs(expected[i])), $"unfused output element {i}");
        }
    }
}
