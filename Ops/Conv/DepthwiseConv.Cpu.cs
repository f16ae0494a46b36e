using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Direct depthwise convolution on the CPU (groups == in-channels; output channel co reads input channel
/// co / multiplier); conv2d sends stride 1 to the row kernel <see cref="DepthwiseStride1Cpu"/>, which gives the same
/// bits in the forward and the input gradient, and the other strides here. A GEMM would have a single row per group;
/// instead each kernel tap adds one scaled copy of a padded input plane to the output plane, as one long vector AXPY;
/// all taps are fused into one pass (<see cref="DepthwiseTaps"/>), in the AXPYs' order.
/// </summary>
/// <remarks>
/// The padded plane is split into stride phases: phase (rp, cp) holds padded rows rp, rp + sH, ... and
/// columns cp, cp + sW, ..., each phase a (Hq, Wq) block. Tap (ky, kx) then reads, for output (oy, ox), the
/// element at a fixed offset plus oy·Wq + ox of one phase, whatever the stride. With the output kept
/// Wq wide, a tap over the whole plane is one contiguous AXPY; the extra columns (ox ≥ Wo) hold garbage
/// that is never copied out. The input gradient runs the same AXPYs backwards from a zero-padded copy of
/// the output gradient; the weight and bias gradients are dot products, one output channel per thread,
/// images in order. The zeros in the garbage columns meet real pixels (or weights) there, so an infinite
/// one turns into NaN in a gradient entry PyTorch would leave finite; the forward, and every finite
/// case, are exact.
/// </remarks>
internal sealed unsafe class DepthwiseConvCpu
{
    private readonly ConvGeometry g;
    private readonly int hq, wq, multiplier, taps;
    private readonly long[] tapOffset;

    private DepthwiseConvCpu(ConvGeometry geometry)
    {
        g = geometry;
        hq = (g.Hp + g.SH - 1) / g.SH;
        wq = (g.Wp + g.SW - 1) / g.SW;
        multiplier = g.Cout / g.Cin;
        taps = g.KH * g.KW;
        tapOffset = new long[taps];
        for (int ky = 0; ky < g.KH; ky++)
            for (int kx = 0; kx < g.KW; kx++)
            {
                int py = ky * g.DH, px = kx * g.DW;
                tapOffset[ky * g.KW + kx] = ((long)(py % g.SH) * g.SW + px % g.SW) * hq * wq + (long)(py / g.SH) * wq + px / g.SW;
            }
    }

    /// <summary>The phase planes, plus one row of slack that the last taps' garbage columns may read.</summary>
    private long PaddedLength => (long)g.SH * g.SW * hq * wq + wq;

    /// <summary>Output rows kept Wq wide.</summary>
    private int WideLength => g.Ho * wq;

    /// <summary>Where padded row py starts within phase block (py mod sH, cp).</summary>
    private long RowStart(int py, int cp) => ((long)(py % g.SH) * g.SW + cp) * hq * wq + (long)(py / g.SH) * wq;

    /// <summary>The phase columns j of phase cp that hold input columns: ix = j·sW + cp − padLeft in [0, W).</summary>
    private (int Lo, int Hi) PhaseColumns(int cp)
    {
        int first = g.PadLeft - cp;                       // ix + padLeft - cp = j * sW
        int lo = first <= 0 ? 0 : (first + g.SW - 1) / g.SW;
        int hi = g.W - 1 + first < 0 ? 0 : (g.W - 1 + first) / g.SW + 1;
        return (Math.Min(lo, wq), Math.Clamp(hi, Math.Min(lo, wq), wq));
    }

    /// <summary>Writes the padded, phase-split copy of one input plane.</summary>
    private void Spread<T>(T* plane, T* padded) where T : unmanaged, IFloatingPointIeee754<T>
    {
        new Span<T>(padded, (int)PaddedLength).Clear();
        for (int cp = 0; cp < g.SW; cp++)
        {
            var (lo, hi) = PhaseColumns(cp);
            for (int iy = 0; iy < g.H; iy++)
            {
                T* dst = padded + RowStart(iy + g.PadTop, cp);
                T* src = plane + (long)iy * g.W + cp - g.PadLeft;
                if (g.SW == 1) new ReadOnlySpan<T>(src + lo, hi - lo).CopyTo(new Span<T>(dst + lo, hi - lo));
                else for (int j = lo; j < hi; j++) dst[j] = src[(long)j * g.SW];
            }
        }
    }

    /// <summary>The adjoint of <see cref="Spread{T}"/>: reads the input pixels back out of a padded plane.</summary>
    private void Gather<T>(T* padded, T* plane) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int cp = 0; cp < g.SW; cp++)
        {
            var (lo, hi) = PhaseColumns(cp);
            for (int iy = 0; iy < g.H; iy++)
            {
                T* src = padded + RowStart(iy + g.PadTop, cp);
                T* dst = plane + (long)iy * g.W + cp - g.PadLeft;
                if (g.SW == 1) new ReadOnlySpan<T>(src + lo, hi - lo).CopyTo(new Span<T>(dst + lo, hi - lo));
                else for (int j = lo; j < hi; j++) dst[(long)j * g.SW] = src[j];
            }
        }
    }

    public static void Forward<T>(ConvGeometry g, T* x, T* w, T* bias, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new DepthwiseConvCpu(g);
        nint xs = (nint)x, ws = (nint)w, bs = (nint)bias, ys = (nint)y;
        CpuParallel.For((long)g.N * g.Cin, (double)d.multiplier * d.WideLength * d.taps + d.PaddedLength, (start, end) =>
        {
            using var padded = new ConvScratch<T>(d.PaddedLength);
            using var wide = new ConvScratch<T>(d.WideLength);
            fixed (long* off = d.tapOffset)
            for (long p = start; p < end; p++)
            {
                long n = p / g.Cin;
                int ci = (int)(p % g.Cin);
                d.Spread((T*)xs + p * g.InPlane, padded.Ptr);
                for (int m = 0; m < d.multiplier; m++)
                {
                    int co = ci * d.multiplier + m;
                    T* kernel = (T*)ws + (long)co * d.taps;
                    DepthwiseTaps.Sum(wide.Ptr, padded.Ptr, off, kernel, d.taps, bs == 0 ? T.Zero : ((T*)bs)[co], d.WideLength);
                    T* outPlane = (T*)ys + (n * g.Cout + co) * g.OutPlane;
                    for (int oy = 0; oy < g.Ho; oy++)
                        new ReadOnlySpan<T>(wide.Ptr + (long)oy * d.wq, g.Wo).CopyTo(new Span<T>(outPlane + (long)oy * g.Wo, g.Wo));
                }
            }
        });
    }

    public static void Backward<T>(ConvGeometry g, T* x, T* w, T* gy, T* gx, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new DepthwiseConvCpu(g);
        if (gx != null) d.InputGradient(w, gy, gx);
        if (gw != null || gb != null) d.WeightGradient(x, gy, gw, gb);
    }

    /// <summary>One output-gradient plane, Wq wide, zero beyond the Wo real columns.</summary>
    private void Widen<T>(T* plane, T* wide) where T : unmanaged, IFloatingPointIeee754<T>
    {
        new Span<T>(wide, WideLength).Clear();
        for (int oy = 0; oy < g.Ho; oy++)
            new ReadOnlySpan<T>(plane + (long)oy * g.Wo, g.Wo).CopyTo(new Span<T>(wide + (long)oy * wq, g.Wo));
    }

    private void InputGradient<T>(T* w, T* gy, T* gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint ws = (nint)w, gys = (nint)gy, gxs = (nint)gx;
        CpuParallel.For((long)g.N * g.Cin, (double)multiplier * WideLength * taps + PaddedLength, (start, end) =>
        {
            using var padded = new ConvScratch<T>(PaddedLength);
            // The output gradient plane with zeros before it (as far as the farthest tap) and after it (to the end
            // of the padded plane), so that every padded element gathers all its taps from it.
            long reach = tapOffset.Max();
            using var extended = new ConvScratch<T>(reach + PaddedLength);
            new Span<T>(extended.Ptr, (int)(reach + PaddedLength)).Clear();
            T* wide = extended.Ptr + reach;
            fixed (long* off = tapOffset)
            for (long p = start; p < end; p++)
            {
                long n = p / g.Cin;
                int ci = (int)(p % g.Cin);
                new Span<T>(padded.Ptr, (int)PaddedLength).Clear();
                for (int m = 0; m < multiplier; m++)
                {
                    int co = ci * multiplier + m;
                    T* kernel = (T*)ws + (long)co * taps;
                    Widen((T*)gys + (n * g.Cout + co) * g.OutPlane, wide);
                    DepthwiseTaps.Gather(padded.Ptr, wide, off, kernel, taps, (int)PaddedLength);
                }
                Gather(padded.Ptr, (T*)gxs + p * g.InPlane);
            }
        });
    }

    private void WeightGradient<T>(T* x, T* gy, T* gw, T* gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint xs = (nint)x, gys = (nint)gy, gws = (nint)gw, gbs = (nint)gb;
        CpuParallel.For(g.Cout, (double)g.N * (WideLength * (taps + 1) + PaddedLength), (start, end) =>
        {
            using var padded = new ConvScratch<T>(PaddedLength);
            using var wide = new ConvScratch<T>(WideLength);
            var sums = new T[taps];
            fixed (long* off = tapOffset)
            fixed (T* sp = sums)
            for (long co = start; co < end; co++)
            {
                long ci = co / multiplier;
                Array.Clear(sums);
                T biasSum = T.Zero;
                for (long n = 0; n < g.N; n++)
                {
                    T* gPlane = (T*)gys + (n * g.Cout + co) * g.OutPlane;
                    if (gbs != 0) biasSum += ConvPoolKernels.Sum(gPlane, g.OutPlane);
                    if (gws == 0) continue;
                    Spread((T*)xs + (n * g.Cin + ci) * g.InPlane, padded.Ptr);
                    Widen(gPlane, wide.Ptr);
                    DepthwiseTaps.Dots(wide.Ptr, padded.Ptr, off, taps, sp, WideLength);
                }
                if (gws != 0) for (int k = 0; k < taps; k++) ((T*)gws)[co * taps + k] = sums[k];
                if (gbs != 0) ((T*)gbs)[co] = biasSum;
            }
        });
    }
}
