using System.Runtime.InteropServices;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// CPU kernels of rfft2 / irfft2 over a batch of contiguous (H, W) planes, as products with the DFT
/// matrices of <see cref="RfftBasis"/>. Each transform and each adjoint is a fixed linear map, so the
/// backward of rfft2 is the adjoint of rfft2 (not irfft2), and the same for irfft2: exact by construction.
/// Spectra are (planes, H, K, 2) interleaved. <c>alpha</c> is the norm's scale.
/// </summary>
internal static unsafe class RfftKernels
{
    /// <summary>X = rfft2(x): (planes, H, W) real to (planes, H, K, 2).</summary>
    public static void Forward<T>(T* x, T* spectrum, long planes, RfftBasis b, double alpha) where T : unmanaged
    {
        int hw = b.H * b.W, hk2 = 2 * b.H * b.K;
        if (b.Dense)
        {
            Gemm(Rows(planes), hk2, hw, alpha, x, hw, 1, b.Forward<T>(), hk2, 1, 0, spectrum, hk2);
            return;
        }
        if (typeof(T) == typeof(float) && RfftPlanesF32.Applies(b))
        {
            RfftPlanesF32.Forward((float*)x, (float*)spectrum, planes, b, alpha, weighted: false);
            return;
        }
        var t = Alloc<T>(planes * hk2);
        try
        {
            Gemm(Rows(planes * b.H), 2 * b.K, b.W, alpha, x, b.W, 1, b.ForwardW<T>(), 2 * b.K, 1, 0, t, 2 * b.K);
            HPass(t, spectrum, planes, b, inverseSign: false);
        }
        finally { NativeMemory.AlignedFree(t); }
    }

    /// <summary>The adjoint of <see cref="Forward{T}"/>: the input gradient of rfft2 from the spectrum's gradient.</summary>
    public static void ForwardAdjoint<T>(T* gSpectrum, T* gx, long planes, RfftBasis b, double alpha) where T : unmanaged
    {
        int hw = b.H * b.W, hk2 = 2 * b.H * b.K;
        if (b.Dense)
        {
            Gemm(Rows(planes), hw, hk2, alpha, gSpectrum, hk2, 1, b.Forward<T>(), 1, hk2, 0, gx, hw);
            return;
        }
        if (typeof(T) == typeof(float) && RfftPlanesF32.Applies(b))
        {
            RfftPlanesF32.Inverse((float*)gSpectrum, (float*)gx, planes, b, alpha, weighted: false);
            return;
        }
        var t = Alloc<T>(planes * hk2);
        try
        {
            HPass(gSpectrum, t, planes, b, inverseSign: true);
            Gemm(Rows(planes * b.H), b.W, 2 * b.K, alpha, t, 2 * b.K, 1, b.ForwardW<T>(), 1, 2 * b.K, 0, gx, b.W);
        }
        finally { NativeMemory.AlignedFree(t); }
    }

    /// <summary>y = irfft2(Y): (planes, H, K, 2) to (planes, H, W) real, with the c_k column weights.</summary>
    public static void Inverse<T>(T* spectrum, T* y, long planes, RfftBasis b, double alpha) where T : unmanaged
    {
        int hw = b.H * b.W, hk2 = 2 * b.H * b.K;
        if (b.Dense)
        {
            Gemm(Rows(planes), hw, hk2, alpha, spectrum, hk2, 1, b.Inverse<T>(), hw, 1, 0, y, hw);
            return;
        }
        if (typeof(T) == typeof(float) && RfftPlanesF32.Applies(b))
        {
            RfftPlanesF32.Inverse((float*)spectrum, (float*)y, planes, b, alpha, weighted: true);
            return;
        }
        var t = Alloc<T>(planes * hk2);
        try
        {
            HPass(spectrum, t, planes, b, inverseSign: true);
            Gemm(Rows(planes * b.H), b.W, 2 * b.K, alpha, t, 2 * b.K, 1, b.InverseW<T>(), b.W, 1, 0, y, b.W);
        }
        finally { NativeMemory.AlignedFree(t); }
    }

    /// <summary>The adjoint of <see cref="Inverse{T}"/>: the spectrum's gradient of irfft2 from the output's gradient.</summary>
    public static void InverseAdjoint<T>(T* gy, T* gSpectrum, long planes, RfftBasis b, double alpha) where T : unmanaged
    {
        int hw = b.H * b.W, hk2 = 2 * b.H * b.K;
        if (b.Dense)
        {
            Gemm(Rows(planes), hk2, hw, alpha, gy, hw, 1, b.Inverse<T>(), 1, hw, 0, gSpectrum, hk2);
            return;
        }
        if (typeof(T) == typeof(float) && RfftPlanesF32.Applies(b))
        {
            RfftPlanesF32.Forward((float*)gy, (float*)gSpectrum, planes, b, alpha, weighted: true);
            return;
        }
        var t = Alloc<T>(planes * hk2);
        try
        {
            Gemm(Rows(planes * b.H), 2 * b.K, b.W, alpha, gy, b.W, 1, b.InverseW<T>(), 1, b.W, 0, t, 2 * b.K);
            HPass(t, gSpectrum, planes, b, inverseSign: false);
        }
        finally { NativeMemory.AlignedFree(t); }
    }

