using Engine.Tests.Core;
using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>The norms on the GPU against the CPU, forward and backward, in F32 and F64.</summary>
public class NormGpuParityTests
{
    /// <summary>Runs <paramref name="op"/> on inputs of the given shapes on both devices; compares outputs and every input's gradient.</summary>
    internal static void Parity(Func<Tensor[], Tensor> op, params int[][] shapes) => ParityWithin(1e-5, op, shapes);

    /// <summary><see cref="Parity(Func{Tensor[], Tensor}, int[][])"/> with an absolute F32 tolerance of <paramref name="f32Atol"/> (F64 stays at 1e-12).</summary>
    internal static void ParityWithin(double f32Atol, Func<Tensor[], Tensor> op, params int[][] shapes)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            using var scope = Tensor.Scope();
            var gen = new Engine.Randomness.Generator(11);
            var inputs = shapes.Select(s => Tensor.Randn(s, dtype, generator: gen)).ToArray();
            Tensor? g = null;
            double[][] Run(Device device)
            {
                var leaves = inputs.Select(t => t.Detach().ToDevice(device)).ToArray();   // fresh leaves on each device
                foreach (var l in leaves) l.RequiresGrad = true;
                var y = op(leaves);
                Assert.Equal(device, y.Device);
                g ??= Tensor.Randn(y.Shape, dtype, generator: gen);
                y.Backward(g.ToDevice(device));
                return [y.ToArray<double>(), .. leaves.Select(l => l.Grad!.ToArray<double>())];
            }
            var cpu = Run(Device.Cpu);
            var cuda = Run(Device.Cuda(0));
            double rtol = dtype == DType.F64 ? 1e-12 : 1e-5, atol = dtype == DType.F64 ? 1e-12 : f32Atol;
            for (int i = 0; i < cpu.Length; i++) Close(cpu[i], cuda[i], rtol, atol, $"{dtype} result {i}");
        }
    }

    private static void Parity(Func<Tensor, Tensor, Tensor, Tensor> op, int[] shape, int[] paramShape) =>
        Parity(t => op(t[0], t[1], t[2]), shape, paramShape, paramShape);

    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void LayerNorm() => Parity((x, w, b) => F.LayerNorm(x, [3, 40], w, b), [6, 3, 40], [3, 40]);

    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void LayerNorm2d() => Parity((x, w, b) => F.LayerNorm2d(x, w, b), [2, 12, 9, 7], [12]);

    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void LayerNorm2dEpsOnStd() => Parity((x, w, b) => F.LayerNorm2dEpsOnStd(x, w, b), [2, 12, 9, 7], [12]);

    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void GroupNorm() => Parity((x, w, b) => F.GroupNorm(x, 4, w, b), [2, 12, 9, 7], [12]);

    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void BatchNormTraining() => Parity((x, w, b) =>
    {
        using var mean = Tensor.Zeros([12], x.DType, x.Device); using var variance = Tensor.Ones([12], x.DType, x.Device);
        return F.BatchNorm(x, mean, variance, w, b, training: true);
    }, [4, 12, 9, 7], [12]);

    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void BatchNormEval() => Parity((x, w, b) =>
    {
        using var mean = Tensor.Full([12], 0.3, x.DType, x.Device); using var variance = Tensor.Full([12], 1.7, x.DType, x.Device);
        return F.BatchNorm(x, mean, variance, w, b, training: false);
    }, [4, 12, 9, 7], [12]);

    /// <summary>Shapes that cross the CUDA kernels' chunks, blocks and warps: positions beyond one chunk of 1024, rows longer than a block, channels of more than 256 values.</summary>
    public static TheoryData<NormTests.Norm, int[]> CrossingCases() => new()
    {
        { NormTests.Norm.LayerNorm2d, [3, 7, 20, 30] },
        { NormTests.Norm.LayerNorm2dEpsOnStd, [3, 7, 20, 30] },
        { NormTests.Norm.GroupNorm, [3, 6, 700] },
        { NormTests.Norm.BatchNormTraining, [5, 3, 600] },
        { NormTests.Norm.BatchNormEval, [5, 3, 20, 31] },
    };

    [Support.GpuTheory(Needs = Support.GpuNeeds.TensorBackend)]
    [MemberData(nameof(CrossingCases))]
    public void ShapesThatCrossTheKernelsBlocks(NormTests.Norm norm, int[] shape)
    {
        var (fused, _, paramShape) = NormTests.Pair(norm, shape, 1e-5, 1);
        Parity(t => fused(t[0], t[1], t[2]), shape, paramShape, paramShape);
    }

    /// <summary>A NaN and an infinity in the input reach the same outputs and gradients on both devices (every norm, F32 and F64).</summary>
    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void NanAndInfinityPropagateAsOnTheCpu()
    {
        int[] shape = [2, 6, 3, 4];
        foreach (var norm in Enum.GetValues<NormTests.Norm>())
            foreach (var dtype in new[] { DType.F32, DType.F64 })
            {
                var (fused, _, paramShape) = NormTests.Pair(norm, shape, 1e-5, 2);
                var rng = new System.Random(8);
                var xv = RandomF32Doubles(rng, Count(shape));
                xv[5] = double.NaN;
                xv[100] = double.PositiveInfinity;
                var wv = RandomF32Doubles(rng, Count(paramShape)); var bv = RandomF32Doubles(rng, Count(paramShape));
                var gv = RandomF32Doubles(rng, Count(shape));
                double[][] Run(Device device)
                {
                    using var scope = Tensor.Scope();
                    var x = Make(xv, shape, dtype).ToDevice(device); x.RequiresGrad = true;
                    var w = Make(wv, paramShape, dtype).ToDevice(device); w.RequiresGrad = true;
                    var b = Make(bv, paramShape, dtype).ToDevice(device); b.RequiresGrad = true;
                    var y = fused(x, w, b);
                    y.Backward(Make(gv, shape, dtype).ToDevice(device));
                    return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
                }
                var cpu = Run(Device.Cpu);
                var cuda = Run(Device.Cuda(0));
                Assert.Contains(cpu[0], double.IsNaN);
                double tol = dtype == DType.F64 ? 1e-12 : 1e-5;
                for (int i = 0; i < cpu.Length; i++) Close(cpu[i], cuda[i], tol, tol, $"{norm} {dtype}: result {i}");
            }
    }

    /// <summary>
    /// More rows than the 65,535 blocks of a grid, where a kernel takes one block per row (the group norm's rows,
    /// the batch norm's channels) or one thread per position (the channels-first norms): every row must be done.
    /// </summary>
    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void MoreRowsThanOneGridHasBlocks()
    {
        Parity((x, w, b) => F.GroupNorm(x, 2, w, b), [70_000, 2, 1], [2]);
        Parity((x, w, b) => F.LayerNorm2dEpsOnStd(x, w, b), [70_000, 2], [2]);
        // Two samples a channel: the input gradient is a near-total cancellation, rstd (γg - mean(γg) - x̂ mean(γg x̂)),
        // with rstd up to 1/√eps where the two samples nearly agree. The CPU's F32 kernel works in float lanes (as
        // PyTorch's), so its error is a float ulp of rstd |γ g|, up to about 1e-4 here, not of the small result; F64
        // checks the arithmetic to 1e-12 on the same shapes.
        ParityWithin(2e-4, t =>
        {
            using var mean = Tensor.Zeros([70_000], t[0].DType, t[0].Device); using var variance = Tensor.Ones([70_000], t[0].DType, t[0].Device);
            return F.BatchNorm(t[0], mean, variance, t[1], t[2], training: true);
        }, [2, 70_000], [70_000], [70_000]);
    }

    /// <summary>
    /// Training forwards update the running statistics and the batch counter on the GPU as on the CPU (F64 to 1e-12):
    /// through the operator with a momentum, with momentum = None (the cumulative average, weighted by the counter
    /// read on the device) and with strided running statistics, and through the Models' BatchNorm2d module.
    /// </summary>
    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void BatchNormRunningStatisticsAndCounterFollowTheCpu()
    {
        const int c = 5, steps = 3;
        var gen = new Engine.Randomness.Generator(3);
        using var scope = Tensor.Scope();
        var batches = Enumerable.Range(0, steps).Select(i => Tensor.Randn([4, c, 3, 2], DType.F64, generator: gen).Affine(1 + i, i - 0.5)).ToArray();
        var weight = Tensor.Randn([c], DType.F64, generator: gen); var bias = Tensor.Randn([c], DType.F64, generator: gen);
        foreach (double? momentum in new double?[] { 0.1, null })
        {
            double[][] Run(Device device)
            {
                // The running mean is a strided view (every other element of a longer buffer).
                var meanBuffer = Tensor.Zeros([2 * c], DType.F64, device);
                var rm = meanBuffer.Slice(0, 0, null, 2);
                var rv = Tensor.Ones([c], DType.F64, device);
                var counter = Tensor.Zeros([], DType.I64, device);
                var w = weight.ToDevice(device); var b = bias.ToDevice(device);
                double[] y = [];
                foreach (var x in batches)
                    y = F.BatchNorm(x.ToDevice(device), rm, rv, w, b, training: true, momentum: momentum, numBatchesTracked: counter).ToArray<double>();
                return [y, rm.ToArray<double>(), rv.ToArray<double>(), meanBuffer.ToArray<double>(), [counter.ToArray<long>()[0]]];
            }
            var cpu = Run(Device.Cpu);
            var cuda = Run(Device.Cuda(0));
            Assert.Equal([(double)steps], cpu[4]);
            string[] names = ["output", "running mean", "running var", "running mean's buffer", "num_batches_tracked"];
            for (int i = 0; i < cpu.Length; i++) Close(cpu[i], cuda[i], 1e-12, 1e-12, $"momentum {momentum?.ToString() ?? "None"}: {names[i]}");
        }

        foreach (double? momentum in new double?[] { 0.1, null })
        {
            Dictionary<string, double[]> Module(Device device)
            {
                using var bn = new Engine.Models.Nn.BatchNorm2d(c, momentum: momentum, dtype: DType.F64);
                bn.ToDevice(device);
                foreach (var x in batches) bn.Call(x.ToDevice(device));
                bn.Eval();
                var eval = bn.Call(batches[0].ToDevice(device)).ToArray<double>();
                var state = bn.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.DType == DType.I64
                    ? kv.Value.ToArray<long>().Select(v => (double)v).ToArray() : kv.Value.ToArray<double>());
                state["eval output"] = eval;
                return state;
            }
            var cpu = Module(Device.Cpu);
            var cuda = Module(Device.Cuda(0));
            Assert.Equal([(double)steps], cpu["num_batches_tracked"]);
            foreach (var (name, values) in cpu) Close(values, cuda[name], 1e-12, 1e-12, $"BatchNorm2d(momentum {momentum?.ToString() ?? "None"}): {name}");
        }
    }
}

