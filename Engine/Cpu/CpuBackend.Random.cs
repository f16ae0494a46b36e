using Engine.Backends;
using Engine.Randomness;

namespace Engine.Cpu;

// Random fills follow the element-to-block map documented on Philox.BlocksFor, so the CPU and the GPU
// produce the same numbers for the same (seed, offset), whatever the thread count. The blocks are made a
// chunk at a time in vector lanes (PhiloxBatch), the same bits as one Philox.Block per element.
internal sealed unsafe partial class CpuBackend
{
    public void Random(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double p0, double p1)
    {
        if (distribution == RandomDistribution.Integer)
            throw new ArgumentException("random: integer fills go through RandomInteger, whose bounds are exact.", nameof(distribution));
        DType dtype = dst.DType;
        if (dtype != DType.F32 && dtype != DType.F64) throw new NotSupportedException($"random: cannot fill a {dtype.TorchName()} tensor.");
        long n = dst.NumEl;
        nint basePtr = BasePointer(dst);
        var width = PhiloxBatch.Best;
        if (distribution == RandomDistribution.Uniform)
        {
            CpuParallel.For(n, 4, (start, end) =>
            {
                for (long s = start; s < end; s += int.MaxValue / 2)
                {
                    int len = (int)Math.Min(end - s, int.MaxValue / 2);
                    if (dtype == DType.F32)
                    {
                        var span = new Span<float>((float*)basePtr + s, len);
                        PhiloxStream.UnitFloats(seed, offset, s, span, width);
                        PhiloxStream.AffineInPlace(span, p0, p1);
                    }
                    else
                    {
                        var span = new Span<double>((double*)basePtr + s, len);
                        PhiloxStream.UnitDoubles(seed, offset, s, span, width);
                        PhiloxStream.AffineInPlace(span, p0, p1);
                    }
                }
            });
            return;
        }
        // Normal: one block per element.
        CpuParallel.For(n, 40, (start, end) =>
            PhiloxStream.ForBlocks(seed, offset + (ulong)start, end - start, width, (first, words) =>
            {
                for (int j = 0; j < words.Length / 4; j++)
                {
                    var b = (words[4 * j], words[4 * j + 1], words[4 * j + 2], words[4 * j + 3]);
                    double v = p0 + p1 * Philox.StandardNormal(b);
                    long i = start + first + j;
                    if (dtype == DType.F32) ((float*)basePtr)[i] = (float)v;
                    else ((double*)basePtr)[i] = v;
                }
            }));
    }

    public void RandomInteger(Tensor dst, ulong seed, ulong offset, long low, long high)
    {
        if (dst.DType != DType.I64) throw new NotSupportedException($"randint: the CPU fill writes int64, not {dst.DType.TorchName()}.");
        long* p = Ptr<long>(dst);
        // high - low may exceed long.MaxValue; as an unsigned difference it is exact, and so is low + offset mod 2^64.
        ulong range = unchecked((ulong)(high - low));
        CpuParallel.For(dst.NumEl, 20, (start, end) =>
        {
            // Two integers per block: element i is words 2(i % 2), 2(i % 2) + 1 of block offset + i / 2.
            long firstBlock = start / 2;
            PhiloxStream.ForBlocks(seed, offset + (ulong)firstBlock, (end + 1) / 2 - firstBlock, PhiloxBatch.Best, (first, words) =>
            {
                long e0 = 2 * (firstBlock + first);
                for (int k = 0; k < words.Length / 2; k++)
                {
                    long i = e0 + k;
                    if (i < start || i >= end) continue;
                    ulong bits = ((ulong)words[2 * k] << 32) | words[2 * k + 1];
                    p[i] = unchecked(low + (long)(bits % range));
                }
            });
        });
    }
}
