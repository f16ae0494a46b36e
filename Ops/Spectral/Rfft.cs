using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// The 2-D FFT of a real tensor over its last two dimensions, keeping the half spectrum of the last one
    /// (PyTorch's <c>torch.fft.rfft2(input, dim=(-2, -1), norm=norm)</c>): (*, H, W) real to (*, H, ⌊W/2⌋+1)
    /// complex, returned as real and imaginary parts in a trailing dimension of size 2 (the layout of
    /// <c>torch.view_as_real</c>). X[u,k] = scale · Σ x[n,m]·exp(−2πi(un/H + km/W)).
    /// </summary>
    /// <param name="input">Real tensor of shape (*, H, W).</param>
    /// <param name="norm">"backward" (or null; no scaling), "ortho" (1/√(HW)) or "forward" (1/(HW)).</param>
    public static Tensor Rfft2(Tensor input, string? norm = null)
    {
        const string op = "fft_rfft2";
        CheckSpectralInput(op, input, minRank: 2);
        var shape = input.Layout.Shape;
        int h = shape[^2], w = shape[^1];
        if (h < 1 || w < 1)
            throw new ArgumentException($"{op}: Invalid number of data points ({(h < 1 ? h : w)}) specified (input of shape {Layout.Format(shape)}).");
        double alpha = NormScale(op, norm, h, w, inverse: false);
        long planes = Layout.Count(shape.AsSpan(0, shape.Length - 2));
        int[] outShape = [.. shape[..^1], w / 2 + 1, 2];

        long t0 = Stopwatch.GetTimestamp();
        var y = Tensor.Empty(outShape, input.DType, input.Device);
        using (var x = FamilyGuards.Dense(input))
            RfftForward(x, y, planes, h, w, alpha);
        if (Tape.ShouldRecord(input))
        {
            Tape.Record(op, [input], [y], g =>
            {
                using var gc = g[0].ContiguousHandle();
                var dx = Tensor.Empty(shape, gc.DType, gc.Device);
                RfftForwardAdjoint(gc, dx, planes, h, w, alpha);
                return [dx];
            }, null, t0);
        }
        return y;
    }

    /// <summary>
    /// The inverse of <see cref="Rfft2"/> (PyTorch's <c>torch.fft.irfft2(input, s, dim=(-2, -1), norm)</c>):
    /// (*, H, K, 2) to (*, H, W) real. A half spectrum that is not Hermitian is taken exactly as PyTorch's
    /// CPU backend takes it: y[n,m] = scale · Re Σ_u Σ_k c_k·Y[u,k]·exp(+2πi(un/H + km/W)) with c_0 = 1,
    /// c_{W/2} = 1 for even W and c_k = 2 otherwise; the imaginary parts of the k = 0 (and W/2) column
    /// enter only through their Hermitian-symmetrised part.
    /// </summary>
    /// <param name="input">Tensor of shape (*, H, K, 2): real and imaginary parts of the half spectrum.</param>
    /// <param name="s">The output size (H, W); W defaults to 2(K − 1). H must equal the input's and ⌊W/2⌋ + 1 must equal K (no cropping or padding).</param>
    /// <param name="norm">"backward" (or null; 1/(HW)), "ortho" (1/√(HW)) or "forward" (no scaling).</param>
    public static Tensor Irfft2(Tensor input, int[]? s = null, string? norm = null)
    {
        const string op = "fft_irfft2";
        CheckSpectralInput(op, input, minRank: 3);
        var shape = input.Layout.Shape;
        if (shape[^1] != 2)
            throw new ArgumentException($"{op}: expected a trailing dimension of size 2 (real and imaginary parts), but got input of shape {Layout.Format(shape)}.");
        int h = shape[^3], k = shape[^2];
        if (s is not null && s.Length != 2)
            throw new ArgumentException($"{op}: s must give 2 sizes (H, W), got {s.Length} (input of shape {Layout.Format(shape)}).");
        int w = s?[1] ?? 2 * (k - 1);
        if (w < 1 || h < 1)
            throw new ArgumentException($"{op}: Invalid number of data points ({(h < 1 ? h : w)}) specified (input of shape {Layout.Format(shape)}).");
        if (s is not null && s[0] != h)
            throw new ArgumentException($"{op}: s[0] = {s[0]} differs from the input's size {h} along dim -3; cropping or padding is not supported (input of shape {Layout.Format(shape)}).");
        if (w / 2 + 1 != k)
            throw new ArgumentException($"{op}: an output width of {w} needs {w / 2 + 1} spectrum columns, but the input has {k}; cropping or padding is not supported (input of shape {Layout.Format(shape)}).");
        double alpha = NormScale(op, norm, h, w, inverse: true);
        long planes = Layout.Count(shape.AsSpan(0, shape.Length - 3));
        int[] outShape = [.. shape[..^3], h, w];

        long t0 = Stopwatch.GetTimestamp();
        var y = Tensor.Empty(outShape, input.DType, input.Device);
        using (var x = FamilyGuards.Dense(input))
            RfftInverse(x, y, planes, h, w, alpha);
        if (Tape.ShouldRecord(input))
        {
            Tape.Record(op, [input], [y], g =>
            {
                using var gc = g[0].ContiguousHandle();
                var dx = Tensor.Empty(shape, gc.DType, gc.Device);
                RfftInverseAdjoint(gc, dx, planes, h, w, alpha);
                return [dx];
            }, null, t0);
        }
        return y;
    }

    private static void CheckSpectralInput(string op, Tensor input, int minRank)
    {
        FamilyGuards.Float(op, input);
        if (input.Rank < minRank)
            throw new ArgumentException($"{op}: expected an input with at least {minRank} dimensions, but got input of shape {Layout.Format(input.Layout.Shape)}.");
    }

    /// <summary>The scale of a transform of an H×W map under PyTorch's norm modes.</summary>
    private static double NormScale(string op, string? norm, int h, int w, bool inverse)
    {
        double n = (double)h * w;
        return norm switch
        {
            null or "backward" => inverse ? 1 / n : 1,
            "ortho" => 1 / Math.Sqrt(n),
            "forward" => inverse ? 1 : 1 / n,
            _ => throw new ArgumentException($"{op}: Invalid normalization mode: \"{norm}\""),
        };
    }

    // Every transform and its adjoint is a fixed real-linear map. On CUDA all four are two: a forward DFT
    // (R2C) scaled by α, or by α·c_k per column for the adjoint of irfft2, and the sum α·Re Σ c'_k Y e^{+iθ}
    // (C2R of a spectrum whose edge columns were made Hermitian), with c'_k = c_k for irfft2 and 1 (the interior
    // columns halved before the C2R) for the adjoint of rfft2.

    /// <summary>rfft2: (planes, H, W) real to (planes, H, K, 2).</summary>
    private static void RfftForward(Tensor x, Tensor y, long planes, int h, int w, double alpha)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: RfftCpu.Forward(x, y, planes, RfftBasis.For(h, w), alpha); break;
            case DeviceType.Cuda: RfftCuda.Forward(x, y, planes, h, w, alpha, weighted: false); break;
            default: throw Kernel.Missing("fft_rfft2", x);
        }
    }

    /// <summary>The input gradient of rfft2 from the spectrum's gradient.</summary>
    private static void RfftForwardAdjoint(Tensor g, Tensor dx, long planes, int h, int w, double alpha)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: RfftCpu.ForwardAdjoint(g, dx, planes, RfftBasis.For(h, w), alpha); break;
            case DeviceType.Cuda: RfftCuda.Inverse(g, dx, planes, h, w, alpha, halveInterior: true); break;
            default: throw Kernel.Missing("fft_rfft2_backward", g);
        }
    }

    /// <summary>irfft2: (planes, H, K, 2) to (planes, H, W) real, with the c_k column weights.</summary>
    private static void RfftInverse(Tensor x, Tensor y, long planes, int h, int w, double alpha)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: RfftCpu.Inverse(x, y, planes, RfftBasis.For(h, w), alpha); break;
            case DeviceType.Cuda: RfftCuda.Inverse(x, y, planes, h, w, alpha, halveInterior: false); break;
            default: throw Kernel.Missing("fft_irfft2", x);
        }
    }

    /// <summary>The spectrum's gradient of irfft2 from the output's gradient.</summary>
    private static void RfftInverseAdjoint(Tensor g, Tensor dx, long planes, int h, int w, double alpha)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: RfftCpu.InverseAdjoint(g, dx, planes, RfftBasis.For(h, w), alpha); break;
            case DeviceType.Cuda: RfftCuda.Forward(g, dx, planes, h, w, alpha, weighted: true); break;
            default: throw Kernel.Missing("fft_irfft2_backward", g);
        }
    }
}
