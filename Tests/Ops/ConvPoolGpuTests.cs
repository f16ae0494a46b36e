using Engine.Ops;
using Engine.Randomness;
using Engine.Samples.Cli.Bench;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Ops;

/// <summary>
/// The convolution, pooling and linear kernels on CUDA beyond the parity cases: launches larger than one grid
/// (65,535 blocks of 256 threads, or 65,535 × 8 warps), where every kernel must loop; max pooling's tie and
/// NaN rule bit for bit; and the <c>bench ops</c> cases of these families on the device. The launches beyond
/// one grid take 10 to 30 s each on the CUDA emulator (about 100 ns per thread there), so they are in the slow
/// category; run them with <c>--filter "FullyQualifiedName~ConvPoolGpuTests"</c>.
/// </summary>
public class ConvPoolGpuTests
{
    /// <summary>Threads in the largest grid a launch gets: beyond this many elements a kernel must loop.</summary>
    private const long OneGrid = 65_535L * 256;

    /// <summary>
    /// Runs <paramref name="op"/> on float32 operands of <paramref name="shapes"/> on the CPU and on CUDA (the same
    /// values and upstream gradient) and compares the output and the input's gradient elementwise, within
    /// 1e-5·(1 + |cpu|): an element a kernel skipped stays unwritten, NaN on the emulator, and fails. The
    /// parameters' gradients are compared normwise, every element within <paramref name="parameterTolerance"/>
    /// of the largest: where they sum millions of products, which the CPU adds in float, the two devices'
    /// roundings differ by about 1e-4 of the sum.
    /// </summary>
    private static void AssertDevicesAgree(string name, int[][] shapes, Func<Tensor[], Tensor> op, double parameterTolerance = 1e-5)
    {
        float[][] Run(Device device)
        {
            using var scope = Tensor.Scope();
            var gen = new Generator(21);
            var leaves = shapes.Select(s =>
            {
                using var cpu = Tensor.Randn(s, DType.F32, Device.Cpu, gen);
                var t = device == Device.Cpu ? cpu.Clone() : cpu.ToDevice(device);
                t.RequiresGrad = true;
                return t;
            }).ToArray();
            var y = op(leaves);
            using (var g = Tensor.Randn(y.Shape, DType.F32, Device.Cpu, new Generator(22)))
            using (var gy = g.ToDevice(device))
                y.Backward(gy);
            return [y.ToArray<float>(), .. leaves.Select(l => l.Grad!.ToArray<float>())];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Device.Cuda(0));
        for (int k = 0; k < cpu.Length; k++)
        {
            double tol = k <= 1 ? 1e-5 : parameterTolerance;
            string what = k == 0 ? "output" : $"gradient of operand {k - 1}";
            Assert.Equal(cpu[k].Length, gpu[k].Length);
            double norm = k <= 1 ? 0 : cpu[k].Max(v => Math.Abs((double)v));
            for (int i = 0; i < cpu[k].Length; i++)
                if (!(Math.Abs(cpu[k][i] - gpu[k][i]) <= tol * (1 + (k <= 1 ? Math.Abs(cpu[k][i]) : norm))))
                    Assert.Fail($"{name}: {what}: element {i} of {cpu[k].Length} is {gpu[k][i]:R} on the GPU, {cpu[k][i]:R} on the CPU");
        }
    }

    // More than one grid of elements: 17 planes of 1000 x 1000 in and (with a 1x2 window, stride 1) 17 · 1000 · 999 out.
    private static readonly int[] Planes = [1, 17, 1000, 1000];

