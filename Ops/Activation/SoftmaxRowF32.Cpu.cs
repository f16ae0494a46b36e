using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Ops;

/// <summary>
/// Softmax and log-softmax of one contiguous float row, fused: a max pass, one pass that takes exp(x − max) (with
/// <see cref="SoftmaxExpF32"/>, its constants in registers), stores it and sums it, and one pass that scales by 1 / sum (as PyTorch does) or, for the
/// log form, subtracts log(sum). The backward is a sum pass and one output pass. A row is reread from L1, so the
/// memory traffic is one read and one write, where the five <c>TensorPrimitives</c> passes made five.
/// </summary>
/// <remarks>
/// Every sum runs over 32 lanes (element i of each whole block of 32 into lane i mod 32, two 512-bit or four 256-bit
/// vectors), folded in a fixed order, then the elements past the last whole block one by one. Both widths so add the
/// same values in the same order, and exp and the max give the same bits at both: the whole kernel gives the same bits
/// at 512 and 256 bits, and for any thread count (a row belongs to one thread). The max is IEEE maximum (NaN wins,
/// +0 over −0), so its result does not depend on the order either. Rows may be written in place (y == x).
/// </remarks>
internal static unsafe class SoftmaxRowF32
{
    private const int Block = 32;

    /// <summary>Whether the fused kernels run here: 256-bit vectors in hardware (or the 512-bit ones chosen).</summary>
    public static bool Available => Vector256.IsHardwareAccelerated || VectorWidth.Use512;

    private static bool Wide => VectorWidth.Use512 && Vector512<float>.IsSupported;

    /// <summary>y = softmax(x) or log_softmax(x) over n values; x and y may be the same row.</summary>
    public static void Forward(float* x, float* y, int n, bool log)
    {
        if (n == 0) return;
        float max = Max(x, n);
        float sum = SumExp(x, log ? null : y, max, n);
        if (log) Shift(x, y, max, MathF.Log(sum), n);
        else Scale(y, 1f / sum, n);
    }

    /// <summary>
    /// gx = y ⊙ (g − Σ g⊙y) for softmax, gx = g − exp(y)·Σ g for log-softmax (y the forward's output); gx may be g's row.
    /// <paramref name="stream"/> (softmax, 512-bit lanes): gx written with non-temporal stores, the caller fencing them
    /// (<c>Sse.StoreFence</c>) before another thread reads gx. <paramref name="prefetchNext"/>: the rows are contiguous
    /// and the next one (g + n, y + n) is this thread's too; the streamed pass prefetches it.
    /// </summary>
    public static void Backward(float* g, float* y, float* gx, int n, bool log, bool stream = false, bool prefetchNext = false)
    {
        if (n == 0) return;
        if (log)
        {
            float s = Sum(g, null, n);
            int i = 0;
            if (Wide)
                for (var vs = Vector512.Create(s); i + 16 <= n; i += 16)
                    Vector512.Store(Vector512.FusedMultiplyAdd(-ExpF32.Exp(Vector512.Load(y + i)), vs, Vector512.Load(g + i)), gx + i);
            for (var vs = Vector256.Create(s); i + 8 <= n; i += 8)
                Vector256.Store(Vector256.FusedMultiplyAdd(-ExpF32.Exp(Vector256.Load(y + i)), vs, Vector256.Load(g + i)), gx + i);
            for (; i < n; i++) gx[i] = MathF.FusedMultiplyAdd(-ExpF32.Exp(y[i]), s, g[i]);
        }
        else
        {
            float dot = Sum(g, y, n);
            int i = 0;
            if (Wide)
            {
                var vd = Vector512.Create(dot);
                if (stream)
                {
                    // Non-temporal stores from the first 64-byte boundary of gx on: the output goes to memory without
                    // being read first. The same operations per element as below, so the same bits.
                    int head = StreamingStores.Head(gx, n);
                    for (; i < head; i++) gx[i] = (g[i] - dot) * y[i];
                    if (prefetchNext)
                    {
                        // The output pass reads from L1; meanwhile the next row's g and y (one line each per vector
                        // here) are fetched into L1, so its dot pass does not wait on memory (same process, 2 threads,
                        // [4096, 1000], loaded machine: 0.92x the time). Prefetches never fault.
                        for (; i + 16 <= n; i += 16)
                        {
                            Sse.Prefetch0(g + n + i);
                            Sse.Prefetch0(y + n + i);
                            Vector512.StoreAlignedNonTemporal((Vector512.Load(g + i) - vd) * Vector512.Load(y + i), gx + i);
                        }
                    }
                    for (; i + 16 <= n; i += 16) Vector512.StoreAlignedNonTemporal((Vector512.Load(g + i) - vd) * Vector512.Load(y + i), gx + i);
                }
                for (; i + 32 <= n; i += 32)
                {
                    Vector512.Store((Vector512.Load(g + i) - vd) * Vector512.Load(y + i), gx + i);
                    Vector512.Store((Vector512.Load(g + i + 16) - vd) * Vector512.Load(y + i + 16), gx + i + 16);
                }
                for (; i + 16 <= n; i += 16) Vector512.Store((Vector512.Load(g + i) - vd) * Vector512.Load(y + i), gx + i);
            }
            var wd = Vector256.Create(dot);
            for (; i + 16 <= n; i += 16)
            {
                Vector256.Store((Vector256.Load(g + i) - wd) * Vector256.Load(y + i), gx + i);
                Vector256.Store((Vector256.Load(g + i + 8) - wd) * Vector256.Load(y + i + 8), gx + i + 8);
            }
            for (; i + 8 <= n; i += 8) Vector256.Store((Vector256.Load(g + i) - wd) * Vector256.Load(y + i), gx + i);
            for (; i < n; i++) gx[i] = (g[i] - dot) * y[i];
        }
    }

