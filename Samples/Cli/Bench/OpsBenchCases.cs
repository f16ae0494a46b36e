using Engine.Backends;
using Engine.Ops;
using Engine.Randomness;
using static Engine.Ops.Functional;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// One operator call on fixed inputs: the leaves that need gradients, the forward itself, and other
/// tensors the forward reads (targets, running statistics), disposed with the leaves.
/// </summary>
internal sealed record OpsBenchSetup(Tensor[] Leaves, Func<Tensor> Forward, Tensor[]? Buffers = null)
{
    public void Dispose()
    {
        foreach (var t in Leaves) t.Dispose();
        foreach (var t in Buffers ?? []) t.Dispose();
    }
}

/// <summary>A named benchmark case; <c>Build</c> makes its inputs (seeded) for a dtype, a size divisor and a device.</summary>
internal sealed record OpsBenchCase(string Name, Func<DType, int, Device, OpsBenchSetup> Build);

/// <summary>Median and minimum over the timed runs, in milliseconds, for the forward and the backward.</summary>
internal sealed record OpsBenchTiming(double ForwardMedian, double ForwardMin, double BackwardMedian, double BackwardMin);

/// <summary>
/// The cases of <c>engine bench ops</c>, with the same names and shapes as Samples/bench/ops_torch.py.
/// The size divisor only exists so that a test can run every case in milliseconds; it shrinks batch and
/// flat sizes, never channels (groups depend on them).
/// </summary>
internal static class OpsBenchCases
{
    public static IReadOnlyList<OpsBenchCase> All { get; } =
    [
        new("add", (t, s, d) => Setup(t, d, 1, [D(1024, s), 1024], [D(1024, s), 1024], xs => xs[0] + xs[1])),
        new("sub", (t, s, d) => Setup(t, d, 29, [D(1024, s), 1024], [D(1024, s), 1024], xs => xs[0] - xs[1])),
        new("mul", (t, s, d) => Setup(t, d, 30, [D(1024, s), 1024], [D(1024, s), 1024], xs => xs[0] * xs[1])),
        new("div", (t, s, d) => Setup(t, d, 31, [D(1024, s), 1024], [D(1024, s), 1024], xs => xs[0] / xs[1])),
        new("matmul", (t, s, d) => Setup(t, d, 2, [D(512, s), D(512, s)], [D(512, s), D(512, s)], xs => xs[0].MatMul(xs[1]))),
        new("conv2d_3x3", (t, s, d) => Setup(t, d, 3, [D(32, s), 64, 32, 32], [64, 64, 3, 3], xs => Conv2d(xs[0], xs[1], padding: 1))),
        new("conv2d_depthwise_3x3", (t, s, d) => Setup(t, d, 4, [D(32, s), 128, 16, 16], [128, 1, 3, 3], xs => Conv2d(xs[0], xs[1], padding: 1, groups: 128))),
        new("conv2d_1x1", (t, s, d) => Setup(t, d, 5, [D(32, s), 128, 16, 16], [256, 128, 1, 1], xs => Conv2d(xs[0], xs[1]))),
        new("conv2d_patch4", (t, s, d) => Setup(t, d, 6, [D(32, s), 3, 64, 64], [96, 3, 4, 4], xs => Conv2d(xs[0], xs[1], stride: 4))),
        new("linear", (t, s, d) => Setup(t, d, 7, [D(4096, s), 512], [512, 512], [512], xs => Linear(xs[0], xs[1], xs[2]))),
        new("layer_norm", (t, s, d) => Setup(t, d, 8, [D(8192, s), 256], [256], [256], xs => LayerNorm(xs[0], [256], xs[1], xs[2]))),
        new("layer_norm2d", (t, s, d) => Setup(t, d, 9, [D(32, s), 64, 16, 16], [64], [64], xs => LayerNorm2d(xs[0], xs[1], xs[2]))),
        new("batch_norm2d_train", BatchNormTrain),
        new("group_norm", (t, s, d) => Setup(t, d, 11, [D(32, s), 64, 32, 32], [64], [64], xs => GroupNorm(xs[0], 8, xs[1], xs[2]))),
        new("gelu", (t, s, d) => Setup(t, d, 12, [D(4 << 20, s)], xs => Gelu(xs[0]))),
        new("silu", (t, s, d) => Setup(t, d, 13, [D(4 << 20, s)], xs => Silu(xs[0]))),
        new("softmax", (t, s, d) => Setup(t, d, 14, [D(4096, s), 1000], xs => Softmax(xs[0], -1))),
        new("log_softmax", (t, s, d) => Setup(t, d, 15, [D(4096, s), 1000], xs => LogSoftmax(xs[0], -1))),
        new("cross_entropy", CrossEntropyCase),
        new("max_pool2d", (t, s, d) => Setup(t, d, 17, [D(32, s), 64, 32, 32], xs => MaxPool2d(xs[0], 3, 2, 1))),
        new("avg_pool2d", (t, s, d) => Setup(t, d, 18, [D(32, s), 64, 32, 32], xs => AvgPool2d(xs[0], 2, 2))),
        new("adaptive_avg_pool2d", (t, s, d) => Setup(t, d, 19, [D(32, s), 64, 32, 32], xs => AdaptiveAvgPool2d(xs[0], 7))),
        new("interpolate_bilinear", (t, s, d) => Setup(t, d, 20, [D(32, s), 64, 16, 16], xs => Interpolate(xs[0], [32, 32], mode: "bilinear", alignCorners: false))),
        new("interpolate_bicubic", (t, s, d) => Setup(t, d, 21, [D(32, s), 64, 16, 16], xs => Interpolate(xs[0], [32, 32], mode: "bicubic", alignCorners: false))),
        new("dropout", DropoutCase),
        new("sum_dim1", (t, s, d) => Setup(t, d, 23, [D(4096, s), 1024], xs => xs[0].Sum(1))),
        // Dual-ViT's stage-1 pixel-to-semantic cross-attention (CUDA: the unfused path), and a self-attention long
        // enough for CUDA's fused path (1024 x 1024 logits per head).
        new("sdpa_cross", (t, s, d) => Setup(t, d, 24, [D(32, s), 1, 3136, 64], [D(32, s), 1, 64, 64], [D(32, s), 1, 64, 64], xs => ScaledDotProductAttention(xs[0], xs[1], xs[2]))),
        new("sdpa_self_1024", (t, s, d) => Setup(t, d, 25, [D(2, s), 4, 1024, 64], [D(2, s), 4, 1024, 64], [D(2, s), 4, 1024, 64], xs => ScaledDotProductAttention(xs[0], xs[1], xs[2]))),
        new("rfft2", (t, s, d) => Setup(t, d, 26, [D(32, s), 64, 32, 32], xs => Rfft2(xs[0], "ortho"))),
        new("irfft2", (t, s, d) => Setup(t, d, 27, [D(32, s), 64, 32, 17, 2], xs => Irfft2(xs[0], [32, 32], "ortho"))),
        new("bilstm2d", BiLstm2dCase),
    ];

