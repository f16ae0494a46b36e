namespace Engine.Tests.Ops;

/// <summary>One pooling's hyper-parameters, for tests; output sizes are counted window by window here, not taken from the code under test.</summary>
public sealed record PoolSpec(int N, bool Batched, int C, int H, int W, int KH, int KW, int SH, int SW, int PH = 0, int PW = 0,
    int DH = 1, int DW = 1, bool CeilMode = false, bool CountIncludePad = true, int? DivisorOverride = null, bool DefaultStride = false)
{
    /// <summary>
    /// Windows that fit the padded input (floor mode), or that reach into it at all and start inside the
    /// input or the left padding (ceil mode).
    /// </summary>
    private static int Count(int size, int k, int s, int p, int d, bool ceil)
    {
        int dk = d * (k - 1) + 1, padded = size + 2 * p, n = 0;
        while (ceil ? n * s < padded - dk + s && n * s < size + p : n * s + dk <= padded) n++;
        return n;
    }

    public int Ho => Count(H, KH, SH, PH, DH, CeilMode);
    public int Wo => Count(W, KW, SW, PW, DW, CeilMode);
    public int[] InputShape => Batched ? [N, C, H, W] : [C, H, W];
    public int[] OutputShape => Batched ? [N, C, Ho, Wo] : [C, Ho, Wo];
    public bool Valid => Ho >= 1 && Wo >= 1 && PH <= KH / 2 && PW <= KW / 2 && (Batched || N == 1) && (!DefaultStride || (SH == KH && SW == KW));

    /// <summary>False when some dilated window's taps all fall in the padding (max pooling then gives -inf).</summary>
    public bool EveryWindowTouchesTheInput =>
        Enumerable.Range(0, Ho).All(oy => Enumerable.Range(0, KH).Any(k => oy * SH - PH + k * DH is var i && i >= 0 && i < H)) &&
        Enumerable.Range(0, Wo).All(ox => Enumerable.Range(0, KW).Any(k => ox * SW - PW + k * DW is var i && i >= 0 && i < W));

    /// <inheritdoc/>
    public override string ToString() =>
        $"pool(input {Layout.Format(InputShape)}, kernel ({KH}, {KW}), stride {(DefaultStride ? "default" : $"({SH}, {SW})")}, padding ({PH}, {PW}), " +
        $"dilation ({DH}, {DW}), ceil {CeilMode}, countIncludePad {CountIncludePad}, divisor {DivisorOverride?.ToString() ?? "none"})";

    public static PoolSpec Random(System.Random r, bool dilation)
    {
        while (true)
        {
            bool batched = r.Next(5) != 0;
            int n = !batched ? 1 : r.Next(25) == 0 ? 0 : r.Next(1, 4);
            int kh = r.Next(1, 5), kw = r.Next(1, 5);
            bool defaultStride = r.Next(4) == 0;
            var s = new PoolSpec(n, batched, r.Next(1, 4), r.Next(1, 10), r.Next(1, 10), kh, kw,
                defaultStride ? kh : r.Next(1, 4), defaultStride ? kw : r.Next(1, 4), r.Next(0, kh / 2 + 1), r.Next(0, kw / 2 + 1),
                dilation ? r.Next(1, 3) : 1, dilation ? r.Next(1, 3) : 1, r.Next(2) == 0, r.Next(2) == 0,
                r.Next(5) == 0 ? new[] { -2, 1, 3, 7 }[r.Next(4)] : null, defaultStride);
            if (s.Valid) return s;
        }
    }
}

/// <summary>Plain-loop poolings and their gradients, in double.</summary>
public static class PoolReference
{
    /// <summary>Avg pooling; returns the output and, per output, its window (clipped) and divisor for the gradient.</summary>
    public static double[] Avg(PoolSpec s, double[] x, double[]? gy, out double[] gx)
    {
        int planes = x.Length / (s.H * s.W);
        var y = new double[planes * s.Ho * s.Wo];
        gx = new double[x.Length];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < s.Ho; oy++)
                for (int ox = 0; ox < s.Wo; ox++)
                {
                    // The window on the padded input, then the part of it that is real input.
                    int top = oy * s.SH - s.PH, left = ox * s.SW - s.PW;
                    int bottom = Math.Min(top + s.KH, s.H + s.PH), right = Math.Min(left + s.KW, s.W + s.PW);
                    int withPad = (bottom - top) * (right - left);
                    double sum = 0;
                    int real = 0;
                    for (int iy = Math.Max(top, 0); iy < Math.Min(bottom, s.H); iy++)
                        for (int ix = Math.Max(left, 0); ix < Math.Min(right, s.W); ix++)
                        {
                            sum += x[(p * s.H + iy) * s.W + ix];
                            real++;
                        }
                    double divisor = s.DivisorOverride ?? (s.CountIncludePad ? withPad : real);
                    int o = (p * s.Ho + oy) * s.Wo + ox;
                    y[o] = sum / divisor;
                    if (gy is null) continue;
                    for (int iy = Math.Max(top, 0); iy < Math.Min(bottom, s.H); iy++)
                        for (int ix = Math.Max(left, 0); ix < Math.Min(right, s.W); ix++)
                            gx[(p * s.H + iy) * s.W + ix] += gy[o] / divisor;
                }
        return y;
    }

    /// <summary>Max pooling over the real (non-padding) taps of each dilated window; the first maximum wins ties.</summary>
    public static double[] Max(PoolSpec s, double[] x, double[]? gy, out double[] gx, out long[] indices)
    {
        int planes = x.Length / (s.H * s.W);
        var y = new double[planes * s.Ho * s.Wo];
        indices = new long[y.Length];
        gx = new double[x.Length];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < s.Ho; oy++)
                for (int ox = 0; ox < s.Wo; ox++)
                {
                    double best = double.NegativeInfinity;
                    long at = -1;
                    for (int ky = 0; ky < s.KH; ky++)
                        for (int kx = 0; kx < s.KW; kx++)
                        {
                            int iy = oy * s.SH - s.PH + ky * s.DH, ix = ox * s.SW - s.PW + kx * s.DW;
                            if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                            double v = x[(p * s.H + iy) * s.W + ix];
                            if (at < 0 || v > best) { best = v; at = iy * s.W + ix; }
                        }
                    int o = (p * s.Ho + oy) * s.Wo + ox;
                    y[o] = best;
                    indices[o] = at;
                    if (gy is not null && at >= 0) gx[p * s.H * s.W + at] += gy[o];
                }
        return y;
    }

    /// <summary>Adaptive average pooling with windows [floor(i·In/Out), ceil((i+1)·In/Out)).</summary>
    public static double[] Adaptive(int planes, int h, int w, int oh, int ow, double[] x, double[]? gy, out double[] gx)
    {
        var y = new double[planes * oh * ow];
        gx = new double[x.Length];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int y0 = (int)Math.Floor((double)oy * h / oh), y1 = (int)Math.Ceiling((double)(oy + 1) * h / oh);
                    int x0 = (int)Math.Floor((double)ox * w / ow), x1 = (int)Math.Ceiling((double)(ox + 1) * w / ow);
                    double sum = 0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) sum += x[(p * h + iy) * w + ix];
                    int area = (y1 - y0) * (x1 - x0), o = (p * oh + oy) * ow + ox;
                    y[o] = sum / area;
                    if (gy is null) continue;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) gx[(p * h + iy) * w + ix] += gy[o] / area;
                }
        return y;
    }
}
