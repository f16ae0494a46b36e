using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Cpu;

/// <summary>
/// Packing of A and B into the contiguous, zero-padded micro-panels the kernels stream through.
/// </summary>
/// <remarks>
/// A and B panels are the same operation seen from two sides: a panel is <c>width</c> "lanes"
/// (rows of A, columns of B) by <c>kc</c> steps along k, stored step-major. Packing reads through
/// arbitrary strides, which is what lets transposed or strided views be multiplied without a copy;
/// the two unit-stride cases get a faster loop because they are what row- and column-major inputs
/// produce.
/// </remarks>
internal static unsafe class GemmPack
{
    /// <summary>
    /// Packs panels [<paramref name="firstPanel"/>, <paramref name="endPanel"/>) of a
    /// <paramref name="extent"/> x <paramref name="kc"/> block: element (lane l, step p) is
    /// <c>src[l*laneStride + p*kStride]</c>, written to <c>dst[panel*width*kc + p*width + l%width]</c>.
    /// Lanes past <paramref name="extent"/> are zeroed: the kernel always computes a full tile and the
    /// driver discards the padded part, but stale buffer contents could be denormals (slow) or NaN.
    /// </summary>
    public static void Pack<T>(T* dst, T* src, long laneStride, long kStride, int extent, int kc, int width,
        long firstPanel, long endPanel) where T : unmanaged
    {
        for (long panel = firstPanel; panel < endPanel; panel++)
        {
            long lane0 = panel * width;
            int lanes = (int)Math.Min(width, extent - lane0);
            T* d = dst + panel * width * kc;
            T* s = src + lane0 * laneStride;

            if (lanes == width && laneStride == 1)
            {
                // Lanes are contiguous in memory: one short copy per k step, inline (a call to the general
                // block copy per step of 48-128 bytes took 13% of a skinny product's time).
                int bytes = width * sizeof(T);
                for (int p = 0; p < kc; p++, d += width)
                    CopyShort((byte*)d, (byte*)(s + p * kStride), bytes);
                continue;
            }

            if (kStride == 1 && lanes == 6 && width == 6)
            {
                // Row-major A into the 6-row kernels, the most common case: walk k once with six read
                // streams, so each step writes one contiguous group instead of six strided passes.
                T* s0 = s, s1 = s + laneStride, s2 = s + 2 * laneStride;
                T* s3 = s + 3 * laneStride, s4 = s + 4 * laneStride, s5 = s + 5 * laneStride;
                for (int p = 0; p < kc; p++, d += 6)
                {
                    d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p];
                    d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
                }
                continue;
            }

            if (kStride == 1 && lanes == 12 && width == 12)
            {
                // The same for the 12-row AVX-512 kernels: twelve read streams, one 12-value group per step.
                T* s0 = s, s1 = s + laneStride, s2 = s + 2 * laneStride, s3 = s + 3 * laneStride;
                T* s4 = s + 4 * laneStride, s5 = s + 5 * laneStride, s6 = s + 6 * laneStride, s7 = s + 7 * laneStride;
                T* s8 = s + 8 * laneStride, s9 = s + 9 * laneStride, s10 = s + 10 * laneStride, s11 = s + 11 * laneStride;
                for (int p = 0; p < kc; p++, d += 12)
                {
                    d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p];
                    d[4] = s4[p]; d[5] = s5[p]; d[6] = s6[p]; d[7] = s7[p];
                    d[8] = s8[p]; d[9] = s9[p]; d[10] = s10[p]; d[11] = s11[p];
                }
                continue;
            }

            if (kStride == 1)
            {
                // Each lane is contiguous along k: read it sequentially, scatter with stride width.
                for (int l = 0; l < lanes; l++)
                {
                    T* sl = s + l * laneStride;
                    T* dl = d + l;
                    for (int p = 0; p < kc; p++)
                        dl[p * width] = sl[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    T* sp = s + p * kStride;
                    T* dp = d + p * width;
                    for (int l = 0; l < lanes; l++)
                        dp[l] = sp[l * laneStride];
                }
            }

            if (lanes < width)
            {
                for (int p = 0; p < kc; p++)
                    for (int l = lanes; l < width; l++)
                        d[p * width + l] = default;
            }
        }
    }

    // Copies a few dozen bytes (a multiple of 4): 32-byte vectors, then 8- and 4-byte words.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort(byte* d, byte* s, int bytes)
    {
        int x = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; x + 32 <= bytes; x += 32)
                Vector256.Store(Vector256.Load(s + x), d + x);
        }
        for (; x + 8 <= bytes; x += 8) *(ulong*)(d + x) = *(ulong*)(s + x);
        if (x < bytes) *(uint*)(d + x) = *(uint*)(s + x);
    }
}
