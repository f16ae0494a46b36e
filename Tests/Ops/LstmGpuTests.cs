using Engine.Ops;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The LSTM operators on the GPU against the CPU (outputs, final states and every gradient; F32 to 1e-5 and F64 to
/// 1e-12 relative), on the shapes the small generated cases of <c>RecurrentGradients</c> miss: hidden sizes over one
/// tile of 32 units and inner sums over several chunks of 32, more than one tile of 8 sequences, grids whose
/// directions share one launch or not, and more tiles than one grid holds. On the CUDA emulator where there is no GPU.
/// </summary>
public class LstmGpuTests
{
    /// <summary>Runs <paramref name="op"/> on both devices on the same operands (normal, times <paramref name="scale"/>) and compares.</summary>
    private static void Parity(Func<Tensor[], Tensor> op, int[][] shapes, double scale = 0.3, DType[]? dtypes = null)
    {
        foreach (var dtype in dtypes ?? [DType.F32, DType.F64])
        {
            using var scope = Tensor.Scope();
            var gen = new Generator(5);
            var operands = shapes.Select(s => Tensor.Randn(s, DType.F64, Device.Cpu, gen) * scale).Select(t => t.ToDType(dtype)).ToArray();
            var cpu = Run(op, operands, Device.Cpu);
            var gpu = Run(op, operands, Device.Cuda(0));
            double tol = dtype == DType.F32 ? 1e-5 : 1e-12;
            for (int i = 0; i < cpu.Length; i++)
            {
                Assert.Equal(cpu[i].Length, gpu[i].Length);
                for (int j = 0; j < cpu[i].Length; j++)
                    Assert.True(Math.Abs(cpu[i][j] - gpu[i][j]) <= tol * (1 + Math.Abs(cpu[i][j])),
                        $"{dtype.TorchName()} {(i == 0 ? "output" : $"gradient of operand {i - 1}")}: element {j} is {gpu[i][j]:R} on the GPU, {cpu[i][j]:R} on the CPU");
            }
        }
    }

    /// <summary>The output and every operand's gradient, for an upstream gradient drawn on the CPU.</summary>
    internal static double[][] Run(Func<Tensor[], Tensor> op, Tensor[] operands, Device device)
    {
        var leaves = operands.Select(t => t.Detach().ToDevice(device)).ToArray();
        foreach (var l in leaves) l.RequiresGrad = true;
        var y = op(leaves);
        Assert.Equal(device, y.Device);
        using var g = (Tensor.Randn(y.Shape, DType.F64, Device.Cpu, new Generator(6)) * 0.5).ToDType(y.DType);
        y.Backward(g.ToDevice(device));
        return [Host(y), .. leaves.Select(l => Host(l.Grad!))];
    }

    private static double[] Host(Tensor t) => t.Detach().ToDevice(Device.Cpu).ToDType(DType.F64).ToArray<double>();

    internal static int[][] LstmWeights(int layers, int dirs, int input, int hidden) =>
        [.. Enumerable.Range(0, layers * dirs).SelectMany(i => new[] { new[] { 4 * hidden, i < dirs ? input : dirs * hidden }, [4 * hidden, hidden], [4 * hidden], [4 * hidden] })];

    private static Tensor All((Tensor Output, Tensor HN, Tensor CN) r) => Tensor.Cat([r.Output.Flatten(), r.HN.Flatten(), r.CN.Flatten()]);

    /// <summary>D = 40: two tiles of units, the forward's inner sum over two chunks and the backward's (4D) over five; 11 sequences: two tiles.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void StackedBidirectionalLstmWithWideHiddenAndInitialStates() =>
        Parity(x => All(F.Lstm(x[0], x[3..], numLayers: 2, bidirectional: true, h0: x[1], c0: x[2])),
            [[3, 11, 5], [4, 11, 40], [4, 11, 40], .. LstmWeights(2, 2, 5, 40)]);

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void BatchFirstLstmWithoutBiasesAndUnbatched()
    {
        Parity(x => All(F.Lstm(x[0], x[1..], batchFirst: true, hasBiases: false)), [[9, 4, 3], [4 * 33, 3], [4 * 33, 33]]);
        Parity(x => All(F.Lstm(x[0], x[1..], bidirectional: true)), [[4, 3], .. LstmWeights(1, 2, 3, 5)]);
    }

    /// <summary>A square grid with equal hidden sizes runs all four directions in one launch per step; otherwise one per LSTM.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Lstm2dOnSquareAndOblongGridsWithEqualAndUnequalHiddenSizes()
    {
        Parity(x => F.Lstm2d(x[0], x[1..9], x[9..]), [[2, 4, 4, 6], .. LstmWeights(1, 2, 6, 36), .. LstmWeights(1, 2, 6, 36)]);
        Parity(x => F.Lstm2d(x[0], x[1..9], x[9..]), [[2, 3, 5, 6], .. LstmWeights(1, 2, 6, 4), .. LstmWeights(1, 2, 6, 4)]);
        Parity(x => F.Lstm2d(x[0], x[1..9], x[9..]), [[2, 4, 4, 6], .. LstmWeights(1, 2, 6, 3), .. LstmWeights(1, 2, 6, 5)]);
        Parity(x => F.Lstm2d(x[0], null, x[1..3], bidirectional: false, hasBiases: false), [[1, 3, 7, 2], [12, 2], [12, 3]]);
    }

    /// <summary>
    /// 262,144 sequences of a bidirectional LSTM with D = 1 make 65,536 tiles, one more than the largest grid: the
    /// forward step, the backward step and the initial-state kernel must loop over tiles (an unwritten sequence
    /// would read as NaN poison on the emulator). One step, F64 only: each launch is 16.7 M emulated threads.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void RunsOverMoreTilesThanOneGridHolds()
    {
        const int sequences = 262_144;
        Parity(x => All(F.Lstm(x[0], x[3..], bidirectional: true, h0: x[1], c0: x[2])),
            [[1, sequences, 1], [2, sequences, 1], [2, sequences, 1], .. LstmWeights(1, 2, 1, 1)], scale: 1, dtypes: [DType.F64]);
    }

    /// <summary>nn.LSTM moved to the GPU: its parameters' gradients land on the device and equal the CPU module's.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void LstmModuleTrainsOnTheDevice()
    {
        using var scope = Tensor.Scope();
        using var cpu = new Engine.Models.Nn.Lstm(3, 6, numLayers: 2, bidirectional: true, batchFirst: true, dtype: DType.F64);
        using var gpu = new Engine.Models.Nn.Lstm(3, 6, numLayers: 2, bidirectional: true, batchFirst: true, dtype: DType.F64);
        using (Engine.Autograd.Tape.NoGrad())
            foreach (var (a, b) in cpu.Parameters().Zip(gpu.Parameters())) b.CopyFrom(a);
        gpu.ToDevice(Device.Cuda(0));
        var x = Tensor.Randn([2, 5, 3], DType.F64, Device.Cpu, new Generator(9));
        (cpu.Call(x) * x.Sum()).Sum().Backward();
        using var xd = x.ToDevice(Device.Cuda(0));
        (gpu.Call(xd) * xd.Sum()).Sum().Backward();
        foreach (var (a, b) in cpu.Parameters().Zip(gpu.Parameters()))
        {
            Assert.Equal(Device.Cuda(0), b.Grad!.Device);
            var expected = a.Grad!.ToArray<double>();
            var actual = b.Grad.ToDevice(Device.Cpu).ToArray<double>();
            for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]:R} vs {expected[i]:R}");
        }
    }

    [Fact]
    public void DirectionsShareAGroupWhenTheirSizesMatch()
    {
        static DirectionPlan Plan(int hidden, SequenceGeometry g, bool reverse, int projection, int output) => new(hidden, g, reverse, projection, output);
        var vertical = new SequenceGeometry(2, 4, 4, 16, 1, 4);
        var horizontal = new SequenceGeometry(2, 4, 4, 16, 4, 1);
        DirectionPlan[] square = [Plan(3, vertical, false, 0, 0), Plan(3, vertical, true, 12, 3), Plan(3, horizontal, false, 24, 6), Plan(3, horizontal, true, 36, 9)];
        Assert.Equal([new DirectionGroup(0, 4, 2)], DirectionGroup.Of(square));
        DirectionPlan[] unequal = [square[0], square[1], Plan(5, horizontal, false, 24, 6), Plan(5, horizontal, true, 44, 11)];
        Assert.Equal([new DirectionGroup(0, 2, 2), new DirectionGroup(2, 2, 2)], DirectionGroup.Of(unequal));
        var oblong = new SequenceGeometry(2, 5, 3, 15, 1, 5);
        DirectionPlan[] mixed = [Plan(3, oblong, false, 0, 0), Plan(3, new SequenceGeometry(2, 3, 5, 15, 5, 1), false, 12, 3)];
        Assert.Equal([new DirectionGroup(0, 1, 1), new DirectionGroup(1, 1, 1)], DirectionGroup.Of(mixed));
        // A third geometry starts a new group: the step kernel takes two.
        var third = new SequenceGeometry(2, 4, 4, 16, 2, 2);
        DirectionPlan[] three = [square[0], Plan(3, horizontal, false, 12, 3), Plan(3, third, false, 24, 6)];
        Assert.Equal([new DirectionGroup(0, 2, 1), new DirectionGroup(2, 1, 1)], DirectionGroup.Of(three));
    }
}

