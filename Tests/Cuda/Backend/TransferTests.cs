using Engine.Backends;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>Device tensors: transfers in both directions for every dtype and layout, copies across devices, the tape across a move, printing.</summary>
public class TransferTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Every_dtype_round_trips_exactly()
    {
        using var scope = Tensor.Scope();
        var f32 = Tensor.FromArray(new[] { 1.5f, -0f, float.NaN, float.PositiveInfinity, float.Epsilon, -3.25e38f }, [2, 3]);
        var f64 = Tensor.FromArray(new[] { Math.PI, -0.0, double.NaN, double.NegativeInfinity, double.Epsilon }, [5]);
        var i64 = Tensor.FromArray(new[] { long.MinValue, (1L << 53) + 1, -1, 0, long.MaxValue }, [5]);
        var b = Tensor.FromArray(new[] { true, false, true }, [3]);
        Assert.Equal(BitsOf(f32.ToArray<float>()), BitsOf(f32.ToDevice(Gpu).ToDevice(Device.Cpu).ToArray<float>()));
        Assert.Equal(f64.ToArray<double>().Select(BitConverter.DoubleToInt64Bits), f64.ToDevice(Gpu).ToArray<double>().Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(i64.ToArray<long>(), i64.ToDevice(Gpu).ToArray<long>());
        Assert.Equal(b.ToArray<bool>(), b.ToDevice(Gpu).ToArray<bool>());
        var g = f32.ToDevice(Gpu);
        Assert.Equal(Gpu, g.Device);
        Assert.Same(g, g.ToDevice(Gpu));
    }

    private static int[] BitsOf(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Views_scalars_and_empty_tensors_move_with_their_values()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Arange(24, DType.F64).Reshape(2, 3, 4);
        var view = x.Permute(2, 0, 1).Slice(0, 1, null, 2);
        Assert.Equal(view.ToArray<double>(), view.ToDevice(Gpu).ToArray<double>());
        var onGpu = x.ToDevice(Gpu);
        var gpuView = onGpu.Permute(2, 0, 1).Slice(0, 1, null, 2);
        Assert.Equal(view.ToArray<double>(), gpuView.ToDevice(Device.Cpu).ToArray<double>());
        Assert.Equal(7.0, Tensor.Scalar(7.0, DType.F64).ToDevice(Gpu).Item());
        var empty = Tensor.Zeros([3, 0, 2], DType.F32, Gpu);
        Assert.Equal([3, 0, 2], empty.ToDevice(Device.Cpu).Shape);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Zeros_full_and_fills_are_written_on_the_device()
    {
        using var scope = Tensor.Scope();
        Assert.All(Tensor.Zeros([1000], DType.F32, Gpu).ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.All(Tensor.Full([3, 5], -(1L << 40) - 3, DType.I64, Gpu).ToArray<long>(), v => Assert.Equal(-(1L << 40) - 3, v));
        Assert.All(Tensor.Ones([7], DType.Bool, Gpu).ToArray<bool>(), Assert.True);
        var x = Tensor.Zeros([4, 6], DType.F64, Gpu);
        using (var column = x.Narrow(1, 2, 1)) column.Fill(2.5);
        var expected = new double[24];
        for (int r = 0; r < 4; r++) expected[r * 6 + 2] = 2.5;
        Assert.Equal(expected, x.ToArray<double>());
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CopyFrom_crosses_devices_in_both_directions_converting_the_dtype()
    {
        using var scope = Tensor.Scope();
        var src = Tensor.FromArray(new double[] { 1.25, -2, 3e10, double.NaN }, [4]);
        var dst = Tensor.Zeros([2, 4], DType.F32, Gpu);
        dst.CopyFrom(src);   // CPU to GPU, broadcast over the rows, F64 to F32
        Assert.Equal(new float[] { 1.25f, -2, 3e10f, float.NaN, 1.25f, -2, 3e10f, float.NaN }, dst.ToArray<float>());
        var back = Tensor.Zeros([2, 4], DType.F64);
        back.CopyFrom(dst);  // GPU to CPU
        Assert.Equal(dst.ToArray<double>(), back.ToArray<double>());
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Dtype_conversions_on_the_device_are_the_cpus()
    {
        using var scope = Tensor.Scope();
        var values = Tensor.FromArray(new double[] { 0, -0.0, 1.5, -2.5, 1e300, -1e300, double.NaN, double.PositiveInfinity, 9.3e18, (1L << 53) + 2 }, [10]);
        foreach (var from in new[] { DType.F32, DType.F64, DType.I64, DType.Bool })
            foreach (var to in new[] { DType.F32, DType.F64, DType.I64, DType.Bool })
            {
                var cpu = values.ToDType(from).ToDType(to);
                var gpu = values.ToDType(from).ToDevice(Gpu).ToDType(to);
                Assert.True(cpu.ToArray<double>().Zip(gpu.ToArray<double>()).All(p => p.First.Equals(p.Second)),
                    $"{from.TorchName()} to {to.TorchName()}: CPU [{string.Join(", ", cpu.ToArray<double>())}], GPU [{string.Join(", ", gpu.ToArray<double>())}]");
            }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_move_is_recorded_on_the_tape_so_the_gradient_goes_back_to_the_source_device()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }).RequiresGradInPlace();
        var y = (x.ToDevice(Gpu) * 2.0).Pow(2).Sum();
        Assert.Equal(Gpu, y.Device);
        y.Backward();
        Assert.Equal(Device.Cpu, x.Grad!.Device);
        Assert.Equal(new double[] { 8, 16, 24 }, x.Grad.ToArray<double>());
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Printing_names_the_device()
    {
        using var scope = Tensor.Scope();
        Assert.EndsWith("dtype=torch.float64, device=cuda:0)", Tensor.FromArray(new double[] { 1, 2 }).ToDevice(Gpu).ToString());
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Devices_Use_makes_a_scoped_default_device()
    {
        using var scope = Tensor.Scope();
        Assert.Equal(Device.Cpu, Tensor.Zeros([2]).Device);
        using (Devices.Use(Gpu))
        {
            Assert.Equal(Gpu, Tensor.Zeros([2]).Device);
            Assert.Equal(Gpu, Tensor.Rand([2]).Device);
            using (Devices.Use(Device.Cpu)) Assert.Equal(Device.Cpu, Tensor.Ones([1]).Device);
            Assert.Equal(Gpu, Tensor.Arange(3).Device);
        }
        Assert.Equal(Device.Cpu, Tensor.Zeros([2]).Device);
        Assert.Equal(Gpu, Devices.Parse("auto"));
        Assert.Throws<ArgumentException>(() => Devices.Parse("cuda:7"));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Random_fills_are_the_cpus_uniform_and_integers_bit_for_bit_normal_within_an_ulp()
    {
        using var scope = Tensor.Scope();
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            var cpu = Tensor.Rand([1001], dtype, Device.Cpu, new Generator(5)).ToArray<double>();
            var gpu = Tensor.Rand([1001], dtype, Gpu, new Generator(5)).ToArray<double>();
            Assert.Equal(cpu, gpu);
            var ncpu = Tensor.Randn([1001], dtype, Device.Cpu, new Generator(6)).ToArray<double>();
            var ngpu = Tensor.Randn([1001], dtype, Gpu, new Generator(6)).ToArray<double>();
            for (int i = 0; i < ncpu.Length; i++)
                Assert.True(Math.Abs(ncpu[i] - ngpu[i]) <= (dtype == DType.F32 ? 1e-6 : 1e-14) * (1 + Math.Abs(ncpu[i])), $"normal {dtype} element {i}: {ngpu[i]} vs {ncpu[i]}");
        }
        Assert.Equal(Tensor.RandInt(-5, long.MaxValue, [999], generator: new Generator(7)).ToArray<long>(),
            Tensor.RandInt(-5, long.MaxValue, [999], device: Gpu, generator: new Generator(7)).ToArray<long>());
        // The generator advances the same way on both devices: the next draws agree too.
        var gc = new Generator(8); var gg = new Generator(8);
        Tensor.Rand([10], DType.F32, Device.Cpu, gc); Tensor.Rand([10], DType.F32, Gpu, gg);
        Assert.Equal(Tensor.Rand([3], DType.F64, Device.Cpu, gc).ToArray<double>(), Tensor.Rand([3], DType.F64, Gpu, gg).ToArray<double>());
    }
}