/// <summary>
/// The norms' CUDA kernels give the same bits on every run: no atomics, every sum in a fixed order. On the CUDA
/// emulator the reruns also change the order in which threads start and leave barriers (reversed, shuffled), which
/// an order-dependent sum or a race would show; they change the emulator's global options, so they run alone.
/// </summary>
[Collection(Support.SerialCollection.Name)]
public class NormGpuDeterminismTests
{
    [Support.GpuFact(Needs = Support.GpuNeeds.TensorBackend)]
    public void SameBitsInEveryThreadOrder()
    {
        foreach (var (norm, shape) in NormGpuParityTests.CrossingCases().Select(row => ((NormTests.Norm)row[0], (int[])row[1])))
            foreach (var dtype in new[] { DType.F32, DType.F64 })
            {
                var first = Run(norm, shape, dtype);
                foreach (var order in new[] { "reverse", "random:3" })
                {
                    bool emulated = Support.GpuEnvironment.EmulatorPath is not null;
                    if (emulated) CudaEmulator.Emu.SetOption("CUDA_EMU_SCHEDULE", order);
                    try
                    {
                        var again = Run(norm, shape, dtype);
                        for (int i = 0; i < first.Length; i++) Bitwise(first[i], again[i], $"{norm} {dtype}: result {i}, thread order {(emulated ? order : "of a rerun")}");
                    }
                    finally
                    {
                        if (emulated) CudaEmulator.Emu.SetOption("CUDA_EMU_SCHEDULE", null);
                    }
                }
            }
    }

    /// <summary>The output and the gradients of input, weight and bias on cuda:0.</summary>
    private static double[][] Run(NormTests.Norm norm, int[] shape, DType dtype)
    {
        var (fused, _, paramShape) = NormTests.Pair(norm, shape, 1e-5, 1);
        using var scope = Tensor.Scope();
        var gen = new Engine.Randomness.Generator(17);
        var device = Device.Cuda(0);
        var x = Tensor.Randn(shape, dtype, generator: gen).ToDevice(device); x.RequiresGrad = true;
        var w = Tensor.Randn(paramShape, dtype, generator: gen).ToDevice(device); w.RequiresGrad = true;
        var b = Tensor.Randn(paramShape, dtype, generator: gen).ToDevice(device); b.RequiresGrad = true;
        var y = fused(x, w, b);
        y.Backward(Tensor.Randn(shape, dtype, generator: gen).ToDevice(device));
        return [y.ToArray<double>(), x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>()];
    }
}
