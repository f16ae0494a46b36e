using Engine.Backends;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>
/// The backend primitives that no differentiable op exercises fully yet, GPU against CPU: the FFT (cuFFT against
/// the engine's FFT), the general GEMM with alpha, beta and a strided output, TF32, arg-reductions with ties and
/// NaN, exact int64 comparisons.
/// </summary>
public class PrimitiveTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    private static void AssertNear(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"{what}: element {i} is {actual[i]:R}, the CPU gives {expected[i]:R}");
    }

    public static TheoryData<string, int[], int[]> FftCases() => new()
    {
        // kind, lengths, input shape (leading dimensions are the batch; complex data has a trailing 2)
        { "C2C", [5], [3, 5, 2] }, { "C2C", [8], [8, 2] }, { "C2C", [3, 4], [2, 3, 4, 2] },
        { "R2C", [7], [2, 7] }, { "R2C", [6], [6] }, { "R2C", [4, 5], [3, 4, 5] }, { "R2C", [3, 6], [3, 6] },
        { "C2R", [7], [2, 4, 2] }, { "C2R", [6], [4, 2] }, { "C2R", [4, 6], [2, 4, 4, 2] }, { "C2R", [5, 5], [5, 3, 2] },
    };

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [MemberData(nameof(FftCases))]
    public void Fft_on_cufft_equals_the_engines_fft(string kind, int[] lengths, int[] shape)
    {
        var fftKind = Enum.Parse<FftKind>(kind);
        foreach (var dtype in new[] { DType.F64, DType.F32 })
            foreach (bool inverse in new[] { false, true })
            {
                if (fftKind != FftKind.C2C && inverse) continue;
                using var scope = Tensor.Scope();
                var x = Tensor.Randn(shape, dtype, Device.Cpu, new Generator(9));
                int[] outShape = fftKind switch
                {
                    FftKind.C2C => shape,
                    FftKind.R2C => [.. shape[..^1], shape[^1] / 2 + 1, 2],
                    _ => [.. shape[..^2], lengths[^1]],
                };
                var yCpu = Tensor.Empty(outShape, dtype);
                Engine.Backends.Backend.For(Device.Cpu).Fft(x, yCpu, fftKind, lengths, inverse);
                var xGpu = x.ToDevice(Gpu);
                var yGpu = Tensor.Empty(outShape, dtype, Gpu);
                Engine.Backends.Backend.For(Gpu).Fft(xGpu, yGpu, fftKind, lengths, inverse);
                AssertNear(yCpu.ToArray<double>(), yGpu.ToArray<double>(), dtype == DType.F32 ? 1e-5 : 1e-12, $"{kind} {string.Join("x", lengths)} {dtype} inverse={inverse}");
                Assert.Equal(x.ToArray<double>(), xGpu.ToArray<double>());   // the input is never changed (cuFFT's C2R overwrites it: a copy is used)
            }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Gemm_with_alpha_beta_broadcast_batches_and_a_strided_output_equals_the_cpus()
    {
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            using var scope = Tensor.Scope();
            var a = Tensor.Randn([5, 3], dtype, Device.Cpu, new Generator(1)).Expand(2, 5, 3);          // batch stride 0
            var b = Tensor.Randn([2, 4, 3], dtype, Device.Cpu, new Generator(2)).Transpose(1, 2);        // column-major operand
            var cBase = Tensor.Randn([2, 5, 7], dtype, Device.Cpu, new Generator(3));
            var cGpuBase = cBase.ToDevice(Gpu);
            using var c = cBase.Narrow(2, 1, 4);                                                          // row stride 7
            using var cGpu = cGpuBase.Narrow(2, 1, 4);
            Engine.Backends.Backend.For(Device.Cpu).Gemm(a, b, c, 0.5, -1.5);
            using var aGpu = a.ToDevice(Gpu).Expand(2, 5, 3);
            using var bGpu = b.ToDevice(Gpu);
            Engine.Backends.Backend.For(Gpu).Gemm(aGpu, bGpu, cGpu, 0.5, -1.5);
            AssertNear(cBase.ToArray<double>(), cGpuBase.ToArray<double>(), dtype == DType.F32 ? 1e-5 : 1e-12, $"gemm {dtype}");
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Matmul_with_an_empty_inner_dimension_is_zeros()
    {
        using var scope = Tensor.Scope();
        var c = Tensor.Ones([3, 0], DType.F32, Gpu).MatMul(Tensor.Ones([0, 2], DType.F32, Gpu));
        Assert.Equal(new float[6], c.ToArray<float>());
    }

    /// <summary>
    /// A matmul's two gradients go to the backend as one pair (IBackend.MatMulPair; CUDA runs the two products in
    /// turn): GPU against CPU in float64, with a broadcast batch on both sides and a vector operand.
    /// </summary>
    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [InlineData(new[] { 37, 20 }, new[] { 20, 45 })]
    [InlineData(new[] { 2, 1, 9, 13 }, new[] { 3, 13, 7 })]
    [InlineData(new[] { 30 }, new[] { 30, 11 })]
    public void Matmul_gradients_as_one_pair_match_the_cpu(int[] aShape, int[] bShape)
    {
        using var scope = Tensor.Scope();
        (double[] A, double[] B) Grads(Device device)
        {
            var a = Tensor.Randn(aShape, DType.F64, Device.Cpu, new Generator(11)).ToDevice(device);
            var b = Tensor.Randn(bShape, DType.F64, Device.Cpu, new Generator(12)).ToDevice(device);
            a.RequiresGrad = b.RequiresGrad = true;
            var y = a.MatMul(b);
            y.Backward(Tensor.Randn(y.Shape, DType.F64, Device.Cpu, new Generator(13)).ToDevice(device));
            return (a.Grad!.ToArray<double>(), b.Grad!.ToArray<double>());
        }
        var cpu = Grads(Device.Cpu);
        var gpu = Grads(Gpu);
        AssertNear(cpu.A, gpu.A, 1e-12, "matmul's gradient of a");
        AssertNear(cpu.B, gpu.B, 1e-12, "matmul's gradient of b");
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Argmax_and_argmin_take_the_first_extreme_and_nan_wins_as_on_the_cpu()
    {
        using var scope = Tensor.Scope();
        var values = Tensor.FromArray(new double[]
        {
            1, 3, 3, 2, -1,               // tie: the first 3
            5, double.NaN, 7, double.NaN, 0,   // the first NaN
            -2, -2, -2, -2, -2,           // all equal: 0
            0, 1, 2, 3, 4,
        }, [4, 5]);
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            foreach (int dim in new[] { 0, 1 })
            {
                var x = values.ToDType(dtype);
                var g = x.ToDevice(Gpu);
                Assert.Equal(x.ArgMax(dim).ToArray<long>(), g.ArgMax(dim).ToArray<long>());
                Assert.Equal(x.ArgMin(dim).ToArray<long>(), g.ArgMin(dim).ToArray<long>());
                Assert.Equal(x.Max(dim).ToArray<double>(), g.Max(dim).ToArray<double>());
            }
        // A long reduction (split into chunks on the device) keeps the same answer.
        var longRun = Tensor.Randn([200_000], DType.F32, Device.Cpu, new Generator(6));
        var longGpu = longRun.ToDevice(Gpu);
        Assert.Equal(longRun.ArgMax(0).Item(), longGpu.ArgMax(0).Item());
        Assert.Equal(longRun.Max().Item(), longGpu.Max().Item());
        // The device accumulates F32 sums in double: closer to the exact sum than the CPU's float accumulation.
        AssertNear([longRun.ToDType(DType.F64).Sum().Item()], [longGpu.Sum().Item()], 1e-6, "long sum against the exact sum");
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Sums_are_bit_identical_run_after_run()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([3, 100_003], DType.F32, Gpu, new Generator(7));
        var first = x.Sum().ToArray<float>();
        var rows = x.Sum(1).ToArray<float>();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(first[0]), BitConverter.SingleToInt32Bits(x.Sum().ToArray<float>()[0]));
            Assert.Equal(rows, x.Sum(1).ToArray<float>());
        }
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Int64_comparisons_are_exact_beyond_two_to_the_53()
    {
        using var scope = Tensor.Scope();
        long big = 1L << 60;
        var a = Tensor.FromArray(new[] { big, big + 1, -big });
        var b = Tensor.FromArray(new[] { big + 1, big + 1, -big - 1 });
        var ga = a.ToDevice(Gpu);
        var gb = b.ToDevice(Gpu);
        Assert.Equal(new[] { false, true, false }, ga.Eq(gb).ToArray<bool>());
        Assert.Equal(new[] { true, false, false }, ga.Lt(gb).ToArray<bool>());
        Assert.Equal(a.Gt(b).ToArray<bool>(), ga.Gt(gb).ToArray<bool>());
    }
}

/// <summary>TF32 is a process-wide switch (as PyTorch's): its test runs alone, so no other matmul sees it on.</summary>
[Collection(SerialCollection.Name)]
public class Tf32Tests
{
    private static readonly Device Gpu = Device.Cuda(0);

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Tf32_is_off_by_default_and_rounds_the_inputs_when_allowed()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.Randn([32, 64], DType.F32, Device.Cpu, new Generator(4));
        var b = Tensor.Randn([64, 16], DType.F32, Device.Cpu, new Generator(5));
        var exact = a.ToDType(DType.F64).MatMul(b.ToDType(DType.F64)).ToArray<double>();
        var plain = a.ToDevice(Gpu).MatMul(b.ToDevice(Gpu)).ToArray<double>();
        Assert.False(Engine.Cuda.Cuda.AllowTf32);
        double PlainError() => exact.Zip(plain).Max(p => Math.Abs(p.First - p.Second) / (1 + Math.Abs(p.First)));
        Assert.True(PlainError() < 1e-5, $"F32 error {PlainError()}");
        Engine.Cuda.Cuda.AllowTf32 = true;
        double[] tf32;
        try { tf32 = a.ToDevice(Gpu).MatMul(b.ToDevice(Gpu)).ToArray<double>(); }
        finally { Engine.Cuda.Cuda.AllowTf32 = false; }
        double error = exact.Zip(tf32).Max(p => Math.Abs(p.First - p.Second) / (1 + Math.Abs(p.First)));
        Assert.InRange(error, 1e-5, 1e-2);   // 10 mantissa bits: about 1e-3
    }
}
