using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

/// <summary>
/// cuBLAS (<c>libcublas.so.13</c> or <c>.12</c>). cuBLAS is column-major: a row-major C[M,N] = op(A)·op(B) is
/// <c>gemm(opB, opA, N, M, K, α, B, ldB, A, ldA, β, C, N)</c>. α and β are host pointers of the compute type.
/// </summary>
public static unsafe partial class CuBlas
{
    private const string Lib = "cublas";

    static CuBlas() => NativeLibraries.EnsureRegistered();

    /// <summary>Throws when <paramref name="status"/> is not CUBLAS_STATUS_SUCCESS.</summary>
    public static void Check(int status, string function)
    {
        if (status != 0) throw new CudaException("cublas", function, status, ErrorNames.CuBlas(status));
    }

    /// <summary>Creates a handle in the current (primary) context.</summary>
    public static nint Create() { nint h; Check(cublasCreate_v2(&h), "cublasCreate_v2"); return h; }

    /// <summary>Destroys a handle.</summary>
    public static void Destroy(nint handle) => Check(cublasDestroy_v2(handle), "cublasDestroy_v2");

    /// <summary>Binds the handle to a stream.</summary>
    public static void SetStream(nint handle, nint stream) => Check(cublasSetStream_v2(handle, stream), "cublasSetStream_v2");

    /// <summary>Sets the math mode (0 default, 3 TF32 tensor ops).</summary>
    public static void SetMathMode(nint handle, BlasMath mode) => Check(cublasSetMathMode(handle, (int)mode), "cublasSetMathMode");

    /// <summary>Where α and β live: 0 host, 1 device.</summary>
    public static void SetPointerMode(nint handle, int mode) => Check(cublasSetPointerMode_v2(handle, mode), "cublasSetPointerMode_v2");

    /// <summary>Gives cuBLAS a workspace of its own (needed before graph capture).</summary>
    public static void SetWorkspace(nint handle, CUdeviceptr workspace, ulong bytes) =>
        Check(cublasSetWorkspace_v2(handle, workspace, (nuint)bytes), "cublasSetWorkspace_v2");

    /// <summary>Column-major single-precision GEMM.</summary>
    public static void Sgemm(nint h, BlasOp ta, BlasOp tb, int m, int n, int k, float alpha, CUdeviceptr a, int lda,
        CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) =>
        Check(cublasSgemm_v2(h, (int)ta, (int)tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc), "cublasSgemm_v2");

    /// <summary>Column-major double-precision GEMM.</summary>
    public static void Dgemm(nint h, BlasOp ta, BlasOp tb, int m, int n, int k, double alpha, CUdeviceptr a, int lda,
        CUdeviceptr b, int ldb, double beta, CUdeviceptr c, int ldc) =>
        Check(cublasDgemm_v2(h, (int)ta, (int)tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc), "cublasDgemm_v2");

    /// <summary>Column-major strided-batched single-precision GEMM; a stride of 0 broadcasts an operand.</summary>
    public static void SgemmStridedBatched(nint h, BlasOp ta, BlasOp tb, int m, int n, int k, float alpha,
        CUdeviceptr a, int lda, long strideA, CUdeviceptr b, int ldb, long strideB, float beta,
        CUdeviceptr c, int ldc, long strideC, int batch) =>
        Check(cublasSgemmStridedBatched(h, (int)ta, (int)tb, m, n, k, &alpha, a, lda, strideA, b, ldb, strideB, &beta, c, ldc, strideC, batch),
            "cublasSgemmStridedBatched");

    /// <summary>Column-major strided-batched double-precision GEMM; a stride of 0 broadcasts an operand.</summary>
    public static void DgemmStridedBatched(nint h, BlasOp ta, BlasOp tb, int m, int n, int k, double alpha,
        CUdeviceptr a, int lda, long strideA, CUdeviceptr b, int ldb, long strideB, double beta,
        CUdeviceptr c, int ldc, long strideC, int batch) =>
        Check(cublasDgemmStridedBatched(h, (int)ta, (int)tb, m, n, k, &alpha, a, lda, strideA, b, ldb, strideB, &beta, c, ldc, strideC, batch),
            "cublasDgemmStridedBatched");

