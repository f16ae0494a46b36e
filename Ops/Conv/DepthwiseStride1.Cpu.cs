using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Depthwise convolution with stride 1 (any kernel, padding and dilation) on the CPU, plane by plane and row by row:
/// each output row is read straight off a zero-padded copy of its input plane and written straight into the output,
/// where the general kernel (<see cref="DepthwiseConvCpu"/>) went through a phase-split plane and a Wq-wide buffer and
/// copied every row in and out with a call each. The padded copies keep their zero border for a whole run of planes,
/// so each plane costs one vector copy per row. The taps are those of <see cref="DepthwiseRows"/>.
/// </summary>
/// <remarks>
/// Every element gets the operations the general kernel gives it, in its order: the forward starts from the bias and
/// adds the taps in (ky, kx) order with one fused multiply-add each, padding zeros included; the input gradient starts
/// from zero and adds, per output channel of the group in order, the taps in the same order, reading the output
/// gradient padded with zeros (the flipped correlation). So the forward and the input gradient give the same bits as
/// before, at either vector width. The weight and bias gradients keep one vector of partial sums per tap across all
/// images of a channel (one thread per channel, images and rows in order), summed across lanes at the end: a fixed
/// order for a given shape and width, whatever the thread count.
/// </remarks>
internal sealed unsafe class DepthwiseStride1Cpu
{
    private readonly ConvGeometry g;
    private readonly int multiplier, taps, gyRows, gyCols;
    private readonly long[] forwardOffsets, backwardOffsets;

    private DepthwiseStride1Cpu(ConvGeometry geometry)
    {
        g = geometry;
        multiplier = g.Cout / g.Cin;
        taps = g.KH * g.KW;
        // The output gradient plane as the input gradient reads it: padded so that every input pixel finds all its taps.
        gyRows = g.H + (g.KH - 1) * g.DH;
        gyCols = g.W + (g.KW - 1) * g.DW;
        forwardOffsets = new long[taps];
        backwardOffsets = new long[taps];
        for (int ky = 0; ky < g.KH; ky++)
            for (int kx = 0; kx < g.KW; kx++)
            {
                forwardOffsets[ky * g.KW + kx] = (long)ky * g.DH * g.Wp + kx * g.DW;
                backwardOffsets[ky * g.KW + kx] = (long)(g.KH - 1 - ky) * g.DH * gyCols + (g.KW - 1 - kx) * g.DW;
            }
    }

    /// <summary>Whether this kernel handles the geometry: a depthwise convolution with stride 1.</summary>
    public static bool Handles(ConvGeometry g) => g.IsDepthwise && g.SH == 1 && g.SW == 1;

    private long PaddedLength => (long)g.Hp * g.Wp;
    private long GyLength => (long)gyRows * gyCols;

