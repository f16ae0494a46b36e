using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The column matrix of a chunk of images and its adjoint. Row r = (c, ky, kx) holds, for every image b of
/// the chunk and output pixel (oy, ox), the input pixel that kernel tap (ky, kx) of channel c reads there
/// (zero in the padding), so a convolution is W (Cout, Cin·kH·kW) times this matrix, group by group.
/// </summary>
internal static unsafe class Im2Col
{
    /// <summary>The output columns [lo, hi) whose tap kx reads inside the input (not the padding).</summary>
    public static (int Lo, int Hi) ValidColumns(ConvGeometry g, int kx)
    {
        int xOff = kx * g.DW - g.PadLeft;
        int lo = xOff >= 0 ? 0 : (-xOff + g.SW - 1) / g.SW;
        int hi = g.W - 1 - xOff >= 0 ? (g.W - 1 - xOff) / g.SW + 1 : 0;
        lo = Math.Min(lo, g.Wo);
        hi = Math.Clamp(hi, lo, g.Wo);
        return (lo, hi);
    }

    /// <summary>Writes the column matrix of images [b0, b0 + count) to <paramref name="cols"/> (Cin·kH·kW rows of count·Ho·Wo).</summary>
    public static void Fill<T>(ConvGeometry g, T* x, int b0, int count, T* cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long rowLength = (long)count * g.OutPlane;
        nint xs = (nint)x, cs = (nint)cols;
        bool pointwise = g.IsPointwise;
        CpuParallel.For((long)g.Cin * g.KH * g.KW, rowLength, (start, end) =>
        {
            for (long r = start; r < end; r++)
                if (pointwise) CopyPlanes((T*)xs + ((long)b0 * g.Cin + r) * g.InPlane, (long)g.Cin * g.InPlane, (T*)cs + r * rowLength, g.OutPlane, count, g.OutPlane);
                else FillRow(g, (T*)xs, b0, count, (T*)cs + r * rowLength, (int)r);
        });
    }

    /// <summary>Copies <paramref name="count"/> runs of <paramref name="length"/> elements between strided starts.</summary>
    private static void CopyPlanes<T>(T* src, long srcStride, T* dst, long dstStride, int count, int length) where T : unmanaged
    {
        for (int b = 0; b < count; b++)
            new ReadOnlySpan<T>(src + b * srcStride, length).CopyTo(new Span<T>(dst + b * dstStride, length));
    }

    private static void FillRow<T>(ConvGeometry g, T* x, int b0, int count, T* row, int r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int taps = g.KH * g.KW;
        int c = r / taps, ky = r % taps / g.KW, kx = r % g.KW;
        int xOff = kx * g.DW - g.PadLeft;
        var (lo, hi) = ValidColumns(g, kx);
        for (int b = 0; b < count; b++)
        {
            T* plane = x + ((long)(b0 + b) * g.Cin + c) * g.InPlane;
            for (int oy = 0; oy < g.Ho; oy++)
            {
                T* dst = row + (long)b * g.OutPlane + (long)oy * g.Wo;
                int iy = oy * g.SH - g.PadTop + ky * g.DH;
                // Rows of small maps are a handful of elements: plain loops beat the span calls there.
                if (iy < 0 || iy >= g.H)
                {
                    if (g.Wo >= 32) new Span<T>(dst, g.Wo).Clear();
                    else for (int ox = 0; ox < g.Wo; ox++) dst[ox] = T.Zero;
                    continue;
                }
                T* src = plane + (long)iy * g.W + xOff;
                for (int ox = 0; ox < lo; ox++) dst[ox] = T.Zero;
                if (g.SW == 1 && hi - lo >= 32)
                    new ReadOnlySpan<T>(src + lo, hi - lo).CopyTo(new Span<T>(dst + lo, hi - lo));
                else
                    for (int ox = lo; ox < hi; ox++) dst[ox] = src[(long)ox * g.SW];
                for (int ox = hi; ox < g.Wo; ox++) dst[ox] = T.Zero;
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Fill{T}"/>: overwrites the planes of images [b0, b0 + count) of
    /// <paramref name="gx"/> with the sums of the column entries that read each pixel. One thread owns
    /// each plane and adds in a fixed order.
    /// </summary>
    public static void Accumulate<T>(ConvGeometry g, T* cols, int b0, int count, T* gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long rowLength = (long)count * g.OutPlane;
        nint cs = (nint)cols, gs = (nint)gx;
        bool pointwise = g.IsPointwise;
        CpuParallel.For((long)count * g.Cin, (double)g.KH * g.KW * g.OutPlane + g.InPlane, (start, end) =>
        {
            for (long p = start; p < end; p++)
            {
                int b = (int)(p / g.Cin), c = (int)(p % g.Cin);
                T* plane = (T*)gs + ((long)(b0 + b) * g.Cin + c) * g.InPlane;
                if (pointwise)
                {
                    // One tap reads each pixel once: the plane is its column-matrix run.
                    new ReadOnlySpan<T>((T*)cs + c * rowLength + (long)b * g.OutPlane, g.InPlane).CopyTo(new Span<T>(plane, g.InPlane));
                    continue;
                }
                new Span<T>(plane, g.InPlane).Clear();
                for (int ky = 0; ky < g.KH; ky++)
                    for (int kx = 0; kx < g.KW; kx++)
                    {
                        long r = ((long)c * g.KH + ky) * g.KW + kx;
                        T* src = (T*)cs + r * rowLength + (long)b * g.OutPlane;
                        int xOff = kx * g.DW - g.PadLeft;
                        var (lo, hi) = ValidColumns(g, kx);
                        for (int oy = 0; oy < g.Ho; oy++)
                        {
                            int iy = oy * g.SH - g.PadTop + ky * g.DH;
                            if (iy < 0 || iy >= g.H) continue;
                            T* dst = plane + (long)iy * g.W + xOff;
                            T* s = src + (long)oy * g.Wo;
                            if (g.SW == 1) ConvPoolKernels.Add(dst + lo, s + lo, hi - lo);
                            else for (int ox = lo; ox < hi; ox++) dst[(long)ox * g.SW] += s[ox];
                        }
                    }
            }
        });
    }
}
