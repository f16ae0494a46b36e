namespace Engine.Cuda;

/// <summary>
/// One CUDA library as the resolver looks for it: the versioned file names (newest major first), the
/// environment variable that overrides the search, and the folders the pip wheels put it in.
/// </summary>
/// <param name="LogicalName">The name the bindings import (<c>cuda</c>, <c>cublas</c>, <c>cufft</c>, <c>nvrtc</c>).</param>
/// <param name="OverrideVariable">An environment variable holding the full path of the file to load.</param>
/// <param name="Sonames">The versioned file names, newest CUDA major first.</param>
/// <param name="WheelFolders">Folders under <c>site-packages</c> where NVIDIA's wheels keep the file.</param>
/// <param name="Companions">Libraries to preload from the same folder, matched by prefix (cuBLASLt beside cuBLAS).</param>
/// <param name="IsDriver">The driver comes with the display driver, not the toolkit: it is looked for in the system's folders.</param>
public sealed record CudaLibrary(
    string LogicalName,
    string OverrideVariable,
    IReadOnlyList<string> Sonames,
    IReadOnlyList<string> WheelFolders,
    IReadOnlyList<string> Companions,
    bool IsDriver = false)
{
    /// <summary>The driver API (libcuda), installed with the display driver. The toolkit's <c>stubs/libcuda.so</c> is never loaded: it only fails (error 34).</summary>
    public static readonly CudaLibrary Driver = new("cuda", "ENGINE_LIBCUDA", ["libcuda.so.1"], [], [], IsDriver: true);

    /// <summary>cuBLAS 13 or 12, with its cuBLASLt of the same major preloaded from the same folder.</summary>
    public static readonly CudaLibrary CuBlas = new("cublas", "ENGINE_LIBCUBLAS",
        ["libcublas.so.13", "libcublas.so.12"], ["nvidia/cu13/lib", "nvidia/cublas/lib"], ["libcublasLt.so."]);

    /// <summary>cuFFT: major 12 ships with CUDA 13, major 11 with CUDA 12.</summary>
    public static readonly CudaLibrary CuFft = new("cufft", "ENGINE_LIBCUFFT",
        ["libcufft.so.12", "libcufft.so.11"], ["nvidia/cu13/lib", "nvidia/cufft/lib"], []);

    /// <summary>
    /// NVRTC 13, 12 or 11 (every CUDA 11.x names it <c>libnvrtc.so.11.2</c>; Debian 12's non-free
    /// <c>libnvrtc11.2</c> is CUDA 11.8's, which CI compiles the kernels with). Its
    /// <c>libnvrtc-builtins.so.MAJOR.MINOR</c> is preloaded from the same folder, since NVRTC opens it by soname
    /// at compile time.
    /// </summary>
    public static readonly CudaLibrary Nvrtc = new("nvrtc", "ENGINE_LIBNVRTC",
        ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"], ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"], ["libnvrtc-builtins.so."]);

    /// <summary>The four libraries the bindings use.</summary>
    /// <summary>NCCL, the collectives of data-parallel training on GPUs (NVIDIA's <c>nvidia-nccl-cu12</c> wheel, or the libnccl2 package).</summary>
    public static readonly CudaLibrary Nccl = new("nccl", "ENGINE_LIBNCCL", ["libnccl.so.2"], ["nvidia/nccl/lib"], []);

    public static IReadOnlyList<CudaLibrary> All { get; } = [Driver, CuBlas, CuFft, Nvrtc, Nccl];

    /// <summary>The library a binding's logical name stands for, or null.</summary>
    public static CudaLibrary? ForLogicalName(string name) => All.FirstOrDefault(l => l.LogicalName == name);
}
