namespace Engine.Ops;

/// <summary>
/// Sizes of a 2-D pooling, checked once. The input is seen as Planes = N·C independent (H, W) planes;
/// an unbatched (C, H, W) input is one image.
/// </summary>
internal sealed class PoolGeometry
{
    public readonly int Planes, H, W, KH, KW, SH, SW, PH, PW, DH, DW, Ho, Wo;
    public readonly int[] OutputShape;

    public PoolGeometry(Tensor input, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int ho, int wo)
    {
        var s = input.Layout.Shape;
        Planes = (int)Layout.Count(s[..^2]);
        H = s[^2]; W = s[^1];
        KH = kh; KW = kw; SH = sh; SW = sw; PH = ph; PW = pw; DH = dh; DW = dw; Ho = ho; Wo = wo;
        OutputShape = [.. s[..^2], ho, wo];
    }

    public int InPlane => H * W;
    public int OutPlane => Ho * Wo;

    private static string Shp(Tensor t) => Layout.Format(t.Layout.Shape);

    /// <summary>PyTorch's input check for the windowed poolings: 3D or 4D, only the batch may be empty.</summary>
    public static void CheckInput(string op, Tensor input)
    {
        input.ThrowIfDisposed(op);
        if (!input.DType.IsFloatingPoint())
            throw new ArgumentException($"{op}: expected a floating point input, got {input.DType.TorchName()} with shape {Shp(input)}.");
        var s = input.Layout.Shape;
        bool ok = input.Rank switch
        {
            3 => s[0] != 0 && s[1] != 0 && s[2] != 0,
            4 => s[1] != 0 && s[2] != 0 && s[3] != 0,
            _ => false,
        };
        if (!ok)
            throw new ArgumentException($"{op}: expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got: {Shp(input)}.");
    }

    /// <summary>
    /// PyTorch's pooling output size: floor or ceil of the window count, where in ceil mode the last window
    /// must still start inside the input or the left padding.
    /// </summary>
    public static int OutputSize(int input, int kernel, int pad, int stride, int dilation, bool ceilMode)
    {
        long span = (long)input + 2 * pad - (long)dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
        long output = FloorDiv(span, stride) + 1;
        if (ceilMode && (output - 1) * stride >= input + pad) output--;
        return (int)output;
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>The checks avg_pool2d and max_pool2d share, in PyTorch's order; returns the geometry.</summary>
    public static PoolGeometry Windowed(string op, Tensor input, Size2d kernel, Size2d stride, Size2d padding, Size2d dilation, bool ceilMode)
    {
        CheckInput(op, input);
        if (kernel.H <= 0 || kernel.W <= 0)
            throw new ArgumentException($"{op}: kernel size should be greater than zero, but got kH: {kernel.H} kW: {kernel.W} (input {Shp(input)}).");
        if (stride.H <= 0 || stride.W <= 0)
            throw new ArgumentException($"{op}: stride should be greater than zero, but got dH: {stride.H} dW: {stride.W} (input {Shp(input)}).");
        if (dilation.H <= 0 || dilation.W <= 0)
            throw new ArgumentException($"{op}: dilation should be greater than zero, but got dilationH: {dilation.H} dilationW: {dilation.W} (input {Shp(input)}).");
        if (padding.H < 0 || padding.W < 0)
            throw new ArgumentException($"{op}: pad must be non-negative, but got padH = {padding.H}, padW = {padding.W} (input {Shp(input)}).");
        if (kernel.W / 2 < padding.W || kernel.H / 2 < padding.H)
            throw new ArgumentException($"{op}: pad should be smaller than or equal to half of kernel size, but got padW = {padding.W}, padH = {padding.H}, kW = {kernel.W}, kH = {kernel.H} (input {Shp(input)}).");
        var s = input.Layout.Shape;
        int ho = OutputSize(s[^2], kernel.H, padding.H, stride.H, dilation.H, ceilMode);
        int wo = OutputSize(s[^1], kernel.W, padding.W, stride.W, dilation.W, ceilMode);
        if (ho < 1 || wo < 1)
            throw new ArgumentException($"{op}: given input size: ({s[^3]}x{s[^2]}x{s[^1]}). Calculated output size: ({s[^3]}x{ho}x{wo}). Output size is too small " +
                $"(input {Shp(input)}, kernel {kernel}, stride {stride}, padding {padding}, dilation {dilation}).");
        return new PoolGeometry(input, kernel.H, kernel.W, stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W, ho, wo);
    }
}
