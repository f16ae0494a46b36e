using Engine.Backends;
using Engine.Cuda.Kernels;

namespace Engine.Cuda.Runtime;

// Random fills from philox.cu: the CPU's Philox streams, element-to-block map and conversions, so that the
// uniform and integer fills equal the CPU's bit for bit for the same (seed, offset); the normal fill goes
// through the device's log and cos and may differ by an ulp or two.
internal sealed unsafe partial class CudaBackend
{
    public void Random(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double p0, double p1)
    {
        if (distribution == RandomDistribution.Integer)
            throw new ArgumentException("random: integer fills go through RandomInteger, whose bounds are exact.", nameof(distribution));
        if (!dst.DType.IsFloatingPoint()) throw new NotSupportedException($"random: cannot fill a {dst.DType.TorchName()} tensor.");
        long n = dst.NumEl;
        if (n == 0) return;
        string kernel = (distribution == RandomDistribution.Uniform ? "uniform_" : "normal_") + Suffix(dst.DType);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(dst); args.Add(n); args.Add(seed); args.Add(offset); args.Add(p0); args.Add(p1);
        KernelFor(dst, "philox.cu", kernel).Launch(LaunchConfig.ForElements(n), args);
    }

    public void RandomInteger(Tensor dst, ulong seed, ulong offset, long low, long high)
    {
        if (dst.DType != DType.I64) throw new NotSupportedException($"randint: the CUDA fill writes int64, not {dst.DType.TorchName()}.");
        long n = dst.NumEl;
        if (n == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(dst); args.Add(n); args.Add(seed); args.Add(offset); args.Add(low); args.Add(unchecked((ulong)(high - low)));
        KernelFor(dst, "philox.cu", "randint_i64").Launch(LaunchConfig.ForElements(n), args);
    }
}
