using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>Atomics from every thread of several blocks (with barriers in between, so threads interleave), and the
/// shim's intrinsics and math against values worked out by hand or by .NET.</summary>
public sealed class AtomicsAndIntrinsicsTests
{
    internal const string Source = """
        typedef unsigned long long u64;

        extern "C" __global__ void atomics(int* c, unsigned* u, float* f, double* d, u64* w)
        {
            unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
            atomicAdd(&c[0], 1);
            __syncthreads();
            atomicSub(&c[1], 2);
            atomicMax(&c[2], (int)t);
            atomicMin(&c[3], -(int)t);
            atomicOr(&c[4], 1 << (t % 31));
            atomicXor(&c[5], (int)t);
            atomicExch(&c[6], 42);
            if (atomicCAS(&c[7], 0, (int)t + 1) == 0) atomicAdd(&c[8], 1);   // exactly one thread wins
            atomicInc(&u[0], 9u);
            atomicDec(&u[1], 9u);
            atomicAdd(&u[2], 3u);
            atomicAdd(&f[0], 0.5f);
            atomicAdd(&d[0], 0.25);
            u64 old = w[0], assumed;
            do { assumed = old; old = atomicCAS(&w[0], assumed, assumed + t); } while (old != assumed);
            __syncthreads();
            atomicAdd(&w[1], 1ull);
        }

        extern "C" __global__ void intrinsics(unsigned* u, int* i, float* f, double* d)
        {
            u[0] = __popc(0xF0F0u); u[1] = __clz(1); u[2] = __clz(0); u[3] = __ffs(8); u[4] = __brev(1u);
            u[5] = __float_as_uint(1.0f); u[6] = __double2hiint(1.0); u[7] = __umulhi(0xFFFFFFFFu, 2u);
            u[8] = __funnelshift_l(0x12345678u, 0x9ABCDEF0u, 8); u[9] = __funnelshift_r(0x12345678u, 0x9ABCDEF0u, 8);
            u[10] = __byte_perm(0x33221100u, 0x77665544u, 0x1054u); u[11] = __sad(3, 10, 5u);
            u[12] = __float_as_uint(__fdiv_rd(1.0f, 3.0f)); u[13] = __float_as_uint(__fdiv_ru(1.0f, 3.0f));
            u[14] = __float_as_uint(__fdiv_rn(1.0f, 3.0f)); u[15] = __float_as_uint(__fadd_rz(1.0f, 1e-8f));
            u[16] = __float_as_uint(__fadd_ru(1.0f, 1e-8f)); u[17] = (unsigned)(__umul64hi(~0ull, 4ull));
            i[0] = __float2int_rn(2.5f); i[1] = __float2int_rn(3.5f); i[2] = __float2int_rz(-2.7f);
            i[3] = __float2int_ru(2.1f); i[4] = __float2int_rd(-2.1f); i[5] = __float2int_rz(1e10f);
            i[6] = __float2int_rn(__int_as_float(0x7fc00000)); i[7] = __double2int_rz(-1e300); i[8] = __mulhi(-2, 0x40000000);
            i[9] = min(-3, 4); i[10] = max(7u, 2);
            f[0] = __saturatef(1.5f); f[1] = __saturatef(-1.0f); f[2] = rsqrtf(4.0f); f[3] = exp10f(2.0f);
            f[4] = __fdividef(1.0f, 4.0f); f[5] = fminf(2.0f, -1.0f); f[6] = max(1.5f, 2.5f); f[7] = erfinvf(0.5f);
            d[0] = erfinv(0.5); d[1] = normcdfinv(0.975); d[2] = normcdf(1.959963984540054); d[3] = sinpi(0.5);
            d[4] = erfcinv(1e-10); d[5] = __dmul_rn(3.0, 0.1); d[6] = __hiloint2double(0x3ff00000, 0); d[7] = rnorm3d(3.0, 4.0, 12.0);
        }
        """;

    [GpuFact]
    public void Atomics_from_every_thread_are_read_modify_writes()
    {
        Emu.MakeCurrent();
        const int blocks = 3, block = 128, n = blocks * block;
        using var c = DeviceBuffer.Of<int>([0, 0, -1, 1, 0, 0, 0, 0, 0]);
        using var u = DeviceBuffer.Of<uint>([0u, 0u, 0u]);
        using var f = DeviceBuffer.Of<float>([0f]);
        using var d = DeviceBuffer.Of<double>([0.0]);
        using var w = DeviceBuffer.Of<ulong>([0ul, 0ul]);
        Emu.Launch(Emu.Kernel(Source, "atomics"), blocks, block, c, u, f, d, w);
        int xor = 0, or = 0;
        for (int t = 0; t < n; t++) { xor ^= t; or |= 1 << (t % 31); }
        var ints = c.Download<int>();
        Assert.Equal([n, -2 * n, n - 1, -(n - 1), or, xor, 42], ints[..7]);
        Assert.InRange(ints[7], 1, n);
        Assert.Equal(1, ints[8]);
        // atomicInc wraps to 0 after 9; atomicDec from 0 wraps to 9 and counts down.
        Assert.Equal([(uint)(n % 10), (uint)((10 - n % 10) % 10), (uint)(3 * n)], u.Download<uint>());
        Assert.Equal(0.5f * n, f.Download<float>()[0]);
        Assert.Equal(0.25 * n, d.Download<double>()[0]);
        Assert.Equal([(ulong)(n * (n - 1) / 2), (ulong)n], w.Download<ulong>());
    }

    [GpuFact]
    public void Intrinsics_and_math_give_the_devices_results()
    {
        Emu.MakeCurrent();
        using var u = DeviceBuffer.Of<uint>(18);
        using var i = DeviceBuffer.Of<int>(11);
        using var f = DeviceBuffer.Of<float>(8);
        using var d = DeviceBuffer.Of<double>(8);
        Emu.Launch(Emu.Kernel(Source, "intrinsics"), 1, 1, u, i, f, d);
        var us = u.Download<uint>();
        Assert.Equal([8u, 31u, 32u, 4u, 0x80000000u, 0x3F800000u, 0x3FF00000u, 1u, 0xBCDEF012u, 0xF0123456u, 0x11005544u, 12u], us[..12]);
        Assert.Equal(us[12] + 1, us[13]);                               // 1/3 rounded down and up: one ulp apart
        Assert.Equal(BitConverter.SingleToUInt32Bits(1.0f / 3.0f), us[14]);
        Assert.Equal(BitConverter.SingleToUInt32Bits(1.0f), us[15]);     // 1 + 1e-8 toward zero
        Assert.Equal(BitConverter.SingleToUInt32Bits(1.0f) + 1, us[16]); // and upward
        Assert.Equal(3u, us[17]);
        Assert.Equal([2, 4, -2, 3, -3, int.MaxValue, 0, int.MinValue, -1, -3, 7], i.Download<int>());
        var fs = f.Download<float>();
        Assert.Equal([1f, 0f, 0.5f, 100f, 0.25f, -1f, 2.5f], fs[..7]);
        Assert.Equal(0.4769362762f, fs[7], 6);
        var ds = d.Download<double>();
        Assert.Equal(0.4769362762044699, ds[0], 12);
        Assert.Equal(1.959963984540054, ds[1], 12);
        Assert.Equal(0.975, ds[2], 14);
        Assert.Equal(1.0, ds[3]);
        Assert.Equal(4.572824967389486, ds[4], 9);
        Assert.Equal(3.0 * 0.1, ds[5]);
        Assert.Equal(1.0, ds[6]);
        Assert.Equal(1.0 / 13.0, ds[7], 15);
    }
}
