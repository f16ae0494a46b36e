using Engine.Backends;
using Engine.Random;

namespace Engine.Cpu;

// Random fills follow the element-to-block map documented on Philox.BlocksFor, so the CPU and the GPU
// produce the same numbers for the same (seed, offset), whatever the thread count.
internal sealed unsafe partial class CpuBackend
{
    public void Random(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double p0, double p1)
    {
        long n = dst.NumEl;
        nint basePtr = BasePointer(dst);
        DType dtype = dst.DType;
        CpuParallel.For(n, 20, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                double v = distribution switch
                {
                    RandomDistribution.Uniform when dtype == DType.F32 =>
                        p0 + (p1 - p0) * Philox.ToUnitFloat(Philox.Word(Philox.Block(offset + (ulong)(i / 4), seed), (int)(i % 4))),
                    RandomDistribution.Uniform => UniformDouble(seed, offset, i, p0, p1),
                    RandomDistribution.Normal => p0 + p1 * Philox.StandardNormal(Philox.Block(offset + (ulong)i, seed)),
                    _ => IntegerValue(seed, offset, i, (long)p0, (long)p1),
                };
                Store(basePtr, dtype, i, v, distribution == RandomDistribution.Integer ? (long)v : 0);
            }
        });
    }

    private static double UniformDouble(ulong seed, ulong offset, long i, double lo, double hi)
    {
        var b = Philox.Block(offset + (ulong)(i / 2), seed);
        int w = (int)(i % 2) * 2;
        return lo + (hi - lo) * Philox.ToUnitDouble(Philox.Word(b, w), Philox.Word(b, w + 1));
    }

    private static double IntegerValue(ulong seed, ulong offset, long i, long lo, long hi)
    {
        var b = Philox.Block(offset + (ulong)(i / 2), seed);
        int w = (int)(i % 2) * 2;
        ulong bits = ((ulong)Philox.Word(b, w) << 32) | Philox.Word(b, w + 1);
        return lo + (long)(bits % (ulong)(hi - lo));
    }

    private static void Store(nint basePtr, DType dtype, long i, double v, long asInteger)
    {
        switch (dtype)
        {
            case DType.F32: ((float*)basePtr)[i] = (float)v; break;
            case DType.F64: ((double*)basePtr)[i] = v; break;
            case DType.I64: ((long*)basePtr)[i] = asInteger; break;
            default: throw new NotSupportedException($"random: cannot fill a {dtype.TorchName()} tensor.");
        }
    }
}
