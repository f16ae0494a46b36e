using Engine.Ops;

namespace Engine.Tests.Ops;

/// <summary>
/// One convolution's hyper-parameters, for tests. The paddings per side are worked out here from PyTorch's
/// rules (not by the code under test): 'same' puts the odd extra row or column at the bottom or right.
/// </summary>
public sealed record ConvSpec(int N, bool Batched, int Cin, int H, int W, int Cout, int KH, int KW,
    int SH = 1, int SW = 1, int PadH = 0, int PadW = 0, int DH = 1, int DW = 1, int Groups = 1, bool Bias = false, string? Mode = null)
{
    public int Top => Mode == "same" ? DH * (KH - 1) / 2 : Mode == "valid" ? 0 : PadH;
    public int Bottom => Mode == "same" ? DH * (KH - 1) - Top : Top;
    public int Left => Mode == "same" ? DW * (KW - 1) / 2 : Mode == "valid" ? 0 : PadW;
    public int Right => Mode == "same" ? DW * (KW - 1) - Left : Left;
    public int Ho => (H + Top + Bottom - DH * (KH - 1) - 1) / SH + 1;
    public int Wo => (W + Left + Right - DW * (KW - 1) - 1) / SW + 1;

    public int[] InputShape => Batched ? [N, Cin, H, W] : [Cin, H, W];
    public int[] WeightShape => [Cout, Cin / Groups, KH, KW];
    public int[] OutputShape => Batched ? [N, Cout, Ho, Wo] : [Cout, Ho, Wo];

    public bool Valid =>
        Cin % Groups == 0 && Cout % Groups == 0 && (Batched || N == 1) && (Mode != "same" || (SH == 1 && SW == 1)) &&
        H + Top + Bottom >= DH * (KH - 1) + 1 && W + Left + Right >= DW * (KW - 1) + 1;

    /// <inheritdoc/>
    public override string ToString() =>
        $"conv2d(input {Layout.Format(InputShape)}, weight {Layout.Format(WeightShape)}, stride ({SH}, {SW}), " +
        $"padding {(Mode is null ? $"({PadH}, {PadW})" : $"'{Mode}'")}, dilation ({DH}, {DW}), groups {Groups}{(Bias ? ", bias" : "")})";

    public Tensor Run(Tensor x, Tensor w, Tensor? b) =>
        Functional.Conv2d(x, w, b, (SH, SW), Mode is null ? (Padding2d)(PadH, PadW) : Mode, (DH, DW), Groups);

    /// <summary>A random valid spec: dense, grouped, depthwise, pointwise or patch-embedding, small or larger maps.</summary>
    public static ConvSpec Random(System.Random r)
    {
        while (true)
        {
            int n = r.Next(30) == 0 ? 0 : r.Next(1, 5);
            bool batched = r.Next(5) != 0;
            if (!batched) n = 1;
            int h = r.Next(1, 13), w = r.Next(1, 13);
            if (r.Next(6) == 0) { h = r.Next(16, 22); w = r.Next(16, 22); }
            int sh = r.Next(1, 4), sw = r.Next(r.Next(2) == 0 ? sh : 1, 4);
            int dh = r.Next(1, 3), dw = r.Next(1, 3);
            int ph = r.Next(0, 3), pw = r.Next(0, 3);
            string? mode = r.Next(6) switch { 0 => "same", 1 => "valid", _ => null };
            if (mode == "same") sh = sw = 1;
            bool bias = r.Next(2) == 0;
            ConvSpec s = r.Next(5) switch
            {
                0 => new(n, batched, r.Next(1, 6), h, w, r.Next(1, 7), r.Next(1, 6), r.Next(1, 6), sh, sw, ph, pw, dh, dw, 1, bias, mode),
                1 => Grouped(r, n, batched, h, w) with { SH = sh, SW = sw, PadH = ph, PadW = pw, DH = dh, DW = dw, Bias = bias, Mode = mode },
                2 => Depthwise(r, n, batched, h, w) with { SH = sh, SW = sw, PadH = ph, PadW = pw, DH = dh, DW = dw, Bias = bias, Mode = mode },
                3 => new(n, batched, r.Next(1, 9), h, w, r.Next(1, 9), 1, 1, Bias: bias, Groups: 1),
                _ => Patch(r, n, batched, h, w) with { Bias = bias },
            };
            if (s.Valid) return s;
        }
    }

    private static ConvSpec Grouped(System.Random r, int n, bool batched, int h, int w)
    {
        int groups = r.Next(2, 4);
        return new(n, batched, groups * r.Next(1, 4), h, w, groups * r.Next(1, 4), r.Next(1, 5), r.Next(1, 5), Groups: groups);
    }

    private static ConvSpec Depthwise(System.Random r, int n, bool batched, int h, int w)
    {
        int c = r.Next(2, 7), k = new[] { 1, 2, 3, 3, 3, 5, 7 }[r.Next(7)];
        return new(n, batched, c, h, w, c * r.Next(1, 3), k, r.Next(3) == 0 ? r.Next(1, 5) : k, Groups: c);
    }

    private static ConvSpec Patch(System.Random r, int n, bool batched, int h, int w)
    {
        int p = r.Next(2, 5);
        return new(n, batched, r.Next(1, 4), h, w, r.Next(1, 6), p, p, p, p);
    }
}

/// <summary>Plain-loop convolution and its gradients, in double, straight from the definition.</summary>
public static class ConvReference
{
    public static double[] Forward(ConvSpec s, double[] x, double[] w, double[]? b)
    {
        var y = new double[Math.Max(0, s.N) * s.Cout * s.Ho * s.Wo];
        Visit(s, (yi, xi, wi, co) => y[yi] += x[xi] * w[wi]);
        if (b is not null)
            for (int i = 0; i < y.Length; i++) y[i] += b[i / (s.Ho * s.Wo) % s.Cout];
        return y;
    }

    public static (double[] Gx, double[] Gw, double[] Gb) Backward(ConvSpec s, double[] x, double[] w, double[] gy)
    {
        var gx = new double[x.Length];
        var gw = new double[w.Length];
        var gb = new double[s.Cout];
        Visit(s, (yi, xi, wi, co) =>
        {
            gx[xi] += gy[yi] * w[wi];
            gw[wi] += gy[yi] * x[xi];
        });
        for (int i = 0; i < gy.Length; i++) gb[i / (s.Ho * s.Wo) % s.Cout] += gy[i];
        return (gx, gw, gb);
    }

    /// <summary>Calls <paramref name="term"/>(output index, input index, weight index, co) for every product that is not padding.</summary>
    private static void Visit(ConvSpec s, Action<int, int, int, int> term)
    {
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups;
        for (int n = 0; n < s.N; n++)
            for (int co = 0; co < s.Cout; co++)
            {
                int grp = co / coutG;
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        int yi = ((n * s.Cout + co) * s.Ho + oy) * s.Wo + ox;
                        for (int cl = 0; cl < cinG; cl++)
                            for (int ky = 0; ky < s.KH; ky++)
                                for (int kx = 0; kx < s.KW; kx++)
                                {
                                    int iy = oy * s.SH - s.Top + ky * s.DH, ix = ox * s.SW - s.Left + kx * s.DW;
                                    if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                                    int ci = grp * cinG + cl;
                                    term(yi, ((n * s.Cin + ci) * s.H + iy) * s.W + ix, ((co * cinG + cl) * s.KH + ky) * s.KW + kx, co);
                                }
                    }
            }
    }
}