    /// <summary>Copies input plane into the interior of its padded copy; the border is left as it was (zero).</summary>
    private void Spread<T>(T* plane, T* padded) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* dst = padded + (long)g.PadTop * g.Wp + g.PadLeft;
        for (int iy = 0; iy < g.H; iy++) DepthwiseRows.Copy(plane + (long)iy * g.W, dst + (long)iy * g.Wp, g.W);
    }

    /// <summary>
    /// Copies an output-gradient plane into its padded copy: row r, column c holds gy[r + padTop − (kH−1)·dH,
    /// c + padLeft − (kW−1)·dW]; the positions outside the plane are never written, so they stay zero.
    /// </summary>
    private void SpreadGradient<T>(T* plane, T* padded) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oyLo = g.PadTop - (g.KH - 1) * g.DH, oxLo = g.PadLeft - (g.KW - 1) * g.DW;
        int c0 = Math.Max(0, -oxLo), c1 = Math.Min(gyCols, g.Wo - oxLo);
        if (c1 <= c0) return;
        for (int r = Math.Max(0, -oyLo); r < gyRows && r + oyLo < g.Ho; r++)
            DepthwiseRows.Copy(plane + (long)(r + oyLo) * g.Wo + oxLo + c0, padded + (long)r * gyCols + c0, c1 - c0);
    }

    public static void Forward<T>(ConvGeometry g, T* x, T* w, T* bias, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new DepthwiseStride1Cpu(g);
        nint xs = (nint)x, ws = (nint)w, bs = (nint)bias, ys = (nint)y;
        CpuParallel.For((long)g.N * g.Cin, (double)d.multiplier * g.OutPlane * d.taps + g.InPlane, (start, end) =>
        {
            using var padded = new ConvScratch<T>(d.PaddedLength, zeroed: true);
            fixed (long* off = d.forwardOffsets)
            for (long p = start; p < end; p++)
            {
                long n = p / g.Cin;
                int ci = (int)(p % g.Cin);
                d.Spread((T*)xs + p * g.InPlane, padded.Ptr);
                for (int m = 0; m < d.multiplier; m++)
                {
                    int co = ci * d.multiplier + m;
                    var rows = new DepthwiseRows.Plane<T>(padded.Ptr, g.Wp, off, (T*)ws + (long)co * d.taps, d.taps);
                    rows.Correlate((T*)ys + (n * g.Cout + co) * g.OutPlane, g.Wo, g.Ho, g.Wo,
                        bs == 0 ? T.Zero : ((T*)bs)[co], accumulate: false);
                }
            }
        });
    }

    public static void Backward<T>(ConvGeometry g, T* x, T* w, T* gy, T* gx, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new DepthwiseStride1Cpu(g);
        if (gx != null) d.InputGradient(w, gy, gx);
        if (gw != null || gb != null) d.WeightGradient(x, gy, gw, gb);
    }

    private void InputGradient<T>(T* w, T* gy, T* gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint ws = (nint)w, gys = (nint)gy, gxs = (nint)gx;
        CpuParallel.For((long)g.N * g.Cin, (double)multiplier * (g.InPlane * taps + g.OutPlane), (start, end) =>
        {
            using var padded = new ConvScratch<T>(GyLength, zeroed: true);
            fixed (long* off = backwardOffsets)
            for (long p = start; p < end; p++)
            {
                long n = p / g.Cin;
                int ci = (int)(p % g.Cin);
                for (int m = 0; m < multiplier; m++)
                {
                    int co = ci * multiplier + m;
                    SpreadGradient((T*)gys + (n * g.Cout + co) * g.OutPlane, padded.Ptr);
                    var rows = new DepthwiseRows.Plane<T>(padded.Ptr, gyCols, off, (T*)ws + (long)co * taps, taps);
                    rows.Correlate((T*)gxs + p * g.InPlane, g.W, g.H, g.W, T.Zero, accumulate: m > 0);
                }
            }
        });
    }

    private void WeightGradient<T>(T* x, T* gy, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = (nint)x, gys = (nint)gy, gws = (nint)gw, gbs = (nint)gb;
        CpuParallel.For(g.Cout, (double)g.N * (g.OutPlane * (taps + 1) + g.InPlane), (start, end) =>
        {
            using var padded = new ConvScratch<T>(PaddedLength, zeroed: true);
            var sums = new DepthwiseRows.TapSums<T>(taps);
            fixed (long* off = forwardOffsets)
            for (long co = start; co < end; co++)
            {
                long ci = co / multiplier;
                T* gPlanes = (T*)gys + co * g.OutPlane;
                if (gws == 0)
                {
                    // The input is saved only when the weight needs a gradient: the bias sum alone, images in order.
                    T biasOnly = T.Zero;
                    for (long n = 0; n < g.N; n++) biasOnly += ConvPoolKernels.Sum(gPlanes + n * g.Cout * g.OutPlane, g.OutPlane);
                    ((T*)gbs)[co] = biasOnly;
                    continue;
                }
                sums.Clear();
                for (long n = 0; n < g.N; n++)
                {
                    Spread((T*)xs + (n * g.Cin + ci) * g.InPlane, padded.Ptr);
                    var rows = new DepthwiseRows.Plane<T>(padded.Ptr, g.Wp, off, null, taps);
                    rows.Dots(gPlanes + n * g.Cout * g.OutPlane, g.Wo, g.Ho, g.Wo, sums);
                }
                for (int k = 0; k < taps; k++) ((T*)gws)[co * taps + k] = sums.Total(k);
                if (gbs != 0) ((T*)gbs)[co] = sums.Total(taps);
            }
        });
    }
}
