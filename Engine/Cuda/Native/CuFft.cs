using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

/// <summary>
/// cuFFT (<c>libcufft.so.12</c> with CUDA 13, <c>.11</c> with CUDA 12). A plan is an <c>int</c> and belongs to the
/// context current when it was made. Nothing is normalised; C2R overwrites its input even out of place.
/// </summary>
public static unsafe partial class CuFft
{
    private const string Lib = "cufft";

    static CuFft() => NativeLibraries.EnsureRegistered();

    /// <summary>Throws when <paramref name="result"/> is not CUFFT_SUCCESS.</summary>
    public static void Check(int result, string function)
    {
        if (result != 0) throw new CudaException("cufft", function, result, ErrorNames.CuFft(result));
    }

    /// <summary>An empty plan, to configure before <see cref="MakePlanMany"/>.</summary>
    public static int Create() { int plan; Check(cufftCreate(&plan), "cufftCreate"); return plan; }

    /// <summary>Whether cuFFT allocates the work area itself (call between Create and Make).</summary>
    public static void SetAutoAllocation(int plan, bool automatic) => Check(cufftSetAutoAllocation(plan, automatic ? 1 : 0), "cufftSetAutoAllocation");

    /// <summary>
    /// Makes a batched plan in the advanced layout: element (b, x, y) of a side is at
    /// <c>b·dist + (x·embed[1] + y)·stride</c>. Returns the work area size in bytes.
    /// </summary>
    public static ulong MakePlanMany(int plan, ReadOnlySpan<int> n, ReadOnlySpan<int> inEmbed, int inStride, int inDist,
        ReadOnlySpan<int> outEmbed, int outStride, int outDist, FftType type, int batch)
    {
        nuint work;
        fixed (int* pn = n, pi = inEmbed, po = outEmbed)
            Check(cufftMakePlanMany(plan, n.Length, pn, inEmbed.IsEmpty ? null : pi, inStride, inDist,
                outEmbed.IsEmpty ? null : po, outStride, outDist, (int)type, batch, &work), "cufftMakePlanMany");
        return work;
    }

    /// <summary>The plan's work area size in bytes.</summary>
    public static ulong WorkSize(int plan) { nuint size; Check(cufftGetSize(plan, &size), "cufftGetSize"); return size; }

    /// <summary>Gives the plan its work area (set before each exec, as the stream may differ).</summary>
    public static void SetWorkArea(int plan, CUdeviceptr work) => Check(cufftSetWorkArea(plan, work), "cufftSetWorkArea");

    /// <summary>Binds the plan to a stream.</summary>
    public static void SetStream(int plan, nint stream) => Check(cufftSetStream(plan, stream), "cufftSetStream");

    /// <summary>Destroys a plan.</summary>
    public static void Destroy(int plan) => Check(cufftDestroy(plan), "cufftDestroy");

    /// <summary>Real to complex, single precision.</summary>
    public static void ExecR2C(int plan, CUdeviceptr input, CUdeviceptr output) => Check(cufftExecR2C(plan, input, output), "cufftExecR2C");

    /// <summary>Complex to real, single precision (overwrites <paramref name="input"/>).</summary>
    public static void ExecC2R(int plan, CUdeviceptr input, CUdeviceptr output) => Check(cufftExecC2R(plan, input, output), "cufftExecC2R");

    /// <summary>Complex to complex, single precision.</summary>
    public static void ExecC2C(int plan, CUdeviceptr input, CUdeviceptr output, FftDirection direction) =>
        Check(cufftExecC2C(plan, input, output, (int)direction), "cufftExecC2C");

    /// <summary>Real to complex, double precision.</summary>
    public static void ExecD2Z(int plan, CUdeviceptr input, CUdeviceptr output) => Check(cufftExecD2Z(plan, input, output), "cufftExecD2Z");

    /// <summary>Complex to real, double precision (overwrites <paramref name="input"/>).</summary>
    public static void ExecZ2D(int plan, CUdeviceptr input, CUdeviceptr output) => Check(cufftExecZ2D(plan, input, output), "cufftExecZ2D");

    /// <summary>Complex to complex, double precision.</summary>
    public static void ExecZ2Z(int plan, CUdeviceptr input, CUdeviceptr output, FftDirection direction) =>
        Check(cufftExecZ2Z(plan, input, output, (int)direction), "cufftExecZ2Z");

    [LibraryImport(Lib)] private static partial int cufftCreate(int* plan);
    [LibraryImport(Lib)] private static partial int cufftSetAutoAllocation(int plan, int automatic);
    [LibraryImport(Lib)]
    private static partial int cufftMakePlanMany(int plan, int rank, int* n, int* inEmbed, int inStride, int inDist,
        int* outEmbed, int outStride, int outDist, int type, int batch, nuint* workSize);
    [LibraryImport(Lib)] private static partial int cufftGetSize(int plan, nuint* workSize);
    [LibraryImport(Lib)] private static partial int cufftSetWorkArea(int plan, CUdeviceptr work);
    [LibraryImport(Lib)] private static partial int cufftSetStream(int plan, nint stream);
    [LibraryImport(Lib)] private static partial int cufftDestroy(int plan);
    [LibraryImport(Lib)] private static partial int cufftExecR2C(int plan, CUdeviceptr input, CUdeviceptr output);
    [LibraryImport(Lib)] private static partial int cufftExecC2R(int plan, CUdeviceptr input, CUdeviceptr output);
    [LibraryImport(Lib)] private static partial int cufftExecC2C(int plan, CUdeviceptr input, CUdeviceptr output, int direction);
    [LibraryImport(Lib)] private static partial int cufftExecD2Z(int plan, CUdeviceptr input, CUdeviceptr output);
    [LibraryImport(Lib)] private static partial int cufftExecZ2D(int plan, CUdeviceptr input, CUdeviceptr output);
    [LibraryImport(Lib)] private static partial int cufftExecZ2Z(int plan, CUdeviceptr input, CUdeviceptr output, int direction);
}

/// <summary><c>cufftType</c>.</summary>
public enum FftType
{
    /// <summary>float to complex float.</summary>
    R2C = 0x2a,
    /// <summary>complex float to float.</summary>
    C2R = 0x2c,
    /// <summary>complex float to complex float.</summary>
    C2C = 0x29,
    /// <summary>double to complex double.</summary>
    D2Z = 0x6a,
    /// <summary>complex double to double.</summary>
    Z2D = 0x6c,
    /// <summary>complex double to complex double.</summary>
    Z2Z = 0x69,
}

/// <summary>The sign of the exponent of a C2C transform.</summary>
public enum FftDirection
{
    /// <summary>e^{-i…}.</summary>
    Forward = -1,
    /// <summary>e^{+i…}, unnormalised.</summary>
    Inverse = 1,
}
