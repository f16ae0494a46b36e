using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    // How many k steps ahead the strided copies prefetch: far enough to cover a miss to L3 or memory.
    private const int PrefetchSteps = 8;

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
        if (laneStride == 1 && !t_panelByPanel)
        {
            long whole = Math.Min(endPanel, extent / width);
            for (long group; whole - firstPanel > 1; firstPanel += group)
            {
                group = Math.Min(whole - firstPanel, StepByStepPanels);
                PackContiguousLanesStepByStep(dst, src, kStride, kc, width, firstPanel, firstPanel + group);
            }
        }
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
                // The steps are usually a matrix row apart (kilobytes): too far apart for the hardware prefetcher,
                // so each step's lines are asked for a few steps ahead.
                int bytes = width * sizeof(T);
                if (Sse.IsSupported && kStride * sizeof(T) > 256)
                {
                    int p = 0;
                    for (; p + PrefetchSteps < kc; p++, d += width)
                    {
                        byte* ahead = (byte*)(s + (p + PrefetchSteps) * kStride);
                        Sse.Prefetch0(ahead);
                        Sse.Prefetch0(ahead + bytes - 1);
                        CopyShort((byte*)d, (byte*)(s + p * kStride), bytes);
                    }
                    for (; p < kc; p++, d += width)
                        CopyShort((byte*)d, (byte*)(s + p * kStride), bytes);
                    continue;
                }
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

            if (kStride == 1 && lanes == 12 && width == 12 && typeof(T) == typeof(float) && Avx.IsSupported)
            {
                Pack12RowsAvx((float*)d, (float*)s, laneStride, kc);
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

            if (kStride == 1 && lanes == width && width % 4 == 0 && typeof(T) == typeof(double) && Avx.IsSupported && !t_scalarTranspose)
            {
                // A transposed B of doubles (a linear layer's W^T, a matmul backward's B^T): whole lanes contiguous
                // along k, transposed in registers by 4 x 4 instead of one scalar store per element.
                PackLanesAlongKAvx((double*)d, (double*)s, laneStride, width, kc);
            }
            else if (kStride == 1 && lanes >= 8 && typeof(T) == typeof(float) && Avx.IsSupported && !t_scalarTranspose)
            {
                // Lanes contiguous along k into a wide panel (a transposed B, such as a weight read as Wᵀ or a
                // convolution's output gradient): eight lanes at a time through an 8x8 transpose in registers.
                int done = PackLanes8Avx((float*)d, (float*)s, laneStride, lanes, kc, width);
                for (int l = done; l < lanes; l++)
                {
                    T* sl = s + l * laneStride;
                    T* dl = d + l;
                    for (int p = 0; p < kc; p++)
                        dl[p * width] = sl[p];
                }
            }
            else if (kStride == 1)
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

    [ThreadStatic] private static bool t_scalarTranspose;
    [ThreadStatic] private static bool t_panelByPanel;

    // Panels packed step by step together: six 12-float panels read 288 bytes of a row per step and write six streams.
    // A 512 x 512 Aᵀ into 43 panels (one thread, min of 3000, loaded 2-vCPU Zen 4 VM, load 14-16, 2026-12-08): 0.068 ms
    // panel by panel; in groups of 4 / 6 / 8 / 12 / 16 panels 0.051 / 0.049 / 0.053 / 0.077 / 0.077 (more write streams
    // than the core follows well); a 6-panel work item's rows 0.064 -> 0.045.
    private const int StepByStepPanels = 6;

    /// <summary>Tests and A/B timings only: pack several panels of contiguous lanes one panel after the other (same bits).</summary>
    internal static bool PanelByPanel
    {
        get => t_panelByPanel;
        set => t_panelByPanel = value;
    }

    // Whole panels [firstPanel, endPanel) of lanes contiguous in memory, k steps a row apart (an A read transposed: a
    // matmul's dB = Aᵀ·dC, where each step is a row of A): step by step, each step's lanes of all the panels read as one
    // contiguous run and copied to each panel. Panel by panel, the first panel's pass reads 48 of a row's bytes and
    // the next pass reads the rest of the same 64-byte lines, evicted by then (512 rows apart). The bits of the panel
    // loop: a pure copy.
    private static void PackContiguousLanesStepByStep<T>(T* dst, T* src, long kStride, int kc, int width, long firstPanel, long endPanel)
        where T : unmanaged
    {
        int bytes = width * sizeof(T);
        long panelElems = (long)width * kc;
        long runBytes = (endPanel - firstPanel) * bytes;
        T* s = src + firstPanel * width;
        T* d = dst + firstPanel * panelElems;
        bool prefetch = Sse.IsSupported && kStride * sizeof(T) > 256;
        for (int p = 0; p < kc; p++, s += kStride, d += width)
        {
            if (prefetch && p + PrefetchSteps < kc)
            {
                byte* ahead = (byte*)(s + PrefetchSteps * kStride);
                for (long x = 0; x < runBytes; x += 64) Sse.Prefetch0(ahead + x);
                Sse.Prefetch0(ahead + runBytes - 1);
            }
            T* sp = s;
            T* dp = d;
            for (long panel = firstPanel; panel < endPanel; panel++, sp += width, dp += panelElems)
                CopyShort((byte*)dp, (byte*)sp, bytes);
        }
    }

    /// <summary>Tests only: pack lanes that run along k element by element instead of through 8x8 transposes (same bits).</summary>
    internal static bool ScalarTranspose
    {
        get => t_scalarTranspose;
        set => t_scalarTranspose = value;
    }

    // Lanes [0, lanes / 8 * 8), each contiguous along k (lane l at s + l * laneStride), into a panel of `width` lanes
    // (step p at d + p * width): per group of eight lanes and eight steps one 8x8 transpose in registers, the last
    // kc % 8 steps element by element. Returns the lanes done. A pure copy: the scalar loop's bits.
    private static int PackLanes8Avx(float* d, float* s, long laneStride, int lanes, int kc, int width)
    {
        int groups = lanes / 8;
        for (int g = 0; g < groups; g++)
        {
            float* s0 = s + 8 * g * laneStride, s1 = s0 + laneStride, s2 = s1 + laneStride, s3 = s2 + laneStride;
            float* s4 = s3 + laneStride, s5 = s4 + laneStride, s6 = s5 + laneStride, s7 = s6 + laneStride;
            float* dg = d + 8 * g;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
                Transpose8x8(s0 + p, laneStride, dg + (long)p * width, width);
            for (; p < kc; p++)
            {
                float* dp = dg + (long)p * width;
                dp[0] = s0[p]; dp[1] = s1[p]; dp[2] = s2[p]; dp[3] = s3[p];
                dp[4] = s4[p]; dp[5] = s5[p]; dp[6] = s6[p]; dp[7] = s7[p];
            }
        }
        return groups * 8;
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

    // Width double lanes, each contiguous along k (lane l at s + l * laneStride), into step-major groups of width:
    // blocks of 4 lanes x 4 steps transposed in registers; the last kc % 4 steps one by one. A pure copy.
    private static void PackLanesAlongKAvx(double* d, double* s, long laneStride, int width, int kc)
    {
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            for (int l = 0; l < width; l += 4)
            {
                double* r = s + l * laneStride + p;
                var r0 = Avx.LoadVector256(r);
                var r1 = Avx.LoadVector256(r + laneStride);
                var r2 = Avx.LoadVector256(r + 2 * laneStride);
                var r3 = Avx.LoadVector256(r + 3 * laneStride);
                var t0 = Avx.UnpackLow(r0, r1);  // (l0 p0, l1 p0 | l0 p2, l1 p2)
                var t1 = Avx.UnpackHigh(r0, r1); // (l0 p1, l1 p1 | l0 p3, l1 p3)
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);
                double* o = d + p * width + l;
                Avx.Store(o, Avx.Permute2x128(t0, t2, 0x20));
                Avx.Store(o + width, Avx.Permute2x128(t1, t3, 0x20));
                Avx.Store(o + 2 * width, Avx.Permute2x128(t0, t2, 0x31));
                Avx.Store(o + 3 * width, Avx.Permute2x128(t1, t3, 0x31));
            }
        }
        for (; p < kc; p++)
            for (int l = 0; l < width; l++)
                d[p * width + l] = s[l * laneStride + p];
    }

    // Eight rows of eight floats (row l at s + l * stride) stored as eight columns: column j at d + j * dStride.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, long stride, float* d, int dStride)
    {
        var t0 = Avx.UnpackLow(Avx.LoadVector256(s), Avx.LoadVector256(s + stride));
        var t1 = Avx.UnpackHigh(Avx.LoadVector256(s), Avx.LoadVector256(s + stride));
        var t2 = Avx.UnpackLow(Avx.LoadVector256(s + 2 * stride), Avx.LoadVector256(s + 3 * stride));
        var t3 = Avx.UnpackHigh(Avx.LoadVector256(s + 2 * stride), Avx.LoadVector256(s + 3 * stride));
        var t4 = Avx.UnpackLow(Avx.LoadVector256(s + 4 * stride), Avx.LoadVector256(s + 5 * stride));
        var t5 = Avx.UnpackHigh(Avx.LoadVector256(s + 4 * stride), Avx.LoadVector256(s + 5 * stride));
        var t6 = Avx.UnpackLow(Avx.LoadVector256(s + 6 * stride), Avx.LoadVector256(s + 7 * stride));
        var t7 = Avx.UnpackHigh(Avx.LoadVector256(s + 6 * stride), Avx.LoadVector256(s + 7 * stride));
        var q0 = Avx.Shuffle(t0, t2, 0x44);
        var q1 = Avx.Shuffle(t0, t2, 0xEE);
        var q2 = Avx.Shuffle(t1, t3, 0x44);
        var q3 = Avx.Shuffle(t1, t3, 0xEE);
        var q4 = Avx.Shuffle(t4, t6, 0x44);
        var q5 = Avx.Shuffle(t4, t6, 0xEE);
        var q6 = Avx.Shuffle(t5, t7, 0x44);
        var q7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(q0, q4, 0x20));
        Avx.Store(d + dStride, Avx.Permute2x128(q1, q5, 0x20));
        Avx.Store(d + 2 * dStride, Avx.Permute2x128(q2, q6, 0x20));
        Avx.Store(d + 3 * dStride, Avx.Permute2x128(q3, q7, 0x20));
        Avx.Store(d + 4 * dStride, Avx.Permute2x128(q0, q4, 0x31));
        Avx.Store(d + 5 * dStride, Avx.Permute2x128(q1, q5, 0x31));
        Avx.Store(d + 6 * dStride, Avx.Permute2x128(q2, q6, 0x31));
        Avx.Store(d + 7 * dStride, Avx.Permute2x128(q3, q7, 0x31));
    }

    // Twelve float rows along k into 12-lane groups, eight k steps at a time: the first eight rows through an
    // 8x8 transpose in registers, the other four through a 4x8 one, instead of 96 scalar loads and stores. A
    // pure copy, so the packed bits are those of the scalar loop (which still does the last kc % 8 steps).
    private static void Pack12RowsAvx(float* d, float* s, long laneStride, int kc)
    {
        float* s0 = s, s1 = s + laneStride, s2 = s + 2 * laneStride, s3 = s + 3 * laneStride;
        float* s4 = s + 4 * laneStride, s5 = s + 5 * laneStride, s6 = s + 6 * laneStride, s7 = s + 7 * laneStride;
        float* s8 = s + 8 * laneStride, s9 = s + 9 * laneStride, s10 = s + 10 * laneStride, s11 = s + 11 * laneStride;
        int p = 0;
        for (; p + 8 <= kc; p += 8, d += 96)
        {
            Transpose8x8(s0 + p, laneStride, d, 12); // rows 0-7

            // Rows 8-11: the first two stages of Transpose8x8; each result holds steps j and j + 4.
            var u0 = Avx.UnpackLow(Avx.LoadVector256(s8 + p), Avx.LoadVector256(s9 + p));
            var u1 = Avx.UnpackHigh(Avx.LoadVector256(s8 + p), Avx.LoadVector256(s9 + p));
            var u2 = Avx.UnpackLow(Avx.LoadVector256(s10 + p), Avx.LoadVector256(s11 + p));
            var u3 = Avx.UnpackHigh(Avx.LoadVector256(s10 + p), Avx.LoadVector256(s11 + p));
            var w0 = Avx.Shuffle(u0, u2, 0x44);
            var w1 = Avx.Shuffle(u0, u2, 0xEE);
            var w2 = Avx.Shuffle(u1, u3, 0x44);
            var w3 = Avx.Shuffle(u1, u3, 0xEE);
            Sse.Store(d + 8, w0.GetLower()); Sse.Store(d + 56, w0.GetUpper());
            Sse.Store(d + 20, w1.GetLower()); Sse.Store(d + 68, w1.GetUpper());
            Sse.Store(d + 32, w2.GetLower()); Sse.Store(d + 80, w2.GetUpper());
            Sse.Store(d + 44, w3.GetLower()); Sse.Store(d + 92, w3.GetUpper());
        }
        for (; p < kc; p++, d += 12)
        {
            d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p];
            d[4] = s4[p]; d[5] = s5[p]; d[6] = s6[p]; d[7] = s7[p];
            d[8] = s8[p]; d[9] = s9[p]; d[10] = s10[p]; d[11] = s11[p];
        }
    }
}
