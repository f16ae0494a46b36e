using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

/// <summary>
/// Float32 sums of contiguous rows (a sum over the trailing axes of a contiguous tensor, such as <c>x.Sum(1)</c> of a
/// matrix). <see cref="Rows"/> rows are summed together, each with two float lane accumulators of its own, so that
/// eight independent additions are in flight and each loaded vector needs one add (one row at a time through
/// <c>TensorPrimitives.Sum</c> paid a call, its alignment head and its horizontal finish per row); inputs larger than a
/// core's L2 are read one row after another instead (<see cref="Sequential"/>), with the same operations. Every sum ends in
/// double: the float lanes run for at most <see cref="LaneRun"/> vector pairs before they are widened into a double
/// vector total; the scalar tail is added in double. A row's operations depend on its length only, not on which rows
/// share its group or thread, so the bits do not depend on the thread count; the two vector widths agree within
/// rounding.
/// </summary>
internal static unsafe class RowSumF32
{
    /// <summary>Rows summed together.</summary>
    internal const int Rows = 4;

    /// <summary>Vector pairs a float lane accumulator adds before it is widened into the row's double total.</summary>
    internal const int LaneRun = 16;

    /// <summary>
    /// Inputs of at least this many floats (2 MiB, a core's L2 on Zen 4) with rows of at least
    /// <see cref="SequentialMinLength"/> are summed one row after another instead of four at a time. Such an input
    /// comes from L3 or memory, and there the hardware prefetcher serves one forward stream better than four streams a
    /// row apart. On the issue-20 machine (Zen 4, load average 25-30, same process, 2 threads, medians of 450 calls
    /// in two rounds): [4096,1024] 0.25-0.29 against 0.34-0.45 ms, [16384,256] 0.27-0.32 against 1.6-1.8,
    /// [8192,256] 0.095 against 0.116-0.120, [1024,512] 0.023 against 0.025-0.031; at 1 MiB and below (L2) the
    /// four rows' eight chains in flight keep up (0.010-0.012 ms either way). A row's operations are the same either
    /// way: the same bits.
    /// </summary>
    internal const long SequentialFromFloats = 512L * 1024;

    /// <summary>The shortest rows summed one after another in a large input (at 64 floats the four-row groups kept up).</summary>
    internal const int SequentialMinLength = 128;

    /// <summary>Whether <see cref="Run(float*, long, int, float*, bool)"/> sums the rows one after another (true) or four at a time.</summary>
    internal static bool Sequential(long rows, int length) => length >= SequentialMinLength && rows * length >= SequentialFromFloats;

    /// <summary>Whether the widening instructions are there (x86 with AVX); elsewhere the caller keeps its generic path.</summary>
    internal static bool Supported => Avx.IsSupported;

    /// <summary>
    /// y[r] = Σ x[r * length + i] for r below <paramref name="rows"/>, over threads in groups of rows (each group's
    /// rows together, or one after another in a large input: <see cref="Sequential"/>).
    /// </summary>
    internal static void Run(float* x, long rows, int length, float* y, bool use512) =>
        Run(x, rows, length, y, use512, Sequential(rows, length));

    /// <summary><see cref="Run(float*, long, int, float*, bool)"/> with the order of the rows chosen by the caller (tests, measurements).</summary>
    internal static void Run(float* x, long rows, int length, float* y, bool use512, bool sequential)
    {
        if (use512 && !Avx512F.IsSupported) use512 = false;
        long groups = (rows + Rows - 1) / Rows;
        CpuParallel.For(groups, (double)Rows * Math.Max(1, length), (start, end) =>
        {
            for (long q = start; q < end; q++)
            {
                long r0 = q * Rows;
                float* p = x + r0 * length;
                if (rows - r0 >= Rows && !sequential)
                {
                    if (use512) Four512(p, length, y + r0);
                    else Four256(p, length, y + r0);
                    continue;
                }
                for (long r = r0, stop = Math.Min(rows, r0 + Rows); r < stop; r++)
                    y[r] = use512 ? One512(x + r * length, length) : One256(x + r * length, length);
            }
        });
    }

    /// <summary>The float lanes of <paramref name="a"/> widened and added into <paramref name="total"/>.</summary>
    private static Vector512<double> Widen(Vector512<double> total, Vector512<float> a) =>
        total + Avx512F.ConvertToVector512Double(a.GetLower()) + Avx512F.ConvertToVector512Double(a.GetUpper());

    private static Vector256<double> Widen(Vector256<double> total, Vector256<float> a) =>
        total + Avx.ConvertToVector256Double(a.GetLower()) + Avx.ConvertToVector256Double(a.GetUpper());

    /// <summary>The row's double total plus its scalar tail from <paramref name="i"/> on, in double, narrowed.</summary>
    private static float Finish(double total, float* row, int i, int length)
    {
        for (; i < length; i++) total += row[i];
        return (float)total;
    }

