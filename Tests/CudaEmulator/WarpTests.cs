using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// Warp functions on the emulator against a host model of PTX shfl.sync: full warps, a partial last warp
/// (lanes that do not exist) and half-warp masks (lanes outside the mask). A lane that reads from a lane that
/// did not take part gets the 0xFF poison (-1 as an int); on a device that value is undefined.
/// </summary>
public sealed class WarpTests
{
    internal const string Source = """
        extern "C" __global__ void shuffles(const int* in, int* out, unsigned mask)
        {
            unsigned t = threadIdx.x;
            if (!((mask >> (t & 31)) & 1u)) return;   // lanes outside the mask take no part
            int v = in[t];
            int* o = out + 8 * t;
            o[0] = __shfl_sync(mask, v, 7);
            o[1] = __shfl_sync(mask, v, 7, 8);
            o[2] = __shfl_up_sync(mask, v, 5, 16);
            o[3] = __shfl_down_sync(mask, v, 3);
            o[4] = __shfl_xor_sync(mask, v, 1);
            o[5] = __shfl_xor_sync(mask, v, 16, 16);
            o[6] = (int)__ballot_sync(mask, v % 3 == 0);
            o[7] = __shfl_sync(mask, v, -1, 16);
        }

        extern "C" __global__ void votes(const int* in, unsigned* out)
        {
            unsigned t = threadIdx.x;
            int v = in[t];
            unsigned* o = out + 7 * t;
            o[0] = __any_sync(0xffffffffu, v > 100);
            o[1] = __all_sync(0xffffffffu, v >= 0);
            o[2] = __activemask();
            __syncwarp();
            o[3] = __match_any_sync(0xffffffffu, v % 4);
            o[4] = __reduce_add_sync(0xffffffffu, (unsigned)v);
            o[5] = __reduce_max_sync(0xffffffffu, (unsigned)v);
            o[6] = __shfl_sync(0xffffffffu, __double_as_longlong(1.5 * v), 2) == __double_as_longlong(1.5 * in[(t & ~31u) + 2]);
        }

        __device__ float warp_sum(float v)
        {
            for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
            return v;
        }

        // The classic two-level reduction: shuffles within each warp, then the first warp over the warps' sums.
        extern "C" __global__ void block_sum_shfl(const float* in, float* out, int n)
        {
            __shared__ float partial[32];
            unsigned t = threadIdx.x, lane = t & 31, warp = t >> 5;
            float v = 0;
            for (int i = blockIdx.x * blockDim.x + t; i < n; i += blockDim.x * gridDim.x) v += in[i];
            v = warp_sum(v);
            if (lane == 0) partial[warp] = v;
            __syncthreads();
            if (warp == 0)
            {
                v = lane < blockDim.x / 32 ? partial[lane] : 0.0f;
                v = warp_sum(v);
                if (lane == 0) out[blockIdx.x] = v;
            }
        }
        """;

    private const int Poison = -1;

    // One warp of the host model: the values of the lanes that take part (null for the others).
    private static int Shuffle(int?[] warp, int lane, int arg, int width, string kind)
    {
        int seg = 32 - width, minLane = lane & seg, maxLane = kind == "up" ? minLane : minLane | (31 & ~seg);
        (int j, bool ok) = kind switch
        {
            "up" => (lane - arg, lane - arg >= maxLane),
            "down" => (lane + arg, lane + arg <= maxLane),
            "xor" => (lane ^ arg, (lane ^ arg) <= maxLane),
            _ => (minLane | (arg & (width - 1)), true),
        };
        return (ok ? warp[j] : warp[lane]) ?? Poison;
    }

    private static int?[][] Warps(int threads, uint mask, int[] input)
    {
        var warps = new int?[(threads + 31) / 32][];
        for (int w = 0; w < warps.Length; w++)
        {
            warps[w] = new int?[32];
            for (int lane = 0; lane < 32; lane++)
                if (w * 32 + lane < threads && ((mask >> lane) & 1) != 0) warps[w][lane] = input[w * 32 + lane];
        }
        return warps;
    }

