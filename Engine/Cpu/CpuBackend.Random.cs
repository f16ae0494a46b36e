using Engine.Backends;
using Engine.Randomness;

namespace Engine.Cpu;

// Random fills follow the element-to-block map documented on Philox.BlocksFor, so the CPU and the GPU
// produce the same numbers for the same (seed, offset), whatever the thread count.
internal sealed unsafe partial class CpuBackend
{
    public void Random(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double p0, double p1)
    {
        if (distribution == RandomDistribution.Integer)
            throw new ArgumentException("random: integer fills go through RandomInteger, whose bounds are exact.", nameof(distribution));
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
                    _ => p0 + p1 * Philox.StandardNormal(Philox.Block(offset + (ulong)i, seed)),
                };
                Store(basePtr, dtype, i, v);
            }
        });
    }

    public void RandomInteger(Tensor dst, ulong seed, ulong offset, long low, long high)
    {
        if (dst.DType != DType.I64) throw new NotSupportedException($"randint: the CPU fill writes int64, not {dst.DType.TorchName()}.");
        long* p = Ptr<long>(dst);
        // high - low may exceed long.MaxValue; as an unsigned difference it is exact, and so is low + offset mod 2^64.
        ulong range = unchecked((ulong)(high - low));
        CpuParallel.For(dst.NumEl, 20, (start, end) =>
        {
            for (long i = start; i < end; i++) p[i] = IntegerValue(seed, offset, i, low, range);
        });
    }

    private static double UniformDouble(ulong seed, ulong offset, long i, double lo, double hi)
    {
        var b = Philox.Block(offset + (ulong)(i / 2), seed);
        int w = (int)(i % 2) * 2;
        return lo + (hi - lo) * Philox.ToUnitDouble(Philox.Word(b, w), Philox.Word(b, w + 1));
    }

    private static long IntegerValue(ulong seed, ulong offset, long i, long lo, ulong range)
    {
        var b = Philox.Block(offset + (ulong)(i / 2), seed);
        int w = (int)(i % 2) * 2;
        ulong bits = ((ulong)Philox.Word(b, w) << 32) | Philox.Word(b, w + 1);
        return unchecked(lo + (long)(bits % range));
    }

    private static void Store(nint basePtr, DType dtype, long i, double v)
    {
        switch (dtype)
        {
            case DType.F32: ((float*)basePtr)[i] = (float)v; break;
            case DType.F64: ((double*)basePtr)[i] = v; break;
            default: throw new NotSupportedException($"random: cannot fill a {dtype.TorchName()} tensor.");
        }
    }
}