    private static float One512(float* row, int length)
    {
        int whole = length & ~15, i = 0;
        var total = Vector512<double>.Zero;
        while (i < whole)
        {
            Vector512<float> a0 = Vector512<float>.Zero, a1 = a0;
            int stop = Math.Min(whole, i + 32 * LaneRun);
            for (; i + 32 <= stop; i += 32)
            {
                a0 += Vector512.Load(row + i);
                a1 += Vector512.Load(row + i + 16);
            }
            if (i < stop) { a0 += Vector512.Load(row + i); i += 16; }
            total = Widen(total, a0 + a1);
        }
        return Finish(Vector512.Sum(total), row, i, length);
    }

    private static void Four512(float* p, int length, float* y)
    {
        float* p0 = p, p1 = p + length, p2 = p1 + length, p3 = p2 + length;
        int whole = length & ~15, i = 0;
        Vector512<double> t0 = Vector512<double>.Zero, t1 = t0, t2 = t0, t3 = t0;
        while (i < whole)
        {
            Vector512<float> a0 = Vector512<float>.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            int stop = Math.Min(whole, i + 32 * LaneRun);
            for (; i + 32 <= stop; i += 32)
            {
                a0 += Vector512.Load(p0 + i);
                b0 += Vector512.Load(p0 + i + 16);
                a1 += Vector512.Load(p1 + i);
                b1 += Vector512.Load(p1 + i + 16);
                a2 += Vector512.Load(p2 + i);
                b2 += Vector512.Load(p2 + i + 16);
                a3 += Vector512.Load(p3 + i);
                b3 += Vector512.Load(p3 + i + 16);
            }
            if (i < stop)
            {
                a0 += Vector512.Load(p0 + i);
                a1 += Vector512.Load(p1 + i);
                a2 += Vector512.Load(p2 + i);
                a3 += Vector512.Load(p3 + i);
                i += 16;
            }
            t0 = Widen(t0, a0 + b0);
            t1 = Widen(t1, a1 + b1);
            t2 = Widen(t2, a2 + b2);
            t3 = Widen(t3, a3 + b3);
        }
        y[0] = Finish(Vector512.Sum(t0), p0, i, length);
        y[1] = Finish(Vector512.Sum(t1), p1, i, length);
        y[2] = Finish(Vector512.Sum(t2), p2, i, length);
        y[3] = Finish(Vector512.Sum(t3), p3, i, length);
    }

    private static float One256(float* row, int length)
    {
        int whole = length & ~7, i = 0;
        var total = Vector256<double>.Zero;
        while (i < whole)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0;
            int stop = Math.Min(whole, i + 16 * LaneRun);
            for (; i + 16 <= stop; i += 16)
            {
                a0 += Vector256.Load(row + i);
                a1 += Vector256.Load(row + i + 8);
            }
            if (i < stop) { a0 += Vector256.Load(row + i); i += 8; }
            total = Widen(total, a0 + a1);
        }
        return Finish(Vector256.Sum(total), row, i, length);
    }

    private static void Four256(float* p, int length, float* y)
    {
        float* p0 = p, p1 = p + length, p2 = p1 + length, p3 = p2 + length;
        int whole = length & ~7, i = 0;
        Vector256<double> t0 = Vector256<double>.Zero, t1 = t0, t2 = t0, t3 = t0;
        while (i < whole)
        {
            Vector256<float> a0 = Vector256<float>.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            int stop = Math.Min(whole, i + 16 * LaneRun);
            for (; i + 16 <= stop; i += 16)
            {
                a0 += Vector256.Load(p0 + i);
                b0 += Vector256.Load(p0 + i + 8);
                a1 += Vector256.Load(p1 + i);
                b1 += Vector256.Load(p1 + i + 8);
                a2 += Vector256.Load(p2 + i);
                b2 += Vector256.Load(p2 + i + 8);
                a3 += Vector256.Load(p3 + i);
                b3 += Vector256.Load(p3 + i + 8);
            }
            if (i < stop)
            {
                a0 += Vector256.Load(p0 + i);
                a1 += Vector256.Load(p1 + i);
                a2 += Vector256.Load(p2 + i);
                a3 += Vector256.Load(p3 + i);
                i += 8;
            }
            t0 = Widen(t0, a0 + b0);
            t1 = Widen(t1, a1 + b1);
            t2 = Widen(t2, a2 + b2);
            t3 = Widen(t3, a3 + b3);
        }
        y[0] = Finish(Vector256.Sum(t0), p0, i, length);
        y[1] = Finish(Vector256.Sum(t1), p1, i, length);
        y[2] = Finish(Vector256.Sum(t2), p2, i, length);
        y[3] = Finish(Vector256.Sum(t3), p3, i, length);
    }
}