    /// <summary>
    /// The largest of x[0..n), IEEE maximum: NaN if any is NaN. Four running maxima: the IEEE maximum is three
    /// instructions in a chain (vrangeps and two vfixupimmps with AVX-512), so two chains left the pass waiting on them
    /// (0.149 against 0.208 ms for the 4096 rows of 1000 with four, one thread, Zen 4). The order does not change the result.
    /// </summary>
    private static float Max(float* x, int n)
    {
        float max = float.NegativeInfinity;
        int i = 0;
        if (Wide && n >= 16)
        {
            var m0 = Vector512.Create(float.NegativeInfinity);
            Vector512<float> m1 = m0, m2 = m0, m3 = m0;
            for (; i + 64 <= n; i += 64)
            {
                m0 = Vector512.Max(m0, Vector512.Load(x + i));
                m1 = Vector512.Max(m1, Vector512.Load(x + i + 16));
                m2 = Vector512.Max(m2, Vector512.Load(x + i + 32));
                m3 = Vector512.Max(m3, Vector512.Load(x + i + 48));
            }
            for (; i + 16 <= n; i += 16) m0 = Vector512.Max(m0, Vector512.Load(x + i));
            var m = Vector512.Max(Vector512.Max(m0, m1), Vector512.Max(m2, m3));
            max = MaxOf(Vector256.Max(m.GetLower(), m.GetUpper()));
        }
        else if (n >= 8)
        {
            var m0 = Vector256.Create(float.NegativeInfinity);
            Vector256<float> m1 = m0, m2 = m0, m3 = m0;
            for (; i + 32 <= n; i += 32)
            {
                m0 = Vector256.Max(m0, Vector256.Load(x + i));
                m1 = Vector256.Max(m1, Vector256.Load(x + i + 8));
                m2 = Vector256.Max(m2, Vector256.Load(x + i + 16));
                m3 = Vector256.Max(m3, Vector256.Load(x + i + 24));
            }
            for (; i + 8 <= n; i += 8) m0 = Vector256.Max(m0, Vector256.Load(x + i));
            max = MaxOf(Vector256.Max(Vector256.Max(m0, m1), Vector256.Max(m2, m3)));
        }
        for (; i < n; i++) max = float.Max(max, x[i]);
        return max;
    }

    private static float MaxOf(Vector256<float> v)
    {
        var q = Vector128.Max(v.GetLower(), v.GetUpper());
        return float.Max(float.Max(q[0], q[1]), float.Max(q[2], q[3]));
    }

