using System.Runtime.InteropServices;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// OpenBLAS loaded at run time, if the machine has it. It is a yardstick for the benchmarks, never a
/// dependency: when the library cannot be loaded, <see cref="TryLoad"/> returns null and the
/// benchmark reports the comparison as unavailable.
/// </summary>
internal sealed unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111;

    private static readonly string[] Candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.dll", "openblas"];

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> _dgemm;
    private readonly delegate* unmanaged<int, void> _setNumThreads;
    private readonly delegate* unmanaged<byte*> _getConfig;

    private OpenBlas(nint handle)
    {
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
            NativeLibrary.GetExport(handle, "cblas_sgemm");
        _dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)
            NativeLibrary.GetExport(handle, "cblas_dgemm");
        _setNumThreads = NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var st)
            ? (delegate* unmanaged<int, void>)st : null;
        _getConfig = NativeLibrary.TryGetExport(handle, "openblas_get_config", out var gc)
            ? (delegate* unmanaged<byte*>)gc : null;
    }

    /// <summary>Loads OpenBLAS, or returns null (with the reason) when it is not on this machine.</summary>
    public static OpenBlas? TryLoad(out string reason)
    {
        foreach (var name in Candidates)
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            if (NativeLibrary.TryGetExport(handle, "cblas_sgemm", out _) && NativeLibrary.TryGetExport(handle, "cblas_dgemm", out _))
            {
                reason = "";
                return new OpenBlas(handle);
            }
            NativeLibrary.Free(handle);
        }
        reason = "not available";
        return null;
    }

    /// <summary>OpenBLAS's build description (version, target core), when it exports one.</summary>
    public string Config => _getConfig == null ? "OpenBLAS" : Marshal.PtrToStringUTF8((nint)_getConfig()) ?? "OpenBLAS";

    /// <summary>Sets OpenBLAS's own thread pool size, so both sides run with the same thread count.</summary>
    public void SetThreads(int threads)
    {
        if (_setNumThreads != null) _setNumThreads(threads);
    }

    /// <summary>Row-major, untransposed C = alpha*A*B + beta*C.</summary>
    public void Sgemm(int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc) =>
        _sgemm(RowMajor, NoTrans, NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>Row-major, untransposed C = alpha*A*B + beta*C.</summary>
    public void Dgemm(int m, int n, int k, double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc) =>
        _dgemm(RowMajor, NoTrans, NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
