using Engine.Backends;
using Engine.Ops;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The spectral family on CUDA beyond the parity properties: kernels that loop over more tiles or warps than one
/// grid holds, views that cuFFT cannot take as they are, the weight gradients' fixed order, and the per-device
/// constants. Run on the CUDA emulator where there is no GPU (the alignment and determinism checks only bite
/// on a real GPU: the emulator neither requires aligned cuFFT pointers nor runs threads concurrently).
/// </summary>
public class SpectralGpuTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    private static void AssertNear(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"{what}: element {i} is {actual[i]:R}, the CPU gives {expected[i]:R}");
    }

    private static double[] Host(Tensor t) => t.ToDevice(Device.Cpu).ToDType(DType.F64).ToArray<double>();

    /// <summary>Output and input gradient of <paramref name="op"/> on one device, from the same data and upstream gradient.</summary>
    private static (double[] Y, double[] Grad) Run(Tensor data, Device device, Func<Tensor, Tensor> op)
    {
        var x = data.ToDevice(device).Clone().RequiresGradInPlace();
        var y = op(x);
        y.Backward(Tensor.Randn(y.Shape, y.DType, Device.Cpu, new Generator(5)).ToDevice(device));
        return (Host(y), Host(x.Grad!));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Dct_fft_path_covers_more_tiles_than_one_grid()
    {
        // 66,000 planes of 1×3: the pass along W has one 32×32 tile per plane, more than the 65,535 blocks of a grid
        // (the pass along H, of length 1, is a copy). The emulator runs 256 threads per tile, so this is kept to one pass.
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([66_000, 1, 3], DType.F64, Device.Cpu, new Generator(3));
        var cpu = Run(x, Device.Cpu, t => F.Dct2(t, DctImplementation.Fft));
        var gpu = Run(x, Gpu, t => F.Dct2(t, DctImplementation.Fft));
        AssertNear(cpu.Y, gpu.Y, 1e-12, "dct2 output");
        AssertNear(cpu.Grad, gpu.Grad, 1e-12, "dct2 gradient");
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Complex_group_linear_weight_gradient_covers_more_warps_than_one_grid()
    {
        // 2 groups of 512×512 weights: one warp each, more than the 65,535 blocks × 8 warps of a grid.
        using var scope = Tensor.Scope();
        var g = new Generator(7);
        var x = Tensor.Randn([1, 1024, 1, 2], DType.F64, Device.Cpu, g);
        var w = Tensor.Randn([2, 2, 512, 512], DType.F64, Device.Cpu, g);
        var b = Tensor.Randn([2, 2, 512], DType.F64, Device.Cpu, g);
        var cpu = Gradients(x, w, b, Device.Cpu);
        var gpu = Gradients(x, w, b, Gpu);
        for (int i = 0; i < cpu.Length; i++) AssertNear(cpu[i], gpu[i], 1e-12, $"complex_group_linear, result {i}");
    }

    /// <summary>The output and the gradients of input, weight and bias.</summary>
    private static double[][] Gradients(Tensor x, Tensor w, Tensor b, Device device)
    {
        var leaves = new[] { x, w, b }.Select(t => t.ToDevice(device).Clone().RequiresGradInPlace()).ToArray();
        var y = F.ComplexGroupLinear(leaves[0], leaves[1], leaves[2]);
        y.Backward(Tensor.Randn(y.Shape, y.DType, Device.Cpu, new Generator(8)).ToDevice(device));
        return [Host(y), .. leaves.Select(l => Host(l.Grad!))];
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Parameter_gradients_have_the_same_bits_on_every_run()
    {
        using var scope = Tensor.Scope();
        var g = new Generator(4);
        var x = Tensor.Randn([4, 6, 5, 3, 2], DType.F32, Device.Cpu, g);
        var w = Tensor.Randn([2, 2, 3, 4], DType.F32, Device.Cpu, g);
        var b = Tensor.Randn([2, 2, 4], DType.F32, Device.Cpu, g);
        var first = Gradients(x, w, b, Gpu);
        var second = Gradients(x, w, b, Gpu);
        Assert.Equal(first[2], second[2]);
        Assert.Equal(first[3], second[3]);

        var u = Tensor.Randn([8, 5, 6, 4], DType.F32, Device.Cpu, g);
        var decay = Tensor.Rand([5, 6, 4], DType.F32, Device.Cpu, g);
        double[] DecayGradient()
        {
            var d = decay.ToDevice(Gpu).Clone().RequiresGradInPlace();
            var v = F.HeatConduction(u.ToDevice(Gpu), d);
            v.Backward(Tensor.Randn(v.Shape, v.DType, Device.Cpu, new Generator(6)).ToDevice(Gpu));
            return Host(d.Grad!);
        }
        Assert.Equal(DecayGradient(), DecayGradient());
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Fft_of_views_at_odd_offsets_equals_the_cpus()
    {
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            using var scope = Tensor.Scope();
            // Real input and complex output one element past an aligned block: cuFFT wants both aligned to the complex type.
            var xBase = Tensor.Randn([1 + 2 * 5 * 6], dtype, Device.Cpu, new Generator(2));
            var x = xBase.Narrow(0, 1, 2 * 5 * 6).View(2, 5, 6);
            var yCpu = Tensor.Empty([2, 5, 4, 2], dtype);
            Backend.For(Device.Cpu).Fft(x, yCpu, FftKind.R2C, [5, 6], inverse: false);
            var xGpu = xBase.ToDevice(Gpu).Narrow(0, 1, 2 * 5 * 6).View(2, 5, 6);
            var yGpuBase = Tensor.Full([1 + 2 * 5 * 4 * 2], 7, dtype, Gpu);
            var yGpu = yGpuBase.Narrow(0, 1, 2 * 5 * 4 * 2).View(2, 5, 4, 2);
            Backend.For(Gpu).Fft(xGpu, yGpu, FftKind.R2C, [5, 6], inverse: false);
            AssertNear(yCpu.ToArray<double>(), Host(yGpu), dtype == DType.F32 ? 1e-5 : 1e-12, $"r2c of an odd view, {dtype}");
            Assert.Equal(7, Host(yGpuBase)[0]);   // the staged result lands in the view only

            // The operator on such a view: a contiguous slice whose offset (35) is odd.
            var maps = Tensor.Randn([3, 5, 7], dtype, Device.Cpu, new Generator(3));
            var cpu = Run(maps, Device.Cpu, t => F.Rfft2(t.Narrow(0, 1, 2), "ortho"));
            var gpu = Run(maps, Gpu, t => F.Rfft2(t.Narrow(0, 1, 2), "ortho"));
            AssertNear(cpu.Y, gpu.Y, dtype == DType.F32 ? 1e-5 : 1e-12, $"rfft2 of an odd view, {dtype}");
            AssertNear(cpu.Grad, gpu.Grad, dtype == DType.F32 ? 1e-5 : 1e-12, $"rfft2 gradient of an odd view, {dtype}");
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Constants_are_kept_per_device_with_the_cpus_values()
    {
        var onCpu = DctBases.BasisOn(5, DType.F32, Device.Cpu);
        var onGpu = DctBases.BasisOn(5, DType.F32, Gpu);
        Assert.Equal(Device.Cpu, onCpu.Device);
        Assert.Equal(Gpu, onGpu.Device);
        Assert.Same(onGpu, DctBases.BasisOn(5, DType.F32, Gpu));
        Assert.NotSame(onGpu, DctBases.BasisOn(5, DType.F64, Gpu));
        Assert.Equal(DctBases.Basis<float>(5), onGpu.ToDevice(Device.Cpu).ToArray<float>());
        Assert.Equal(DctBases.Omega(3, 4), DctBases.OmegaOn(3, 4, Gpu).ToDevice(Device.Cpu).ToArray<double>());
    }
}