    /// <summary>Sequencer2D-S's first token mixer at 224 pixels: two BiLSTMs (C 192, hidden 48) over a 32x32 grid.</summary>
    private static OpsBenchSetup BiLstm2dCase(DType dtype, int divisor, Device device)
    {
        int[][] direction = [[192, 192], [192, 48], [192], [192]];
        return Setup(dtype, device, 28, [[D(8, divisor), 32, 32, 192], .. Enumerable.Repeat(direction, 4).SelectMany(w => w)],
            xs => Lstm2d(xs[0], xs[1..9], xs[9..]));
    }

    /// <summary>Divides a batch or flat size by the test's divisor, keeping at least 1.</summary>
    private static int D(int size, int divisor) => Math.Max(1, size / divisor);

    private static OpsBenchSetup Setup(DType dtype, Device device, ulong seed, int[] shape, Func<Tensor[], Tensor> forward) =>
        Setup(dtype, device, seed, [shape], forward);

    private static OpsBenchSetup Setup(DType dtype, Device device, ulong seed, int[] a, int[] b, Func<Tensor[], Tensor> forward) =>
        Setup(dtype, device, seed, [a, b], forward);

    private static OpsBenchSetup Setup(DType dtype, Device device, ulong seed, int[] a, int[] b, int[] c, Func<Tensor[], Tensor> forward) =>
        Setup(dtype, device, seed, [a, b, c], forward);