    [GpuTheory]
    [InlineData(64, 0xFFFFFFFFu)]   // two full warps
    [InlineData(40, 0xFFFFFFFFu)]   // a partial last warp: lanes 8..31 of warp 1 do not exist
    [InlineData(64, 0x0000FFFFu)]   // half of each warp
    [InlineData(64, 0xFFFF0000u)]
    [InlineData(96, 0x00FF00F0u)]
    public void Shuffles_and_ballot_follow_the_ptx_rules(int threads, uint mask)
    {
        Emu.MakeCurrent();
        var input = Enumerable.Range(0, threads).Select(i => 10 * i + 1).ToArray();
        using var din = DeviceBuffer.Of<int>(input);
        using var dout = DeviceBuffer.Of<int>(8 * threads);
        Engine.Cuda.Native.Driver.MemsetD8(dout.Pointer, 0, dout.Bytes);
        Emu.Launch(Emu.Kernel(Source, "shuffles"), 1, (uint)threads, din, dout, mask);
        var output = dout.Download<int>();
        var warps = Warps(threads, mask, input);
        for (int t = 0; t < threads; t++)
        {
            var warp = warps[t / 32];
            int lane = t % 32;
            var o = output.AsSpan(8 * t, 8).ToArray();
            if (warp[lane] is null) { Assert.Equal(new int[8], o); continue; }   // did not take part
            uint ballot = 0;
            for (int j = 0; j < 32; j++) if (warp[j] is { } v && v % 3 == 0) ballot |= 1u << j;
            int[] expected =
            [
                Shuffle(warp, lane, 7, 32, "idx"), Shuffle(warp, lane, 7, 8, "idx"), Shuffle(warp, lane, 5, 16, "up"),
                Shuffle(warp, lane, 3, 32, "down"), Shuffle(warp, lane, 1, 32, "xor"), Shuffle(warp, lane, 16, 16, "xor"),
                (int)ballot, Shuffle(warp, lane, -1, 16, "idx"),
            ];
            Assert.True(expected.SequenceEqual(o), $"thread {t}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", o)}]");
        }
    }

    [GpuFact]
    public void Votes_match_and_reductions_cover_the_existing_lanes_of_a_partial_warp()
    {
        Emu.MakeCurrent();
        const int threads = 40;
        var input = Enumerable.Range(0, threads).Select(i => i == 35 ? 500 : 3 * i).ToArray();
        using var din = DeviceBuffer.Of<int>(input);
        using var dout = DeviceBuffer.Of<uint>(7 * threads);
        Emu.Launch(Emu.Kernel(Source, "votes"), 1, threads, din, dout);
        var output = dout.Download<uint>();
        for (int t = 0; t < threads; t++)
        {
            int w = t / 32, lanes = w == 0 ? 32 : 8;
            var warp = input.Skip(32 * w).Take(lanes).ToArray();
            uint existing = lanes == 32 ? 0xFFFFFFFFu : (1u << lanes) - 1;
            uint match = 0;
            for (int j = 0; j < lanes; j++) if (warp[j] % 4 == input[t] % 4) match |= 1u << j;
            uint[] expected =
            [
                warp.Any(v => v > 100) ? 1u : 0u, 1u, existing, match,
                (uint)warp.Sum(), (uint)warp.Max(), 1u,
            ];
            Assert.Equal(expected, output.AsSpan(7 * t, 7).ToArray());
        }
    }

    [GpuFact]
    public void A_two_level_shuffle_reduction_sums_exactly()
    {
        Emu.MakeCurrent();
        const int n = 100_000, blocks = 16, block = 256;
        var input = Enumerable.Range(0, n).Select(i => (float)(i % 7)).ToArray();
        using var din = DeviceBuffer.Of<float>(input);
        using var dout = DeviceBuffer.Of<float>(blocks);
        Emu.Launch(Emu.Kernel(Source, "block_sum_shfl"), blocks, block, din, dout, n);
        Assert.Equal(input.Sum(), dout.Download<float>().Sum());
    }
}