/// <summary>
/// The LSTM on the GPU gives the same bits on every run. In the serial collection: on the emulator it changes the
/// process-wide thread order.
/// </summary>
[Collection(SerialCollection.Name)]
public class LstmGpuDeterminismTests
{
    /// <summary>
    /// The same input gives the same bits on every run: no atomics, every sum in a fixed order. On the emulator the
    /// second run releases the threads of each block in another order, which a missing barrier would show.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void GivesTheSameBitsOnEveryRun()
    {
        using var scope = Tensor.Scope();
        var gen = new Generator(8);
        var shapes = new[] { new[] { 2, 4, 4, 6 } }.Concat(LstmGpuTests.LstmWeights(1, 2, 6, 35)).Concat(LstmGpuTests.LstmWeights(1, 2, 6, 35)).ToArray();
        var operands = shapes.Select(s => (Tensor.Randn(s, DType.F32, Device.Cpu, gen) * 0.3).ToDevice(Device.Cuda(0))).ToArray();
        double[][] Once() => LstmGpuTests.Run(x => F.Lstm2d(x[0], x[1..9], x[9..]), operands, Device.Cuda(0));
        var first = Once();
        double[][] second;
        if (GpuEnvironment.EmulatorPath is null) second = Once();
        else
        {
            CudaEmulator.Emu.SetOption("CUDA_EMU_SCHEDULE", "random:3");
            try { second = Once(); }
            finally { CudaEmulator.Emu.SetOption("CUDA_EMU_SCHEDULE", null); }
        }
        for (int i = 0; i < first.Length; i++) Assert.Equal(first[i], second[i]);
    }
}
