using Engine.Cpu;

namespace Engine.Ops;

/// <summary>The 2-D DCT on the CPU: the dtype switch onto the matrix-product or FFT kernels, on host pointers.</summary>
internal static unsafe class DctCpu
{
    public static void Transform(Tensor x, Tensor y, int h, int w, bool inverse, DctImplementation path)
    {
        long batch = (long)h * w == 0 ? 0 : x.NumEl / ((long)h * w);
        if (x.DType == DType.F32)
            Run(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(y), batch, h, w, inverse, path);
        else
            Run(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(y), batch, h, w, inverse, path);
    }

    private static void Run<T>(T* x, T* y, long batch, int h, int w, bool inverse, DctImplementation path) where T : unmanaged
    {
        if (path == DctImplementation.Fft) DctFft.Transform(x, y, batch, h, w, inverse);
        else DctMatmul.Transform(x, y, batch, h, w, inverse);
    }
}
