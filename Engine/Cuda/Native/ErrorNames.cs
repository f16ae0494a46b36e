namespace Engine.Cuda.Native;

/// <summary>
/// The status names of each library, for error messages. The driver and NVRTC can name their own codes
/// (cuGetErrorName, nvrtcGetErrorString); these tables cover cuBLAS and cuFFT, which cannot, and the
/// driver's codes when the driver itself cannot answer.
/// </summary>
public static class ErrorNames
{
    private static readonly Dictionary<int, string> DriverNames = new()
    {
        [0] = "SUCCESS", [1] = "INVALID_VALUE", [2] = "OUT_OF_MEMORY", [3] = "NOT_INITIALIZED", [4] = "DEINITIALIZED",
        [34] = "STUB_LIBRARY", [35] = "INSUFFICIENT_DRIVER", [100] = "NO_DEVICE", [101] = "INVALID_DEVICE",
        [200] = "INVALID_IMAGE", [201] = "INVALID_CONTEXT", [209] = "NO_BINARY_FOR_GPU", [218] = "INVALID_PTX",
        [222] = "UNSUPPORTED_PTX_VERSION", [400] = "INVALID_HANDLE", [500] = "NOT_FOUND", [600] = "NOT_READY",
        [700] = "ILLEGAL_ADDRESS", [701] = "LAUNCH_OUT_OF_RESOURCES", [716] = "MISALIGNED_ADDRESS",
        [719] = "LAUNCH_FAILED", [801] = "NOT_SUPPORTED", [999] = "UNKNOWN",
    };

    private static readonly Dictionary<int, string> CuBlasNames = new()
    {
        [0] = "SUCCESS", [1] = "NOT_INITIALIZED", [3] = "ALLOC_FAILED", [7] = "INVALID_VALUE", [8] = "ARCH_MISMATCH",
        [11] = "MAPPING_ERROR", [13] = "EXECUTION_FAILED", [14] = "INTERNAL_ERROR", [15] = "NOT_SUPPORTED", [16] = "LICENSE_ERROR",
    };

    // CUDA 13 dropped 10, 12 and 15 and added 17-20; a code means the same in both versions where it exists.
    private static readonly Dictionary<int, string> CuFftNames = new()
    {
        [0] = "SUCCESS", [1] = "INVALID_PLAN", [2] = "ALLOC_FAILED", [3] = "INVALID_TYPE", [4] = "INVALID_VALUE",
        [5] = "INTERNAL_ERROR", [6] = "EXEC_FAILED", [7] = "SETUP_FAILED", [8] = "INVALID_SIZE", [9] = "UNALIGNED_DATA",
        [10] = "INCOMPLETE_PARAMETER_LIST", [11] = "INVALID_DEVICE", [12] = "PARSE_ERROR", [13] = "NO_WORKSPACE",
        [14] = "NOT_IMPLEMENTED", [15] = "LICENSE_ERROR", [16] = "NOT_SUPPORTED", [17] = "MISSING_DEPENDENCY",
        [18] = "NVRTC_FAILURE", [19] = "NVJITLINK_FAILURE", [20] = "NVSHMEM_FAILURE",
    };

    private static readonly Dictionary<int, string> NvrtcNames = new()
    {
        [0] = "SUCCESS", [1] = "OUT_OF_MEMORY", [2] = "PROGRAM_CREATION_FAILURE", [3] = "INVALID_INPUT",
        [4] = "INVALID_PROGRAM", [5] = "INVALID_OPTION", [6] = "COMPILATION", [7] = "BUILTIN_OPERATION_FAILURE",
        [8] = "NO_NAME_EXPRESSIONS_AFTER_COMPILATION", [9] = "NO_LOWERED_NAMES_BEFORE_COMPILATION",
        [10] = "NAME_EXPRESSION_NOT_VALID", [11] = "INTERNAL_ERROR",
    };

    /// <summary>A driver <c>CUresult</c>'s name from the table, as <c>CUDA_ERROR_*</c> (or <c>CUDA_SUCCESS</c>).</summary>
    public static string Driver(int code) => code == 0 ? "CUDA_SUCCESS" : "CUDA_ERROR_" + Lookup(DriverNames, code);

    /// <summary>A <c>cublasStatus_t</c>'s name.</summary>
    public static string CuBlas(int code) => "CUBLAS_STATUS_" + Lookup(CuBlasNames, code);

    /// <summary>A <c>cufftResult</c>'s name.</summary>
    public static string CuFft(int code) => "CUFFT_" + Lookup(CuFftNames, code);

    /// <summary>An <c>nvrtcResult</c>'s name from the table.</summary>
    public static string Nvrtc(int code) => code == 0 ? "NVRTC_SUCCESS" : "NVRTC_ERROR_" + Lookup(NvrtcNames, code);

    private static string Lookup(Dictionary<int, string> names, int code) => names.TryGetValue(code, out var n) ? n : $"UNKNOWN_CODE_{code}";
}
