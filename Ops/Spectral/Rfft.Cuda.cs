using Engine.Backends;
using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// rfft2 and irfft2 on CUDA: cuFFT through the backend's Fft, and the kernels of <c>Rfft.cu</c> around it.
/// Two maps cover the four directions (the transforms and their adjoints), on (planes, H, W) real and
/// (planes, H, K, 2) half spectra:
/// <list type="bullet">
/// <item><see cref="Forward"/>: Y[u, k] = α · c_k^weighted · Σ x[n, m] e^{−2πi(un/H + km/W)} (R2C, then a scale);</item>
/// <item><see cref="Inverse"/>: y[n, m] = α · Re Σ_u Σ_k c'_k Y[u, k] e^{+2πi(un/H + km/W)}, with c'_k the C2R
/// weights c_k, or 1 when the interior columns are halved first. cuFFT's C2R assumes a Hermitian spectrum, so
/// the k = 0 and Nyquist columns are first symmetrised along H, (Y[u] + conj(Y[−u])) / 2, which leaves the
/// real part of the sum unchanged (rfft.md).</item>
/// </list>
/// No plan has a dimension of size 1: H = 1 takes a 1-D transform along W, and W = 1 (one column, K = 1) a
/// complex transform along H.
/// </summary>
internal static class RfftCuda
{
    private const string Unit = "Spectral/Rfft.cu";

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(RfftCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    /// <summary>spectrum = α · (c_k when <paramref name="weighted"/>) · DFT(x).</summary>
    public static void Forward(Tensor x, Tensor spectrum, long planes, int h, int w, double alpha, bool weighted)
    {
        if (planes == 0) return;
        var backend = Backend.For(x.Device);
        if (w == 1)
        {
            // One column: a complex DFT along H of the real values.
            using var column = Tensor.Empty(spectrum.Layout.Shape, x.DType, x.Device);
            Launch(x, "rfft_complexify", x.NumEl, x, h == 1 ? spectrum : column, x.NumEl);
            if (h > 1) backend.Fft(column, spectrum, FftKind.C2C, [h], inverse: false);
        }
        else backend.Fft(x, spectrum, FftKind.R2C, h == 1 ? [w] : [h, w], inverse: false);
        if (alpha == 1 && !weighted) return;
        int k = w / 2 + 1;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(spectrum); args.Add(spectrum.NumEl / 2); args.Add(k); args.Add(w); args.Add(alpha); args.Add(weighted ? 1 : 0);
        Kernel(x, "rfft_scale_columns").Launch(LaunchConfig.ForElements(spectrum.NumEl / 2), args);
    }

    /// <summary>y = α · Re Σ c'_k Y e^{+iθ}: c'_k = c_k, or 1 when <paramref name="halveInterior"/>.</summary>
    public static void Inverse(Tensor spectrum, Tensor y, long planes, int h, int w, double alpha, bool halveInterior)
    {
        if (planes == 0) return;
        var backend = Backend.For(y.Device);
        int k = w / 2 + 1;
        using var hermitian = Tensor.Empty(spectrum.Layout.Shape, spectrum.DType, spectrum.Device);
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(spectrum); args.Add(hermitian); args.Add(planes); args.Add(h); args.Add(k); args.Add(w); args.Add(halveInterior ? 1 : 0);
            Kernel(y, "rfft_hermitian_columns").Launch(LaunchConfig.ForElements(spectrum.NumEl / 2), args);
        }
        if (w == 1)
        {
            // One column: the real part of a complex inverse DFT along H, scaled.
            using var column = h > 1 ? Tensor.Empty(spectrum.Layout.Shape, spectrum.DType, spectrum.Device) : null;
            if (column is not null) backend.Fft(hermitian, column, FftKind.C2C, [h], inverse: true);
            Launch(y, "rfft_real_part", y.NumEl, column ?? hermitian, y, y.NumEl, alpha);
            return;
        }
        backend.Fft(hermitian, y, FftKind.C2R, h == 1 ? [w] : [h, w], inverse: true);
        if (alpha != 1) Launch(y, "rfft_scale", y.NumEl, y, null, y.NumEl, alpha);
    }

    private static void Launch(Tensor on, string name, long count, Tensor a, Tensor? b, long n, double? alpha = null)
    {
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(a);
        if (b is not null) args.Add(b);
        args.Add(n);
        if (alpha is { } s) args.Add(s);
        Kernel(on, name).Launch(LaunchConfig.ForElements(count), args);
    }
}