    /// <summary>
    /// The complex DFT along H of every plane: dst = Cos·src + Sin·J(src), where J maps (re, im) to
    /// (im, −re) for the forward sign e^{−iθ} and to (−im, re) for the inverse sign e^{+iθ}.
    /// </summary>
    private static void HPass<T>(T* src, T* dst, long planes, RfftBasis b, bool inverseSign) where T : unmanaged
    {
        if (b.H >= FftMinRows) HPassFft(src, dst, planes, b, inverseSign);
        else HPassGemm(src, dst, planes, b, inverseSign);
    }

    [ThreadStatic] private static int t_fftMinRows;

    /// <summary>
    /// Maps with at least this many rows take the H pass through the engine's FFT (O(H log H) per
    /// column); shorter ones through two small GEMMs per plane (O(H²), but cheaper below this). Per
    /// calling thread, so tests can force either path (default 8).
    /// </summary>
    internal static int FftMinRows
    {
        get => t_fftMinRows == 0 ? 8 : t_fftMinRows - 1;
        set => t_fftMinRows = value + 1;
    }

    /// <summary>
    /// The H pass with <see cref="Fft.Transform(Span{double}, Span{double}, int, int, bool)"/>: the columns
    /// are gathered into planar rows of length H, transformed in place (the inverse unnormalised, as
    /// here), and scattered back.
    /// </summary>
    private static void HPassFft<T>(T* src, T* dst, long planes, RfftBasis b, bool inverseSign) where T : unmanaged
    {
        int h = b.H, k = b.K;
        long rows = planes * k, count = rows * h;
        T* re = Alloc<T>(count), im = Alloc<T>(count);
        try
        {
            CpuParallel.For(planes, 4.0 * h * k, (start, end) =>
            {
                for (long p = start; p < end; p++)
                    for (int n = 0; n < h; n++)
                    {
                        T* s = src + (p * h + n) * 2 * k;
                        long at = p * k * h + n;
                        for (int c = 0; c < k; c++) { re[at + c * h] = s[2 * c]; im[at + c * h] = s[2 * c + 1]; }
                    }
            });
            int len = checked((int)count);
            if (typeof(T) == typeof(double)) Fft.Transform(new Span<double>(re, len), new Span<double>(im, len), h, checked((int)rows), inverseSign);
            else Fft.Transform(new Span<float>(re, len), new Span<float>(im, len), h, checked((int)rows), inverseSign);
            CpuParallel.For(planes, 4.0 * h * k, (start, end) =>
            {
                for (long p = start; p < end; p++)
                    for (int n = 0; n < h; n++)
                    {
                        T* d = dst + (p * h + n) * 2 * k;
                        long at = p * k * h + n;
                        for (int c = 0; c < k; c++) { d[2 * c] = re[at + c * h]; d[2 * c + 1] = im[at + c * h]; }
                    }
            });
        }
        finally { NativeMemory.AlignedFree(re); NativeMemory.AlignedFree(im); }
    }

    private static void HPassGemm<T>(T* src, T* dst, long planes, RfftBasis b, bool inverseSign) where T : unmanaged
    {
        int h = b.H, row = 2 * b.K, plane = h * row;
        T* cos = b.CosH<T>(), sin = b.SinH<T>();
        CpuParallel.For(planes, 4.0 * h * plane, (start, end) =>
        {
            var j = Alloc<T>(plane);
            try
            {
                for (long p = start; p < end; p++)
                {
                    T* s = src + p * plane, d = dst + p * plane;
                    Rotate(s, j, plane, inverseSign);
                    Gemm(h, row, h, 1, cos, h, 1, s, row, 1, 0, d, row);
                    Gemm(h, row, h, 1, sin, h, 1, j, row, 1, 1, d, row);
                }
            }
            finally { NativeMemory.AlignedFree(j); }
        });
    }

    private static void Rotate<T>(T* s, T* j, int count, bool inverseSign) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) Rotate((double*)s, (double*)j, count, inverseSign);
        else Rotate((float*)s, (float*)j, count, inverseSign);
    }

    private static void Rotate(double* s, double* j, int count, bool inverseSign)
    {
        double sign = inverseSign ? -1 : 1;
        for (int i = 0; i < count; i += 2) { j[i] = sign * s[i + 1]; j[i + 1] = -sign * s[i]; }
    }

    private static void Rotate(float* s, float* j, int count, bool inverseSign)
    {
        float sign = inverseSign ? -1 : 1;
        for (int i = 0; i < count; i += 2) { j[i] = sign * s[i + 1]; j[i + 1] = -sign * s[i]; }
    }

    private static int Rows(long rows) => checked((int)rows);

    internal static T* Alloc<T>(long count) where T : unmanaged =>
        (T*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, count) * sizeof(T)), 64);

    /// <summary>C = alpha·A·B + beta·C in T's precision.</summary>
    internal static void Gemm<T>(int m, int n, int k, double alpha, T* a, long ars, long acs, T* b, long brs, long bcs, double beta, T* c, long crs)
        where T : unmanaged
    {
        if (typeof(T) == typeof(double))
            CpuGemm.Gemm(m, n, k, alpha, (double*)a, ars, acs, (double*)b, brs, bcs, beta, (double*)c, crs);
        else
            CpuGemm.Gemm(m, n, k, (float)alpha, (float*)a, ars, acs, (float*)b, brs, bcs, (float)beta, (float*)c, crs);
    }
}