    /// <summary>
    /// cublasGemmStridedBatchedEx: the data and compute types chosen per call (for example R_32F data with
    /// compute 32F_FAST_TF32). <paramref name="alpha"/> and <paramref name="beta"/> point at host values of the compute type.
    /// </summary>
    public static void GemmStridedBatchedEx(nint h, BlasOp ta, BlasOp tb, int m, int n, int k, void* alpha,
        CUdeviceptr a, BlasDataType aType, int lda, long strideA, CUdeviceptr b, BlasDataType bType, int ldb, long strideB,
        void* beta, CUdeviceptr c, BlasDataType cType, int ldc, long strideC, int batch, BlasCompute compute) =>
        Check(cublasGemmStridedBatchedEx(h, (int)ta, (int)tb, m, n, k, alpha, a, (int)aType, lda, strideA, b, (int)bType, ldb, strideB,
            beta, c, (int)cType, ldc, strideC, batch, (int)compute, -1), "cublasGemmStridedBatchedEx");

    [LibraryImport(Lib)] private static partial int cublasCreate_v2(nint* handle);
    [LibraryImport(Lib)] private static partial int cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] private static partial int cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Lib)] private static partial int cublasSetMathMode(nint handle, int mode);
    [LibraryImport(Lib)] private static partial int cublasSetPointerMode_v2(nint handle, int mode);
    [LibraryImport(Lib)] private static partial int cublasSetWorkspace_v2(nint handle, CUdeviceptr workspace, nuint bytes);
    [LibraryImport(Lib)]
    private static partial int cublasSgemm_v2(nint h, int ta, int tb, int m, int n, int k, float* alpha, CUdeviceptr a, int lda,
        CUdeviceptr b, int ldb, float* beta, CUdeviceptr c, int ldc);
    [LibraryImport(Lib)]
    private static partial int cublasDgemm_v2(nint h, int ta, int tb, int m, int n, int k, double* alpha, CUdeviceptr a, int lda,
        CUdeviceptr b, int ldb, double* beta, CUdeviceptr c, int ldc);
    [LibraryImport(Lib)]
    private static partial int cublasSgemmStridedBatched(nint h, int ta, int tb, int m, int n, int k, float* alpha,
        CUdeviceptr a, int lda, long strideA, CUdeviceptr b, int ldb, long strideB, float* beta, CUdeviceptr c, int ldc, long strideC, int batch);
    [LibraryImport(Lib)]
    private static partial int cublasDgemmStridedBatched(nint h, int ta, int tb, int m, int n, int k, double* alpha,
        CUdeviceptr a, int lda, long strideA, CUdeviceptr b, int ldb, long strideB, double* beta, CUdeviceptr c, int ldc, long strideC, int batch);
    [LibraryImport(Lib)]
    private static partial int cublasGemmStridedBatchedEx(nint h, int ta, int tb, int m, int n, int k, void* alpha,
        CUdeviceptr a, int aType, int lda, long strideA, CUdeviceptr b, int bType, int ldb, long strideB,
        void* beta, CUdeviceptr c, int cType, int ldc, long strideC, int batch, int compute, int algo);
}

/// <summary><c>cublasOperation_t</c>.</summary>
public enum BlasOp
{
    /// <summary>As stored.</summary>
    N = 0,
    /// <summary>Transposed.</summary>
    T = 1,
    /// <summary>Conjugate-transposed.</summary>
    C = 2,
}

/// <summary><c>cublasMath_t</c>.</summary>
public enum BlasMath
{
    /// <summary>Full precision: the mode for parity tests.</summary>
    Default = 0,
    /// <summary>No reduced-precision shortcuts at all.</summary>
    Pedantic = 2,
    /// <summary>TF32 tensor cores for F32 (about 1e-3 relative error).</summary>
    Tf32TensorOp = 3,
}

/// <summary><c>cudaDataType</c>.</summary>
public enum BlasDataType
{
    /// <summary>float.</summary>
    R32F = 0,
    /// <summary>double.</summary>
    R64F = 1,
    /// <summary>half.</summary>
    R16F = 2,
    /// <summary>bfloat16.</summary>
    R16BF = 14,
}

/// <summary><c>cublasComputeType_t</c>.</summary>
public enum BlasCompute
{
    /// <summary>F32 accumulation.</summary>
    F32 = 68,
    /// <summary>F32 without reduced precision.</summary>
    F32Pedantic = 69,
    /// <summary>F64 accumulation.</summary>
    F64 = 70,
    /// <summary>F32 data through TF32 tensor cores.</summary>
    F32FastTf32 = 77,
}
