using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Direct depthwise convolution (groups == in-channels; each output channel co reads input channel
/// co / multiplier). A GEMM would have a single row per group; instead each output row is a sum of
/// kH·kW vector AXPYs over a padded copy of the input plane.
/// </summary>
/// <remarks>
/// The copy is split into stride phases along the width: phase p holds padded columns p, p + sW, p + 2sW, ...,
/// so the pixels a tap reads across an output row are contiguous whatever the stride, and the AXPYs need
/// no bounds checks. The input gradient runs the same AXPYs backwards into a padded buffer; the weight and
/// bias gradients are dot products, one output channel per thread, images in order.
/// </remarks>
internal static unsafe class DepthwiseConv
{
    /// <summary>Padded width of one stride phase.</summary>
    private static int PhaseWidth(ConvGeometry g) => (g.Wp + g.SW - 1) / g.SW;

    private static long PaddedLength(ConvGeometry g) => (long)g.SW * g.Hp * PhaseWidth(g);

    /// <summary>Where tap (ky, kx) of output row oy starts in the padded, phase-split plane.</summary>
    private static long TapOffset(ConvGeometry g, int oy, int ky, int kx)
    {
        int py = oy * g.SH + ky * g.DH, px = kx * g.DW;
        return ((long)(px % g.SW) * g.Hp + py) * PhaseWidth(g) + px / g.SW;
    }

    /// <summary>Where input pixel (iy, ix) lives in the padded, phase-split plane.</summary>
    private static long PixelOffset(ConvGeometry g, int iy, int ix)
    {
        int py = iy + g.PadTop, px = ix + g.PadLeft;
        return ((long)(px % g.SW) * g.Hp + py) * PhaseWidth(g) + px / g.SW;
    }

    private static void Spread<T>(ConvGeometry g, T* plane, T* padded) where T : unmanaged, IFloatingPointIeee754<T>
    {
        new Span<T>(padded, (int)PaddedLength(g)).Clear();
        for (int iy = 0; iy < g.H; iy++)
        {
            T* src = plane + (long)iy * g.W;
            if (g.SW == 1)
                new ReadOnlySpan<T>(src, g.W).CopyTo(new Span<T>(padded + PixelOffset(g, iy, 0), g.W));
            else
                for (int ix = 0; ix < g.W; ix++) padded[PixelOffset(g, iy, ix)] = src[ix];
        }
    }

    public static void Forward<T>(ConvGeometry g, T* x, T* w, T* bias, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int multiplier = g.Cout / g.Cin, taps = g.KH * g.KW;
        nint xs = (nint)x, ws = (nint)w, bs = (nint)bias, ys = (nint)y;
        CpuParallel.For((long)g.N * g.Cin, (double)multiplier * g.OutPlane * taps + PaddedLength(g), (start, end) =>
        {
            using var padded = new NativeBuffer<T>(PaddedLength(g));
            for (long p = start; p < end; p++)
            {
                long n = p / g.Cin; int ci = (int)(p % g.Cin);
                Spread(g, (T*)xs + p * g.InPlane, padded.Ptr);
                for (int m = 0; m < multiplier; m++)
                {
                    int co = ci * multiplier + m;
                    T* kernel = (T*)ws + (long)co * taps;
                    T start0 = bs == 0 ? T.Zero : ((T*)bs)[co];
                    T* outPlane = (T*)ys + (n * g.Cout + co) * g.OutPlane;
                    for (int oy = 0; oy < g.Ho; oy++)
                    {
                        T* row = outPlane + (long)oy * g.Wo;
                        new Span<T>(row, g.Wo).Fill(start0);
                        for (int ky = 0; ky < g.KH; ky++)
                            for (int kx = 0; kx < g.KW; kx++)
                                Kernels.Axpy(row, padded.Ptr + TapOffset(g, oy, ky, kx), kernel[ky * g.KW + kx], g.Wo);
                    }
                }
            }
        });
    }

    public static void Backward<T>(ConvGeometry g, T* x, T* w, T* gy, T* gx, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (gx != null) InputGradient(g, w, gy, gx);
        if (gw != null || gb != null) WeightGradient(g, x, gy, gw, gb);
    }

    private static void InputGradient<T>(ConvGeometry g, T* w, T* gy, T* gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int multiplier = g.Cout / g.Cin, taps = g.KH * g.KW;
        nint ws = (nint)w, gys = (nint)gy, gxs = (nint)gx;
        CpuParallel.For((long)g.N * g.Cin, (double)multiplier * g.OutPlane * taps + PaddedLength(g), (start, end) =>
        {
            using var padded = new NativeBuffer<T>(PaddedLength(g));
            for (long p = start; p < end; p++)
            {
                long n = p / g.Cin; int ci = (int)(p % g.Cin);
                new Span<T>(padded.Ptr, (int)PaddedLength(g)).Clear();
                for (int m = 0; m < multiplier; m++)
                {
                    int co = ci * multiplier + m;
                    T* kernel = (T*)ws + (long)co * taps;
                    T* gPlane = (T*)gys + (n * g.Cout + co) * g.OutPlane;
                    for (int oy = 0; oy < g.Ho; oy++)
                        for (int ky = 0; ky < g.KH; ky++)
                            for (int kx = 0; kx < g.KW; kx++)
                                Kernels.Axpy(padded.Ptr + TapOffset(g, oy, ky, kx), gPlane + (long)oy * g.Wo, kernel[ky * g.KW + kx], g.Wo);
                }
                T* dst = (T*)gxs + p * g.InPlane;
                for (int iy = 0; iy < g.H; iy++)
                {
                    if (g.SW == 1)
                        new ReadOnlySpan<T>(padded.Ptr + PixelOffset(g, iy, 0), g.W).CopyTo(new Span<T>(dst + (long)iy * g.W, g.W));
                    else
                        for (int ix = 0; ix < g.W; ix++) dst[(long)iy * g.W + ix] = padded.Ptr[PixelOffset(g, iy, ix)];
                }
            }
        });
    }

    private static void WeightGradient<T>(ConvGeometry g, T* x, T* gy, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int multiplier = g.Cout / g.Cin, taps = g.KH * g.KW;
        nint xs = (nint)x, gys = (nint)gy, gws = (nint)gw, gbs = (nint)gb;
        CpuParallel.For(g.Cout, (double)g.N * (g.OutPlane * taps + PaddedLength(g)), (start, end) =>
        {
            using var padded = new NativeBuffer<T>(PaddedLength(g));
            var sums = new T[taps];
            for (long co = start; co < end; co++)
            {
                long ci = co / multiplier;
                Array.Clear(sums);
                T biasSum = T.Zero;
                for (long n = 0; n < g.N; n++)
                {
                    T* gPlane = (T*)gys + (n * g.Cout + co) * g.OutPlane;
                    if (gbs != 0) biasSum += Kernels.Sum(gPlane, g.OutPlane);
                    if (gws == 0) continue;
                    Spread(g, (T*)xs + (n * g.Cin + ci) * g.InPlane, padded.Ptr);
                    for (int ky = 0; ky < g.KH; ky++)
                        for (int kx = 0; kx < g.KW; kx++)
                        {
                            T sum = T.Zero;
                            for (int oy = 0; oy < g.Ho; oy++)
                                sum += Kernels.Dot(gPlane + (long)oy * g.Wo, padded.Ptr + TapOffset(g, oy, ky, kx), g.Wo);
                            sums[ky * g.KW + kx] += sum;
                        }
                }
                if (gws != 0) for (int k = 0; k < taps; k++) ((T*)gws)[co * taps + k] = sums[k];
                if (gbs != 0) ((T*)gbs)[co] = biasSum;
            }
        });
    }
}
