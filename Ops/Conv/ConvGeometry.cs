namespace Engine.Ops;

/// <summary>
/// Everything a 2-D convolution kernel needs to know, checked once: sizes (always batched; an unbatched
/// input is seen as a batch of one), stride, dilation, the four paddings ('same' may pad one more row or
/// column at the bottom or right, as PyTorch does) and groups.
/// </summary>
internal sealed class ConvGeometry
{
    public readonly int N, Cin, H, W, Cout, KH, KW, SH, SW, DH, DW, PadTop, PadBottom, PadLeft, PadRight, Groups, Ho, Wo;
    public readonly bool Batched;

    private ConvGeometry(bool batched, int n, int cin, int h, int w, int cout, int kh, int kw, Size2d stride, Size2d dilation,
        int padTop, int padBottom, int padLeft, int padRight, int groups)
    {
        Batched = batched;
        N = n; Cin = cin; H = h; W = w; Cout = cout; KH = kh; KW = kw;
        SH = stride.H; SW = stride.W; DH = dilation.H; DW = dilation.W;
        PadTop = padTop; PadBottom = padBottom; PadLeft = padLeft; PadRight = padRight;
        Groups = groups;
        Ho = (h + padTop + padBottom - DH * (kh - 1) - 1) / SH + 1;
        Wo = (w + padLeft + padRight - DW * (kw - 1) - 1) / SW + 1;
    }

    public int CinG => Cin / Groups;
    public int CoutG => Cout / Groups;
    /// <summary>Rows of one group's column matrix: in-channels of the group times kernel positions.</summary>
    public int Kg => CinG * KH * KW;
    public int InPlane => H * W;
    public int OutPlane => Ho * Wo;
    /// <summary>Padded input height and width.</summary>
    public int Hp => H + PadTop + PadBottom;
    public int Wp => W + PadLeft + PadRight;

    /// <summary>One filter per input channel (times a channel multiplier): the direct kernel's case.</summary>
    public bool IsDepthwise => Groups == Cin && Groups > 1;

    /// <summary>A 1x1 convolution that reads every pixel once: a plain matrix product, no column matrix.</summary>
    public bool IsPointwise => KH == 1 && KW == 1 && SH == 1 && SW == 1 && PadTop == 0 && PadBottom == 0 && PadLeft == 0 && PadRight == 0;

    /// <summary>
    /// Non-overlapping patches (a patch embedding): kernel = stride in both directions, no padding, no dilation, and
    /// not pointwise (which has its own path). Every input pixel lies under at most one patch, so the column matrix
    /// is a permutation of the input and its adjoint a pure write (<see cref="PatchOperands"/>).
    /// </summary>
    public bool IsPatchify => KH == SH && KW == SW && DH == 1 && DW == 1 && PadTop == 0 && PadBottom == 0 && PadLeft == 0 && PadRight == 0 && !IsPointwise;

    /// <summary>
    /// The convolution that maps the output gradient to the input gradient, for a stride-1 convolution whose
    /// paddings are at most the dilated kernel's reach: (N, Cout, Ho, Wo) to (N, Cin, H, W) with the same
    /// dilation and groups, the kernel flipped and its channels swapped (see <see cref="ConvGemm"/>), padded by
    /// the reach minus the forward padding on each side. Null for any other convolution.
    /// </summary>
    public ConvGeometry? InputGradientConv()
    {
        int reachH = DH * (KH - 1), reachW = DW * (KW - 1);
        if (SH != 1 || SW != 1 || PadTop > reachH || PadBottom > reachH || PadLeft > reachW || PadRight > reachW) return null;
        return new ConvGeometry(true, N, Cout, Ho, Wo, Cin, KH, KW, 1, new Size2d(DH, DW),
            reachH - PadTop, reachH - PadBottom, reachW - PadLeft, reachW - PadRight, Groups);
    }

    public int[] InputShape => Batched ? [N, Cin, H, W] : [Cin, H, W];
    public int[] OutputShape => Batched ? [N, Cout, Ho, Wo] : [Cout, Ho, Wo];

    private static string Shp(Tensor t) => Layout.Format(t.Layout.Shape);

