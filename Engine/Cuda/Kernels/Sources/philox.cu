// Random fills with Philox4x32-10, mirroring Engine/Randomness/Philox.cs and Engine/Cpu/CpuBackend.Random.cs:
// the same block function, the same element-to-block map (F32 uniform: 4 elements per block; F64 uniform and
// int64: 2; normal: 1), the same conversions. The affine steps use __dadd_rn/__dmul_rn because the CPU never
// fuses a multiply-add and NVRTC would (--fmad=true is its default): with the intrinsics the uniform and
// integer fills give the CPU's bits. The normal fill goes through the device's log/cos, which may differ
// from the CPU's by an ulp or two.

struct PhiloxBlock { u32 w[4]; };

ENGINE_HD PhiloxBlock philox_block(u64 counter, u64 key)
{
    u32 c0 = (u32)counter, c1 = (u32)(counter >> 32), c2 = 0, c3 = 0;
    u32 k0 = (u32)key, k1 = (u32)(key >> 32);
    for (int round = 0; round < 10; ++round)
    {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        u64 p0 = (u64)0xD2511F53u * c0, p1 = (u64)0xCD9E8D57u * c2;
        u32 hi0 = (u32)(p0 >> 32), lo0 = (u32)p0, hi1 = (u32)(p1 >> 32), lo1 = (u32)p1;
        u32 n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    PhiloxBlock b = { { c0, c1, c2, c3 } };
    return b;
}

ENGINE_HD float philox_unit_float(u32 w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

ENGINE_HD double philox_unit_double(u32 hi, u32 lo)
{
    return (double)((((u64)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

// lo + (hi - lo) * u, rounded after each step as the CPU does.
__device__ __forceinline__ double affine(double lo, double scale, double u) { return __dadd_rn(lo, __dmul_rn(scale, u)); }

extern "C" __global__ void uniform_f32(float* out, i64 n, u64 seed, u64 offset, double lo, double hi)
{
    GRID_STRIDE_LOOP(i, n)
    {
        PhiloxBlock b = philox_block(offset + (u64)(i / 4), seed);
        out[i] = (float)affine(lo, hi - lo, (double)philox_unit_float(b.w[i % 4]));
    }
}

extern "C" __global__ void uniform_f64(double* out, i64 n, u64 seed, u64 offset, double lo, double hi)
{
    GRID_STRIDE_LOOP(i, n)
    {
        PhiloxBlock b = philox_block(offset + (u64)(i / 2), seed);
        int w = (int)(i % 2) * 2;
        out[i] = affine(lo, hi - lo, philox_unit_double(b.w[w], b.w[w + 1]));
    }
}

// Box-Muller on the four words of one block, in double, as Philox.StandardNormal.
__device__ __forceinline__ double standard_normal(PhiloxBlock b)
{
    double u1 = __dadd_rn(1.0, -philox_unit_double(b.w[0], b.w[1]));
    double u2 = philox_unit_double(b.w[2], b.w[3]);
    return __dmul_rn(sqrt(__dmul_rn(-2.0, log(u1))), cos(__dmul_rn(2.0 * 3.141592653589793, u2)));
}

#define DEFINE_NORMAL(T, SUFFIX)                                                                     \
extern "C" __global__ void normal_##SUFFIX(T* out, i64 n, u64 seed, u64 offset, double mean, double std) \
{                                                                                                    \
    GRID_STRIDE_LOOP(i, n) out[i] = (T)affine(mean, std, standard_normal(philox_block(offset + (u64)i, seed))); \
}

DEFINE_NORMAL(float, f32)
DEFINE_NORMAL(double, f64)

// low + bits % range over 64 bits, wrapping as the CPU's unchecked arithmetic does.
extern "C" __global__ void randint_i64(i64* out, i64 n, u64 seed, u64 offset, i64 low, u64 range)
{
    GRID_STRIDE_LOOP(i, n)
    {
        PhiloxBlock b = philox_block(offset + (u64)(i / 2), seed);
        int w = (int)(i % 2) * 2;
        u64 bits = ((u64)b.w[w] << 32) | b.w[w + 1];
        out[i] = (i64)((u64)low + bits % range);
    }
}