    /// <summary>Σ exp(x − max) (<see cref="SoftmaxExpF32"/>), storing each exp in y when y is not null.</summary>
    private static float SumExp(float* x, float* y, float max, int n)
    {
        int whole = n / Block * Block;
        float[] c = SoftmaxExpF32.Constants;
        float sum;
        if (Wide)
        {
            Vector512<float> lowest = Vector512.Create(c[0]), log2e = Vector512.Create(c[1]), shifter = Vector512.Create(c[2]),
                minusLn2 = Vector512.Create(c[3]), p1 = Vector512.Create(c[4]), p2 = Vector512.Create(c[5]), p3 = Vector512.Create(c[6]),
                p4 = Vector512.Create(c[7]), p5 = Vector512.Create(c[8]);
            var vmax = Vector512.Create(max);
            Vector512<float> a0 = default, a1 = default;
            for (int i = 0; i < whole; i += Block)
            {
                var e0 = SoftmaxExpF32.Exp(Vector512.Load(x + i) - vmax, lowest, log2e, shifter, minusLn2, p1, p2, p3, p4, p5);
                var e1 = SoftmaxExpF32.Exp(Vector512.Load(x + i + 16) - vmax, lowest, log2e, shifter, minusLn2, p1, p2, p3, p4, p5);
                if (y != null) { e0.Store(y + i); e1.Store(y + i + 16); }
                a0 += e0;
                a1 += e1;
            }
            sum = Fold(a0 + a1);
        }
        else
        {
            Vector256<float> lowest = Vector256.Create(c[0]), log2e = Vector256.Create(c[1]), shifter = Vector256.Create(c[2]),
                minusLn2 = Vector256.Create(c[3]), p1 = Vector256.Create(c[4]), p2 = Vector256.Create(c[5]), p3 = Vector256.Create(c[6]),
                p4 = Vector256.Create(c[7]), p5 = Vector256.Create(c[8]);
            var vmax = Vector256.Create(max);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < whole; i += Block)
            {
                var e0 = SoftmaxExpF32.Exp(Vector256.Load(x + i) - vmax, lowest, log2e, shifter, minusLn2, p1, p2, p3, p4, p5);
                var e1 = SoftmaxExpF32.Exp(Vector256.Load(x + i + 8) - vmax, lowest, log2e, shifter, minusLn2, p1, p2, p3, p4, p5);
                var e2 = SoftmaxExpF32.Exp(Vector256.Load(x + i + 16) - vmax, lowest, log2e, shifter, minusLn2, p1, p2, p3, p4, p5);
                var e3 = SoftmaxExpF32.Exp(Vector256.Load(x + i + 24) - vmax, lowest, log2e, shifter, minusLn2, p1, p2, p3, p4, p5);
                if (y != null) { e0.Store(y + i); e1.Store(y + i + 8); e2.Store(y + i + 16); e3.Store(y + i + 24); }
                a0 += e0;
                a1 += e1;
                a2 += e2;
                a3 += e3;
            }
            sum = Fold(a0 + a2, a1 + a3);
        }
        // The tail: exp in vectors (the last few padded into one of eight; the values do not depend on the width or the
        // lane), added one by one.
        int tail = n - whole;
        if (tail == 0) return sum;
        float* e = stackalloc float[Block];
        int j = 0;
        if (Wide) for (var vmax = Vector512.Create(max); j + 16 <= tail; j += 16) SoftmaxExpF32.Exp(Vector512.Load(x + whole + j) - vmax).Store(e + j);
        for (var vmax = Vector256.Create(max); j + 8 <= tail; j += 8) SoftmaxExpF32.Exp(Vector256.Load(x + whole + j) - vmax).Store(e + j);
        if (j < tail)
        {
            var pad = Vector256<float>.Zero;
            for (int l = j; l < tail; l++) pad = pad.WithElement(l - j, x[whole + l]);
            SoftmaxExpF32.Exp(pad - Vector256.Create(max)).Store(e + j);
        }
        for (j = 0; j < tail; j++)
        {
            sum += e[j];
            if (y != null) y[whole + j] = e[j];
        }
        return sum;
    }

    /// <summary>Σ a (b null) or Σ a⊙b over the 32 lanes, then the tail.</summary>
    private static float Sum(float* a, float* b, int n)
    {
        int whole = n / Block * Block;
        float sum;
        if (Wide)
        {
            Vector512<float> a0 = default, a1 = default;
            if (b == null)
                for (int i = 0; i < whole; i += Block)
                {
                    a0 += Vector512.Load(a + i);
                    a1 += Vector512.Load(a + i + 16);
                }
            else
                for (int i = 0; i < whole; i += Block)
                {
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16), a1);
                }
            sum = Fold(a0 + a1);
        }
        else
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            if (b == null)
                for (int i = 0; i < whole; i += Block)
                {
                    a0 += Vector256.Load(a + i);
                    a1 += Vector256.Load(a + i + 8);
                    a2 += Vector256.Load(a + i + 16);
                    a3 += Vector256.Load(a + i + 24);
                }
            else
                for (int i = 0; i < whole; i += Block)
                {
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), a3);
                }
            sum = Fold(a0 + a2, a1 + a3);
        }
        for (int i = whole; i < n; i++) sum = b == null ? sum + a[i] : MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    /// <summary>The 16 lanes (lane l = block lanes l and l + 16 added) folded: halves added, then quarters, then pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Fold(Vector512<float> v) => Fold(v.GetLower(), v.GetUpper());

    /// <summary>The same fold from the 256-bit halves (lanes 0-7 and 8-15).</summary>
    private static float Fold(Vector256<float> lo, Vector256<float> hi)
    {
        var h = lo + hi;
        var q = h.GetLower() + h.GetUpper();
        return (q[0] + q[2]) + (q[1] + q[3]);
    }

    /// <summary>y *= s.</summary>
    private static void Scale(float* y, float s, int n)
    {
        int i = 0;
        if (Wide)
            for (var vs = Vector512.Create(s); i + 16 <= n; i += 16) Vector512.Store(Vector512.Load(y + i) * vs, y + i);
        for (var vs = Vector256.Create(s); i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(y + i) * vs, y + i);
        for (; i < n; i++) y[i] *= s;
    }

    /// <summary>y = (x − max) − logSum.</summary>
    private static void Shift(float* x, float* y, float max, float logSum, int n)
    {
        int i = 0;
        if (Wide)
        {
            var vm = Vector512.Create(max);
            var vl = Vector512.Create(logSum);
            for (; i + 16 <= n; i += 16) Vector512.Store(Vector512.Load(x + i) - vm - vl, y + i);
        }
        var wm = Vector256.Create(max);
        var wl = Vector256.Create(logSum);
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(x + i) - wm - wl, y + i);
        for (; i < n; i++) y[i] = x[i] - max - logSum;
    }
}
