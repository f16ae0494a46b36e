using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>Mistakes on the device get the same clear errors as on the CPU: devices mixed, CPU-only operators, bad indices, bad launches.</summary>
public class BackendErrorTests
{
    private static readonly Device Gpu = Device.Cuda(0);

    private static void ContainsAll(string message, params string[] parts)
    {
        foreach (var p in parts) Assert.Contains(p, message);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void Mixing_devices_names_the_operation_the_shapes_and_the_devices()
    {
        using var scope = Tensor.Scope();
        var cpu = Tensor.Zeros([2, 3]);
        var gpu = Tensor.Zeros([3, 4], device: Gpu);
        ContainsAll(Assert.Throws<ArgumentException>(() => cpu.MatMul(gpu)).Message, "matmul", "cpu", "cuda:0", "[2, 3]", "[3, 4]");
        ContainsAll(Assert.Throws<ArgumentException>(() => cpu + Tensor.Zeros([2, 3], device: Gpu)).Message, "add", "cpu", "cuda:0");
        using var index = Tensor.Zeros([2], DType.I64);
        ContainsAll(Assert.Throws<ArgumentException>(() => gpu.IndexSelect(0, index)).Message, "index_select", "cuda:0", "cpu");
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void An_operator_without_a_cuda_kernel_says_so_with_the_shape_and_device()
    {
        // Softmax has its CUDA kernels now, as every family will: the message every operator's device switch ends
        // in is checked at its source.
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([4, 5], device: Gpu);
        ContainsAll(Engine.Backends.Kernel.Missing("softmax", x).Message, "no CUDA kernel for softmax", "cuda:0", "[4, 5]", "torch.float32");
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_bad_index_throws_the_cpus_exception_before_any_read()
    {
        using var scope = Tensor.Scope();
        foreach (var device in new[] { Device.Cpu, Gpu })
        {
            var x = Tensor.Zeros([3, 4], DType.F32, device);
            using var index = Tensor.FromArray(new long[] { 0, 2, 3, -4 }).ToDevice(device);
            var e = Assert.Throws<IndexOutOfRangeException>(() => x.IndexSelect(0, index));
            Assert.Equal("index_select: index 3 is out of bounds for dimension 0 with size 3.", e.Message);
        }
        var g = Tensor.Zeros([3, 4], DType.F32, Gpu);
        using var bad = Tensor.Full([3, 1], 4, DType.I64, Gpu);
        Assert.Contains("gather: index 4 is out of bounds for dimension 1 with size 4", Assert.Throws<IndexOutOfRangeException>(() => g.Gather(1, bad)).Message);
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_launch_whose_arguments_do_not_match_the_kernels_parameters_is_refused_before_it_runs()
    {
        using var scope = Tensor.Scope();
        var t = Tensor.Zeros([8], DType.F32, Gpu);
        var kernel = CudaBackend.KernelFor(t, "copy.cu", "fill_f32");
        if (kernel.ParameterSizes is null) return;          // a driver older than CUDA 12.4 cannot say: nothing to check against
        var layout = StridedArg.Of([8], [1]);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(t); args.Add(in layout); args.Add(1.0); /* a double where the kernel takes a float */ args.Add(8L);
        ContainsAll(LaunchError(kernel, args), "fill_f32", "[8, 136, 4, 8]", "[8, 136, 8, 8]");
        Assert.All(t.ToArray<float>(), v => Assert.Equal(0f, v));
    }

    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void A_kernel_refuses_tensors_of_another_device()
    {
        using var scope = Tensor.Scope();
        var cpu = Tensor.Zeros([8]);
        var kernel = CudaBackend.KernelFor(Tensor.Zeros([1], device: Gpu), "copy.cu", "fill_f32");
        var layout = StridedArg.Of([8], [1]);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(cpu); args.Add(in layout); args.Add(1f); args.Add(8L);
        ContainsAll(LaunchError(kernel, args), "fill_f32", "[8]", "cpu");
    }

    /// <summary>The message of the ArgumentException the launch throws (a ref struct cannot go into a lambda).</summary>
    private static string LaunchError(CudaKernel kernel, in KernelArgs args)
    {
        try { kernel.Launch(LaunchConfig.ForElements(8), args); }
        catch (ArgumentException e) { return e.Message; }
        Assert.Fail("the launch was not refused");
        return "";
    }
}
