using Engine.Cuda.Native;
using Engine.Models.Optim;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// The optimizers' CUDA kernels (Models/Optim/Optim.cu) against the CPU's fused kernels: the same parameters,
/// the same gradients, 10 steps, every parameter and every state tensor compared (F64 to 1e-12, F32 to 1e-6
/// relative). The parameter list mixes shapes (a scalar, an empty tensor, a 20,000-element vector, ...) and has
/// more tensors than one launch takes, plus a strided parameter (the tensor-op path) and a strided gradient (a
/// contiguous copy). Run on the CUDA emulator here.
/// </summary>
public class OptimizerGpuTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    private static readonly int[][] Shapes = [[4, 3], [5], [], [7, 1, 3], [0], [2, 50], [20000], [1]];

    /// <summary>More parameters than a launch table holds (48), so a step takes two launches per dtype.</summary>
    private const int Count = 52;

    public static TheoryData<string> Configurations() =>
    [
        "adamw", "adamw-amsgrad-maximize", "adamw-f32", "sgd-momentum-dampening", "sgd-nesterov-maximize", "sgd-plain", "sgd-f32",
    ];

    private static Optimizer Create(string name, IReadOnlyList<Tensor> ps)
    {
        // Two groups with their own options, so a step launches per group.
        ParamGroup[] groups = [new ParamGroup(ps.Take(ps.Count - 3)), new ParamGroup(ps.Skip(ps.Count - 3), lr: 0.07, weightDecay: 0)];
        return name switch
        {
            "adamw" or "adamw-f32" => new AdamW(groups, lr: 0.01, betas: (0.8, 0.95), eps: 1e-6, weightDecay: 0.1),
            "adamw-amsgrad-maximize" => new AdamW(groups, lr: 0.02, weightDecay: 0.05, amsgrad: true, maximize: true),
            "sgd-momentum-dampening" or "sgd-f32" => new Sgd(groups, lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3),
            "sgd-nesterov-maximize" => new Sgd(groups, lr: 0.05, momentum: 0.8, weightDecay: 1e-2, nesterov: true, maximize: true),
            "sgd-plain" => new Sgd(groups, lr: 0.3),
            _ => throw new ArgumentException(name),
        };
    }

    private static DType DTypeOf(string name) => name.EndsWith("-f32", StringComparison.Ordinal) ? DType.F32 : DType.F64;

    /// <summary>The same parameters on <paramref name="device"/>: <see cref="Count"/> contiguous ones, then a transposed (strided) one.</summary>
    internal static List<Tensor> Params(Device device, DType dtype)
    {
        var g = new Generator(11);
        var ps = new List<Tensor>();
        for (int i = 0; i < Count; i++) ps.Add(Tensor.Randn(Shapes[i % Shapes.Length], DType.F64, generator: g).ToDType(dtype).ToDevice(device).RequiresGradInPlace());
        ps.Add(Tensor.Randn([3, 4], DType.F64, generator: g).ToDType(dtype).ToDevice(device).Transpose(0, 1).RequiresGradInPlace());
        return ps;
    }

    /// <summary>The gradients of step <paramref name="step"/>, drawn on the CPU; the gradient of parameter 1 ([5]) is a strided view.</summary>
    internal static void SetGrads(List<Tensor> ps, int step, double scale = 1)
    {
        using var scope = Tensor.Scope();                   // gradients leave it when assigned
        var g = new Generator(1000 + (ulong)step);
        foreach (var p in ps) p.Grad = Tensor.Randn(p.Shape, DType.F64, generator: g).Mul(scale).ToDType(p.DType).ToDevice(p.Device);
        var wide = Tensor.Randn([5, 2], DType.F64, generator: g).ToDType(ps[1].DType).ToDevice(ps[1].Device);
        ps[1].Grad = wide.Select(1, 0);                     // stride 2: not contiguous
    }

    internal static void AssertClose(Tensor expected, Tensor actual, DType dtype, string what)
    {
        double tol = dtype == DType.F64 ? 1e-12 : 1e-6;
        var e = expected.ToDType(DType.F64).ToArray<double>();
        var a = actual.ToDType(DType.F64).ToArray<double>();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])) || (double.IsNaN(e[i]) && double.IsNaN(a[i])),
                $"{what}, element {i}: GPU {a[i]:R}, CPU {e[i]:R}");
    }

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [MemberData(nameof(Configurations))]
    public void Ten_steps_on_the_GPU_equal_the_CPU(string name)
    {
        using var scope = Tensor.Scope();
        var dtype = DTypeOf(name);
        var cpu = Params(Device.Cpu, dtype);
        var gpu = Params(Gpu, dtype);
        using var cpuOptimizer = Create(name, cpu);
        using var gpuOptimizer = Create(name, gpu);
        for (int step = 0; step < 10; step++)
        {
            SetGrads(cpu, step);
            SetGrads(gpu, step);
            cpuOptimizer.Step();
            gpuOptimizer.Step();
        }
        for (int i = 0; i < cpu.Count; i++) AssertClose(cpu[i], gpu[i], dtype, $"{name}: parameter {i} {Layout.Format(cpu[i].Shape)}");
        var cpuState = cpuOptimizer.StateDict();
        var gpuState = gpuOptimizer.StateDict();
        Assert.Equal(cpuState.State.Keys, gpuState.State.Keys);
        foreach (var (index, entries) in cpuState.State)
            foreach (var (key, t) in entries)
            {
                if (key != "step") Assert.Equal(Gpu, gpuState.State[index][key].Device);
                AssertClose(t, gpuState.State[index][key], dtype, $"{name}: state {key} of parameter {index}");
            }
    }

    /// <summary>Clipping folded into the step (the scale computed and applied on the device) equals clipping in place and stepping on the CPU.</summary>
    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData("adamw")]
    [InlineData("sgd-momentum-dampening")]
    public void Clipping_folded_into_the_step_equals_clip_then_step_on_the_CPU(string name)
    {
        using var scope = Tensor.Scope();
        var cpu = Params(Device.Cpu, DType.F64);
        var gpu = Params(Gpu, DType.F64);
        using var cpuOptimizer = Create(name, cpu);
        using var gpuOptimizer = Create(name, gpu);
        const double maxNorm = 150;                          // the gradients' norm is about 150 · scale: clipped on some steps only
        for (int step = 0; step < 10; step++)
        {
            double scale = 0.5 + 0.15 * step;
            SetGrads(cpu, step, scale);
            SetGrads(gpu, step, scale);
            using var cpuNorm = GradientClipping.ClipGradNorm(cpu, maxNorm);
            cpuOptimizer.Step();
            using var clip = GradientClipping.ComputeScale(gpu, maxNorm);
            gpuOptimizer.Step(clip.Scale);
            Assert.Equal(Gpu, clip.TotalNorm.Device);
            AssertClose(cpuNorm, clip.TotalNorm, DType.F64, $"step {step}: total norm");
        }
        for (int i = 0; i < cpu.Count; i++) AssertClose(cpu[i], gpu[i], DType.F64, $"{name}: parameter {i}");
    }

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(2.0)]
    [InlineData(1.0)]
    [InlineData(3.0)]
    [InlineData(double.PositiveInfinity)]
    public void Clipping_in_place_on_the_GPU_equals_the_CPU(double p)
    {
        using var scope = Tensor.Scope();
        var cpu = Params(Device.Cpu, DType.F64);
        var gpu = Params(Gpu, DType.F64);
        SetGrads(cpu, 3);
        SetGrads(gpu, 3);
        using var cpuNorm = GradientClipping.ClipGradNorm(cpu, maxNorm: 2.0, normType: p);
        using var gpuNorm = GradientClipping.ClipGradNorm(gpu, maxNorm: 2.0, normType: p);
        Assert.Equal(Gpu, gpuNorm.Device);
        AssertClose(cpuNorm, gpuNorm, DType.F64, $"p = {p}: norm");
        for (int i = 0; i < cpu.Count; i++) AssertClose(cpu[i].Grad!, gpu[i].Grad!, DType.F64, $"p = {p}: clipped gradient {i}");
    }

    /// <summary>The norm's order is fixed by the shapes: the same gradients give the same bits, across mixed dtypes, many tables and multi-chunk tensors; NaN propagates.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void The_device_norm_is_deterministic_handles_mixed_dtypes_and_propagates_NaN()
    {
        using var scope = Tensor.Scope();
        // Every third parameter in float32 on both devices: the launch tables are runs of one dtype.
        List<Tensor> Mixed(Device device) => Params(device, DType.F64).Zip(Params(device, DType.F32), (f64, f32) => (f64, f32))
            .Select((pair, i) => i % 3 == 0 ? pair.f32 : pair.f64).ToList();
        var cpu = Mixed(Device.Cpu);
        var gpu = Mixed(Gpu);
        SetGrads(cpu, 5);
        SetGrads(gpu, 5);
        using var first = GradientClipping.ComputeScale(gpu, 1.0);
        using var second = GradientClipping.ComputeScale(gpu, 1.0);
        Assert.Equal(BitConverter.DoubleToInt64Bits(first.TotalNorm.Item()), BitConverter.DoubleToInt64Bits(second.TotalNorm.Item()));
        using var expected = GradientClipping.ComputeScale(cpu, 1.0);
        AssertClose(expected.TotalNorm, first.TotalNorm, DType.F64, "norm over mixed dtypes");
        AssertClose(expected.Scale, first.Scale, DType.F64, "scale");

        using (var nan = Tensor.Full([3], double.NaN, DType.F64, Gpu)) gpu[2].Grad!.CopyFrom(nan.Narrow(0, 0, 1).Reshape([]));
        using var withNaN = GradientClipping.ComputeScale(gpu, 1.0, normType: double.PositiveInfinity);
        Assert.True(double.IsNaN(withNaN.TotalNorm.Item()));
        Assert.True(double.IsNaN(withNaN.Scale.Item()));
        Assert.Throws<InvalidOperationException>(() => GradientClipping.ClipGradNorm(gpu, 1.0, errorIfNonfinite: true));
    }

    /// <summary>Computing the clipping scale and stepping with it waits for nothing: no gradient, norm or scale is read back.</summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Clipping_and_the_step_on_the_GPU_read_nothing_back()
    {
        using var scope = Tensor.Scope();
        var gpu = Params(Gpu, DType.F64).Take(Count).ToList();   // contiguous ones: no tensor-op path
        using var optimizer = Create("adamw", gpu);
        SetGrads(gpu, 0);
        long before = Driver.HostWaitsOnThisThread;
        for (int step = 0; step < 3; step++)
        {
            using var clip = GradientClipping.ComputeScale(gpu, 1.0);
            optimizer.Step(clip.Scale);
            optimizer.ZeroGrad();
        }
        Assert.Equal(before, Driver.HostWaitsOnThisThread);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Ema_on_the_GPU_equals_the_CPU_over_ten_updates()
    {
        using var scope = Tensor.Scope();
        var cpu = Params(Device.Cpu, DType.F64).Take(Count).Append(Tensor.Full([2], 3, DType.I64)).ToList();
        var gpu = Params(Gpu, DType.F64).Take(Count).Append(Tensor.Full([2], 3, DType.I64, Gpu)).ToList();
        var warmup = new EmaWarmup(Gamma: 1, Power: 0.75, UpdateAfterStep: 1);
        using var cpuEma = new Ema(cpu, decay: 0.99, warmup);
        using var gpuEma = new Ema(gpu, decay: 0.99, warmup);
        for (int step = 1; step <= 10; step++)
        {
            SetGrads(cpu.Take(Count).ToList(), step);
            SetGrads(gpu.Take(Count).ToList(), step);
            using (Engine.Autograd.Tape.NoGrad())
                for (int i = 0; i < Count; i++)
                {
                    cpu[i].AddInPlace(cpu[i].Grad!, -0.1);
                    gpu[i].AddInPlace(gpu[i].Grad!, -0.1);
                }
            cpu[^1].CopyFrom(Tensor.Full([2], 3 + step, DType.I64));          // an integer buffer: copied, not averaged
            gpu[^1].CopyFrom(Tensor.Full([2], 3 + step, DType.I64, Gpu));
            cpuEma.Update(step);
            gpuEma.Update(step);
        }
        foreach (var (name, average) in cpuEma.Values)
        {
            Assert.Equal(Gpu, gpuEma.Values[name].Device);
            AssertClose(average, gpuEma.Values[name], DType.F64, $"average {name}");
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Ema_moves_to_the_device_in_place()
    {
        using var scope = Tensor.Scope();
        var weight = Tensor.Randn([3, 2], DType.F64, generator: new Generator(5));
        using var ema = new Ema([weight], decay: 0.5);
        var handle = ema.Values["0"];
        using var moved = weight.ToDevice(Gpu);
        weight.SetData(moved);
        ema.ToDevice(Gpu);
        Assert.Same(handle, ema.Values["0"]);
        ema.Update();
        Assert.Equal(Gpu, handle.Device);
        AssertClose(weight, handle, DType.F64, "an average of the same weights");
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_scale_is_refused_by_an_optimizer_that_does_not_apply_it_and_must_be_one_value()
    {
        using var scope = Tensor.Scope();
        var p = Tensor.Randn([3], DType.F64, Gpu).RequiresGradInPlace();
        p.Grad = Tensor.Ones([3], DType.F64, Gpu);
        using var sgd = new Sgd([p], lr: 0.1);
        Assert.Contains("one floating-point value", Assert.Throws<ArgumentException>(() => sgd.Step(Tensor.Ones([2], DType.F64, Gpu))).Message);
        Assert.Contains("one floating-point value", Assert.Throws<ArgumentException>(() => sgd.Step(Tensor.Ones([], DType.I64, Gpu))).Message);
        using var plain = new NoScaleOptimizer([p]);
        Assert.Contains("does not take a gradient scale", Assert.Throws<NotSupportedException>(() => plain.Step(Tensor.Ones([], DType.F64, Gpu))).Message);
    }

    private sealed class NoScaleOptimizer(IEnumerable<Tensor> ps) : Optimizer([new ParamGroup(ps)], new Dictionary<string, object> { ["lr"] = 0.1 })
    {
        public override string Kind => "Plain";
        protected override void Validate(ParamGroup group) { }
        protected override void StepGroup(ParamGroup group) { }
        protected override IEnumerable<Tensor> StateTensors() => [];
        protected override Dictionary<string, Tensor>? SaveParamState(Tensor param) => null;
        protected override void LoadParamState(Tensor param, ParamGroup group, int index, IReadOnlyDictionary<string, Tensor> state) { }
        protected override void ClearParamState(Tensor param) { }
    }
}

/// <summary>Launch counts, read from the emulator's process-wide counters (so alone in the serial collection).</summary>
[Collection(SerialCollection.Name)]
public class OptimizerLaunchTests
{
    /// <summary>52 parameters of one dtype in one group: an AdamW step is 2 launches (tables of 48), not 52 or 52 × 13.</summary>
    [GpuFact(Needs = GpuNeeds.Emulator)]
    public void A_step_updates_many_tensors_per_launch()
    {
        using var scope = Tensor.Scope();
        var gpu = OptimizerGpuTests.Params(Device.Cuda(0), DType.F64).Take(52).ToList();
        using var optimizer = new AdamW(gpu, lr: 0.01);
        OptimizerGpuTests.SetGrads(gpu, 0);
        gpu[1].Grad = gpu[1].Grad!.Contiguous();
        optimizer.Step();                                   // compiles the unit: its launches are not counted below
        long before = (long)Engine.Tests.CudaEmulator.Emu.Stats().Launches;
        optimizer.Step();
        Assert.Equal(2, (long)Engine.Tests.CudaEmulator.Emu.Stats().Launches - before);
        using var sgd = new Sgd(gpu, lr: 0.1, momentum: 0.9);
        sgd.Step();
        before = (long)Engine.Tests.CudaEmulator.Emu.Stats().Launches;
        sgd.Step();
        Assert.Equal(2, (long)Engine.Tests.CudaEmulator.Emu.Stats().Launches - before);
    }
}
