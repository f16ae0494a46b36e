using System.Numerics;
using System.Runtime.CompilerServices;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>Adaptive average pooling on the CPU over contiguous planes, one plane per work item.</summary>
internal static unsafe class AdaptiveAvgPoolCpu
{
    public static void Forward(PoolGeometry g, Tensor x, Tensor y)
    {
        if (y.DType == DType.F32) Forward<float>(g, x, y);
        else Forward<double>(g, x, y);
    }

    public static void Backward(PoolGeometry g, Tensor gy, Tensor gx)
    {
        if (gy.DType == DType.F32) Backward<float>(g, gy, gx);
        else Backward<double>(g, gy, gx);
    }

    /// <summary>PyTorch's window [floor(i·In/Out), ceil((i+1)·In/Out)).</summary>
    public static (int Start, int End) Window(int i, int input, int output) =>
        ((int)((long)i * input / output), (int)(((long)(i + 1) * input + output - 1) / output));

    private static void Forward<T>(PoolGeometry g, Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = CpuBackend.BasePointer(x), ys = CpuBackend.BasePointer(y);
        double cost = (double)g.InPlane + g.OutPlane;
        CpuParallel.For(g.Planes, cost, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                T* src = (T*)xs + p * g.InPlane, dst = (T*)ys + p * g.OutPlane;
                for (int oy = 0; oy < g.Ho; oy++)
                {
                    var (y0, y1) = Window(oy, g.H, g.Ho);
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        var (x0, x1) = Window(ox, g.W, g.Wo);
                        T sum = T.Zero;
                        for (int iy = y0; iy < y1; iy++) sum += ConvPoolKernels.Sum(src + (long)iy * g.W + x0, x1 - x0);
                        dst[oy * g.Wo + ox] = sum / T.CreateTruncating((y1 - y0) * (x1 - x0));
                    }
                }
            }
        });
    }

    /// <summary>
    /// Separably, and each input element written once: every output row is first spread over the input's columns
    /// (each cell's share, its gradient over its window's area, added to the columns of its window: a row of
    /// <c>W</c> per output row), then every input row is the sum of the spread rows of the output rows whose windows
    /// cover it (one or two where windows overlap by less than a window). Scattering each share into its whole
    /// 2-D window instead cleared the plane and read-modify-wrote it window row by window row, runs of five or six
    /// elements too short for the vector units (7x7 from 32x32).
    /// </summary>
    private static void Backward<T>(PoolGeometry g, Tensor gy, Tensor gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint gys = CpuBackend.BasePointer(gy), gxs = CpuBackend.BasePointer(gx);
        int h = g.H, w = g.W, ho = g.Ho, wo = g.Wo;
        // The output rows covering input row iy: [first[iy], end[iy]), contiguous because window bounds only grow.
        var first = new int[h]; var last = new int[h];
        for (int iy = 0; iy < h; iy++) (first[iy], last[iy]) = (ho, 0);
        for (int oy = 0; oy < ho; oy++)
        {
            var (y0, y1) = Window(oy, h, ho);
            for (int iy = y0; iy < y1; iy++) (first[iy], last[iy]) = (Math.Min(first[iy], oy), Math.Max(last[iy], oy + 1));
        }
        CpuParallel.For(g.Planes, (double)g.InPlane + g.OutPlane, (start, end) =>
        {
            var spreadRows = new T[(long)ho * w];
            fixed (T* spread = spreadRows)
                for (long p = start; p < end; p++)
                {
                    T* src = (T*)gys + p * g.OutPlane, dst = (T*)gxs + p * g.InPlane;
                    new Span<T>(spread, ho * w).Clear();
                    for (int oy = 0; oy < ho; oy++)
                    {
                        var (y0, y1) = Window(oy, h, ho);
                        T* row = spread + (long)oy * w;
                        for (int ox = 0; ox < wo; ox++)
                        {
                            var (x0, x1) = Window(ox, w, wo);
                            T share = src[oy * wo + ox] / T.CreateTruncating((y1 - y0) * (x1 - x0));
                            for (int ix = x0; ix < x1; ix++) row[ix] += share;
                        }
                    }
                    for (int iy = 0; iy < h; iy++)
                        SumRows(spread, w, first[iy], last[iy], dst + (long)iy * w);
                }
        });
    }

    /// <summary><paramref name="dst"/> (n) = the sum of rows [r0, r1) of the n-wide <paramref name="rows"/>, in order; zeros for none.</summary>
    private static void SumRows<T>(T* rows, int n, int r0, int r1, T* dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, vc = Vector<T>.Count;
        for (; i + vc <= n; i += vc)
        {
            var acc = Vector<T>.Zero;
            if (r0 < r1)
            {
                acc = Unsafe.ReadUnaligned<Vector<T>>(rows + (long)r0 * n + i);
                for (int r = r0 + 1; r < r1; r++) acc += Unsafe.ReadUnaligned<Vector<T>>(rows + (long)r * n + i);
            }
            Unsafe.WriteUnaligned(dst + i, acc);
        }
        for (; i < n; i++)
        {
            T acc = T.Zero;
            if (r0 < r1)
            {
                acc = rows[(long)r0 * n + i];
                for (int r = r0 + 1; r < r1; r++) acc += rows[(long)r * n + i];
            }
            dst[i] = acc;
        }
    }
}
