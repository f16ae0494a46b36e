using Engine.Models.Nn;
using Engine.Models.Optim;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>Module.ToDevice and Optimizer.ToDevice: everything moves in place, so every handle stays valid.</summary>
public class ModuleToDeviceTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    /// <summary>A layer made of core operations only (the operator families' CUDA kernels are another issue's).</summary>
    private sealed class Affine : Module<Tensor, Tensor>
    {
        public Affine()
        {
            RegisterParameter("weight", Tensor.Randn([2, 3], DType.F64, generator: new Generator(3)));
            RegisterParameter("bias", Tensor.Randn([2], DType.F64, generator: new Generator(4)));
        }

        public override Tensor Forward(Tensor x) => x.MatMul(GetParameter("weight")!.Transpose(0, 1)) + GetParameter("bias")!;
    }

    private sealed class Net : Module<Tensor, Tensor>
    {
        public readonly Affine Layer;
        public readonly Tensor Counter;

        public Net()
        {
            Layer = RegisterModule("layer", new Affine());
            Counter = RegisterBuffer("counter", Tensor.Full([1], 4, DType.I64))!;
        }

        public override Tensor Forward(Tensor x) => Layer.Call(x).Tanh().Sum();
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Parameters_gradients_buffers_and_optimizer_state_move_in_place_and_back()
    {
        using var scope = Tensor.Scope();
        using var net = new Net();
        var x = Tensor.Randn([4, 3], DType.F64, generator: new Generator(4));
        using var optimizer = new AdamW(net.Parameters(), lr: 0.1);
        net.Call(x).Backward();
        optimizer.Step();                                   // creates the moments on the CPU
        var handles = net.Parameters().ToArray();
        var weights = handles.Select(p => p.ToArray<double>()).ToArray();
        var grads = handles.Select(p => p.Grad!.ToArray<double>()).ToArray();

        net.ToDevice(Gpu);
        optimizer.ToDevice(Gpu);

        Assert.Equal(handles, net.Parameters());            // the same objects
        for (int i = 0; i < handles.Length; i++)
        {
            Assert.Equal(Gpu, handles[i].Device);
            Assert.True(handles[i].RequiresGrad);
            Assert.Equal(weights[i], handles[i].ToArray<double>());
            Assert.Equal(Gpu, handles[i].Grad!.Device);
            Assert.Equal(grads[i], handles[i].Grad!.ToArray<double>());
        }
        Assert.Same(net.Counter, net.NamedBuffers().Single().Buffer);
        Assert.Equal(Gpu, net.Counter.Device);
        Assert.Equal(4, net.Counter.Item());

        // A step on the GPU with the moved state equals the same step on the CPU.
        using var cpuNet = new Net();
        using var cpuOptimizer = new AdamW(cpuNet.Parameters(), lr: 0.1);
        cpuNet.Call(x).Backward();
        cpuOptimizer.Step();
        optimizer.ZeroGrad();
        cpuOptimizer.ZeroGrad();
        net.Call(x.ToDevice(Gpu)).Backward();
        cpuNet.Call(x).Backward();
        optimizer.Step();                                   // AdamW's tensor path (the fused kernels are CPU-only), on the device
        cpuOptimizer.Step();
        foreach (var (moved, stayed) in net.Parameters().Zip(cpuNet.Parameters()))
            AssertNear(stayed.ToArray<double>(), moved.ToArray<double>());
        net.ToDevice(Device.Cpu);
        optimizer.ToDevice(Device.Cpu);
        Assert.All(net.Parameters(), p => Assert.Equal(Device.Cpu, p.Device));
        optimizer.Step();                                   // and back on the CPU, with the moments that came back
        cpuOptimizer.Step();
        foreach (var (moved, stayed) in net.Parameters().Zip(cpuNet.Parameters()))
            AssertNear(stayed.ToArray<double>(), moved.ToArray<double>());
    }

    private static void AssertNear(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]:R} vs {expected[i]:R}");
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void ToDType_converts_in_place_too()
    {
        using var scope = Tensor.Scope();
        using var net = new Net();
        var weight = net.Layer.Parameters().First();
        net.ToDType(DType.F32).ToDevice(Gpu);
        Assert.Same(weight, net.Layer.Parameters().First());
        Assert.Equal(DType.F32, weight.DType);
        Assert.Equal(DType.I64, net.Counter.DType);          // integer buffers keep their dtype
        var y = net.Call(Tensor.Ones([2, 3], DType.F32, Gpu));
        Assert.Equal(Gpu, y.Device);
    }
}