    /// <summary>Standard normal leaves that require gradients, all drawn from one seeded generator.</summary>
    private static OpsBenchSetup Setup(DType dtype, Device device, ulong seed, int[][] shapes, Func<Tensor[], Tensor> forward)
    {
        var generator = new Generator(seed);
        var leaves = shapes.Select(shape => Leaf(On(device, Tensor.Randn(shape, dtype, Device.Cpu, generator)))).ToArray();
        return new OpsBenchSetup(leaves, () => forward(leaves));
    }

    private static Tensor Leaf(Tensor t)
    {
        t.RequiresGrad = true;
        return t.DetachFromScope();
    }

    /// <summary>
    /// A tensor made on the CPU, moved to <paramref name="device"/> (and the CPU copy released). Inputs are
    /// drawn on the CPU on every device, so that both devices time the same numbers.
    /// </summary>
    private static Tensor On(Device device, Tensor cpu)
    {
        if (device == Device.Cpu) return cpu;
        using (cpu) return cpu.ToDevice(device);
    }

    private static OpsBenchSetup BatchNormTrain(DType dtype, int divisor, Device device)
    {
        var setup = Setup(dtype, device, 10, [D(64, divisor), 64, 32, 32], [64], [64], _ => null!);
        var runningMean = Tensor.Zeros([64], dtype, device).DetachFromScope();
        var runningVar = Tensor.Ones([64], dtype, device).DetachFromScope();
        var xs = setup.Leaves;
        return setup with { Forward = () => BatchNorm2d(xs[0], runningMean, runningVar, xs[1], xs[2], training: true), Buffers = [runningMean, runningVar] };
    }

    private static OpsBenchSetup CrossEntropyCase(DType dtype, int divisor, Device device)
    {
        int n = D(4096, divisor);
        var setup = Setup(dtype, device, 16, [n, 1000], _ => null!);
        var target = On(device, Tensor.RandInt(0, 1000, [n], DType.I64, Device.Cpu, new Generator(116))).DetachFromScope();
        var logits = setup.Leaves[0];
        return setup with { Forward = () => CrossEntropy(logits, target, labelSmoothing: 0.1), Buffers = [target] };
    }

    private static OpsBenchSetup DropoutCase(DType dtype, int divisor, Device device)
    {
        var setup = Setup(dtype, device, 22, [D(4 << 20, divisor)], _ => null!);
        var masks = new Generator(122);
        var x = setup.Leaves[0];
        return setup with { Forward = () => Dropout(x, 0.1, training: true, generator: masks) };
    }

    /// <summary>
    /// Times one case: <paramref name="warmup"/> warm-up runs, then <paramref name="repeat"/> runs, each in its own scope, of the
    /// forward and then of <c>y.Backward(g)</c> for a fixed random g of y's shape. Gradients are dropped
    /// between runs (outside the timed region), so every backward allocates them afresh, as PyTorch's does
    /// with <c>grad = None</c>. Times are on the device's clock: CUDA events on a GPU, a stopwatch on the CPU.
    /// </summary>
    public static OpsBenchTiming Time(OpsBenchCase benchCase, DType dtype, int repeat, int divisor = 1, int warmup = 2, Device? device = null)
    {
        var on = device ?? Device.Cpu;
        var setup = benchCase.Build(dtype, divisor, on);
        Tensor? gradient = null;
        var forward = new double[repeat];
        var backward = new double[repeat];
        try
        {
            for (int run = -warmup; run < repeat; run++)
            {
                using var scope = Tensor.Scope();
                double f, b;
                Tensor y;
                using (var timer = Devices.StartTimer(on))
                {
                    y = setup.Forward();
                    f = timer.Stop();
                }
                gradient ??= On(on, Tensor.Randn(y.Layout.Shape, dtype, Device.Cpu, new Generator(999))).DetachFromScope();
                using (var timer = Devices.StartTimer(on))
                {
                    y.Backward(gradient);
                    b = timer.Stop();
                }
                foreach (var leaf in setup.Leaves) leaf.ZeroGrad();
                if (run < 0) continue;
                forward[run] = f;
                backward[run] = b;
            }
        }
        finally
        {
            gradient?.Dispose();
            setup.Dispose();
        }
        Array.Sort(forward);
        Array.Sort(backward);
        return new OpsBenchTiming(forward[repeat / 2], forward[0], backward[repeat / 2], backward[0]);
    }
}