    [GpuFact(Needs = GpuNeeds.TensorBackend), Trait("Category", "Slow")]
    public void MaxPoolCoversMoreThanOneGrid()
    {
        Assert.True(17L * 1000 * 999 > OneGrid);
        AssertDevicesAgree("max_pool2d", [Planes], x => Functional.MaxPool2d(x[0], (1, 2), stride: 1));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend), Trait("Category", "Slow")]
    public void AvgPoolCoversMoreThanOneGrid() =>
        AssertDevicesAgree("avg_pool2d", [Planes], x => Functional.AvgPool2d(x[0], (1, 2), stride: 1, padding: (0, 1), countIncludePad: false));

    [GpuFact(Needs = GpuNeeds.TensorBackend), Trait("Category", "Slow")]
    public void AdaptiveAvgPoolCoversMoreThanOneGrid() =>
        AssertDevicesAgree("adaptive_avg_pool2d", [Planes], x => Functional.AdaptiveAvgPool2d(x[0], (1000, 999)));

    /// <summary>A 1x2 kernel on 4100 x 4100: the column matrix (2 · 4100 · 4101) and the input gradient's gather (4100²) are more than one grid.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend), Trait("Category", "Slow")]
    public void ConvolutionCoversMoreThanOneGrid()
    {
        Assert.True(4100L * 4100 > OneGrid);
        AssertDevicesAgree("conv2d", [[1, 1, 4100, 4100], [1, 1, 1, 2], [1]], x => Functional.Conv2d(x[0], x[1], x[2], padding: (0, 1)), parameterTolerance: 1e-3);
    }

    /// <summary>One output (input element) per thread of the depthwise kernels over 17 planes of 1000 x 1000.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend), Trait("Category", "Slow")]
    public void DepthwiseConvolutionCoversMoreThanOneGrid() =>
        AssertDevicesAgree("depthwise conv2d", [Planes, [17, 1, 3, 3], [17]], x => Functional.Conv2d(x[0], x[1], x[2], padding: 1, groups: 17), parameterTolerance: 1e-3);

    /// <summary>1000 x 1000 pixels of 17 channels, one element per thread.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend), Trait("Category", "Slow")]
    public void ChannelsLastDepthwiseConvolutionCoversMoreThanOneGrid() =>
        AssertDevicesAgree("depthwise conv2d channels-last", [[1, 1000, 1000, 17], [17, 1, 3, 3], [17]], x => Functional.DepthwiseConv2dChannelsLast(x[0], x[1], x[2]), parameterTolerance: 1e-3);

    /// <summary>The weight gradient's warps, one per (chunk, channel, tap): 60,000 channels of 9 taps and the bias are more than 65,535 × 8 warps.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend), Trait("Category", "Slow")]
    public void DepthwiseWeightGradientCoversMoreWarpsThanOneGrid()
    {
        Assert.True(60_000L * 10 > 65_535L * 8);
        AssertDevicesAgree("depthwise conv2d, many channels", [[1, 60_000, 3, 3], [60_000, 1, 3, 3], [60_000]],
            x => Functional.Conv2d(x[0], x[1], x[2], padding: 1, groups: 60_000));
    }

    /// <summary>More rows than a grid has blocks: the bias rows, the GEMMs and the bias gradient's split column sum.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void LinearOverMoreThan65535Rows() =>
        AssertDevicesAgree("linear", [[70_000, 3], [5, 3], [5]], x => Functional.Linear(x[0], x[1], x[2]));

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void MaxPoolTiesAndNaNMatchTheCpuBitForBit()
    {
        // Ties (the first maximum of the window wins), NaN (it wins and stays), -inf, and overlapping windows
        // whose gradients add up on one input element.
        double nan = double.NaN, inf = double.PositiveInfinity;
        double[] values =
        [
            1, 1, 0, 2, 2, -inf,
            1, 1, nan, 2, 2, -inf,
            0, 3, 3, 0, -inf, -inf,
            3, 3, 0, nan, -inf, -inf,
            5, 5, 5, 5, 5, 5,
        ];
        foreach (var dtype in new[] { DType.F64, DType.F32 })
            foreach (var (kernel, stride, padding, dilation) in new[] { (2, 1, 0, 1), (3, 2, 1, 1), (2, 1, 1, 2), (3, 1, 1, 1) })
            {
                using var scope = Tensor.Scope();
                var cpu = Tensor.FromArray(values, [1, 1, 5, 6]).ToDType(dtype);
                var gpu = cpu.ToDevice(Device.Cuda(0));
                cpu.RequiresGrad = true;
                gpu.RequiresGrad = true;
                var (yc, ic) = Functional.MaxPool2dWithIndices(cpu, kernel, stride, padding, dilation);
                var (yg, ig) = Functional.MaxPool2dWithIndices(gpu, kernel, stride, padding, dilation);
                using var gy = Tensor.Randn(yc.Shape, dtype, Device.Cpu, new Generator(5));
                yc.Backward(gy);
                yg.Backward(gy.ToDevice(Device.Cuda(0)));
                string what = $"{dtype} kernel {kernel} stride {stride} padding {padding} dilation {dilation}";
                Assert.Equal(ic.ToArray<long>(), ig.ToArray<long>());
                ConvPoolTestData.Bitwise(yc.ToArray<double>(), yg.ToArray<double>(), what + " output");
                ConvPoolTestData.Bitwise(cpu.Grad!.ToArray<double>(), gpu.Grad!.ToArray<double>(), what + " gradient");
            }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void BenchCasesOfTheseFamiliesRunOnTheDevice()
    {
        string[] names = ["conv2d_3x3", "conv2d_depthwise_3x3", "conv2d_1x1", "conv2d_patch4", "linear", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"];
        foreach (var name in names)
        {
            var timing = OpsBenchCases.Time(OpsBenchCases.All.Single(c => c.Name == name), DType.F32, repeat: 1, divisor: 1 << 20, warmup: 0, device: Device.Cuda(0));
            Assert.True(timing.ForwardMin >= 0 && timing.BackwardMin >= 0, name);
        }
    }
}