    /// <summary>Checks the arguments of conv2d as PyTorch does, with messages that name the op and the shapes.</summary>
    public static ConvGeometry Of(Tensor input, Tensor weight, Tensor? bias, Size2d stride, Padding2d padding, Size2d dilation, int groups)
    {
        const string op = "conv2d";
        input.ThrowIfDisposed(op);
        weight.ThrowIfDisposed(op);
        bias?.ThrowIfDisposed(op);
        if (!input.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected a floating point input, got {input.DType.TorchName()} with shape {Shp(input)}.");
        if (weight.DType != input.DType)
            throw new ArgumentException($"{op}: input type ({input.DType.TorchName()}) and weight type ({weight.DType.TorchName()}) should be the same (input {Shp(input)}, weight {Shp(weight)}).");
        if (bias is not null && bias.DType != input.DType)
            throw new ArgumentException($"{op}: input type ({input.DType.TorchName()}) and bias type ({bias.DType.TorchName()}) should be the same (input {Shp(input)}, bias {Shp(bias)}).");
        foreach (var t in bias is null ? [weight] : new[] { weight, bias })
            if (t.Device != input.Device)
                throw new ArgumentException($"{op}: expected all tensors to be on the same device, but found {input.Device} and {t.Device} (input {Shp(input)}, {(t == weight ? "weight" : "bias")} {Shp(t)}).");
        if (input.Rank is not (3 or 4))
            throw new ArgumentException($"{op}: expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {Shp(input)}.");
        if (weight.Rank != 4)
            throw new ArgumentException($"{op}: expected a 4-dimensional weight (out_channels, in_channels / groups, kH, kW), but got weight of size {Shp(weight)} for input of size {Shp(input)}.");
        if (stride.H <= 0 || stride.W <= 0)
            throw new ArgumentException($"{op}: non-positive stride is not supported, but got stride {stride} (input {Shp(input)}, weight {Shp(weight)}).");
        if (dilation.H <= 0 || dilation.W <= 0)
            throw new ArgumentException($"{op}: dilation should be greater than zero, but got dilation {dilation} (input {Shp(input)}, weight {Shp(weight)}).");
        if (groups <= 0)
            throw new ArgumentException($"{op}: non-positive groups is not supported, but got groups={groups} (input {Shp(input)}, weight {Shp(weight)}).");

        bool batched = input.Rank == 4;
        var xs = input.Layout.Shape;
        var ws = weight.Layout.Shape;
        int n = batched ? xs[0] : 1, cin = xs[^3], h = xs[^2], w = xs[^1];
        int cout = ws[0], kh = ws[2], kw = ws[3];
        if (kh <= 0 || kw <= 0)
            throw new ArgumentException($"{op}: kernel size must be positive, but got weight of size {Shp(weight)} (input {Shp(input)}).");
        if (cout % groups != 0)
            throw new ArgumentException($"{op}: given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {Shp(weight)} instead (input {Shp(input)}).");
        if (cin != ws[1] * groups)
            throw new ArgumentException($"{op}: given groups={groups}, weight of size {Shp(weight)}, expected input{Shp(input)} to have {ws[1] * groups} channels, but got {cin} channels instead.");
        if (bias is not null && (bias.Rank != 1 || bias.Layout.Shape[0] != cout))
            throw new ArgumentException($"{op}: given weight of size {Shp(weight)}, expected bias to be 1-dimensional with {cout} elements, but got bias of size {Shp(bias)} instead (input {Shp(input)}).");

        int top, bottom, left, right;
        switch (padding.Mode)
        {
            case null:
                if (padding.Size.H < 0 || padding.Size.W < 0)
                    throw new ArgumentException($"{op}: negative padding is not supported, but got padding {padding.Size} (input {Shp(input)}, weight {Shp(weight)}).");
                top = bottom = padding.Size.H;
                left = right = padding.Size.W;
                break;
            case "valid":
                top = bottom = left = right = 0;
                break;
            case "same":
                if (stride.H != 1 || stride.W != 1)
                    throw new ArgumentException($"{op}: padding='same' is not supported for strided convolutions, but got stride {stride} (input {Shp(input)}, weight {Shp(weight)}).");
                // An odd total puts the extra row (column) at the bottom (right), as PyTorch does.
                int totalH = dilation.H * (kh - 1), totalW = dilation.W * (kw - 1);
                top = totalH / 2; bottom = totalH - top;
                left = totalW / 2; right = totalW - left;
                break;
            default:
                throw new ArgumentException($"{op}: invalid padding string '{padding.Mode}'; expected 'same' or 'valid' (input {Shp(input)}, weight {Shp(weight)}).");
        }

        int dilatedH = dilation.H * (kh - 1) + 1, dilatedW = dilation.W * (kw - 1) + 1;
        long paddedH = (long)h + top + bottom, paddedW = (long)w + left + right;
        if (paddedH < dilatedH || paddedW < dilatedW)
            throw new ArgumentException($"{op}: calculated padded input size per channel: ({paddedH} x {paddedW}). Kernel size: ({dilatedH} x {dilatedW}). " +
                $"Kernel size can't be greater than actual input size (input {Shp(input)}, weight {Shp(weight)}, padding {padding}, dilation {dilation}).");

        return new ConvGeometry(batched, n, cin, h, w, cout, kh, kw, stride, dilation, top, bottom, left, right, groups);
    }
}
