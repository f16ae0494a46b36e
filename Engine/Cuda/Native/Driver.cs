using System.Runtime.InteropServices;

namespace Engine.Cuda.Native;

/// <summary>
/// The CUDA driver API (<c>libcuda.so.1</c>), bound by its exported names (the <c>_v2</c> symbols where
/// cuda.h maps the plain name onto one). Every wrapper checks the result and throws <see cref="CudaException"/>
/// naming the function and the error. The current context is per thread: set it at each entry point.
/// </summary>
public static unsafe partial class Driver
{
    internal const string Lib = "cuda";

    static Driver() => NativeLibraries.EnsureRegistered();

    /// <summary>Throws when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    public static void Check(int result, string function)
    {
        if (result != 0) throw new CudaException("driver", function, result, ErrorName(result), ErrorString(result));
    }

    /// <summary>The driver's name for a <c>CUresult</c> (cuGetErrorName), or the table's when the driver does not know it.</summary>
    public static string ErrorName(int result)
    {
        nint text;
        return cuGetErrorName(result, &text) == 0 && text != 0 ? Marshal.PtrToStringUTF8(text)! : ErrorNames.Driver(result);
    }

    private static string? ErrorString(int result)
    {
        nint text;
        return cuGetErrorString(result, &text) == 0 && text != 0 ? Marshal.PtrToStringUTF8(text) : null;
    }

    /// <summary>cuInit(0).</summary>
    public static void Init() => Check(cuInit(0), "cuInit");

    /// <summary>The driver's CUDA version, as 1000·major + 10·minor (13000 for 13.0).</summary>
    public static int DriverVersion() { int v; Check(cuDriverGetVersion(&v), "cuDriverGetVersion"); return v; }

    /// <summary>The number of CUDA devices.</summary>
    public static int DeviceCount() { int n; Check(cuDeviceGetCount(&n), "cuDeviceGetCount"); return n; }

    /// <summary>The handle of device <paramref name="ordinal"/>.</summary>
    public static int Device(int ordinal) { int d; Check(cuDeviceGet(&d, ordinal), "cuDeviceGet"); return d; }

    /// <summary>The device's marketing name.</summary>
    public static string DeviceName(int device)
    {
        byte* name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        return Marshal.PtrToStringUTF8((nint)name)!;
    }

    /// <summary>A device attribute (<see cref="DeviceAttribute"/>).</summary>
    public static int Attribute(int device, DeviceAttribute attribute)
    {
        int v;
        Check(cuDeviceGetAttribute(&v, (int)attribute, device), "cuDeviceGetAttribute");
        return v;
    }

    /// <summary>The device's memory in bytes.</summary>
    public static ulong TotalMemory(int device) { nuint b; Check(cuDeviceTotalMem_v2(&b, device), "cuDeviceTotalMem_v2"); return b; }

    /// <summary>Retains the device's primary context, which cuBLAS and cuFFT share.</summary>
    public static nint PrimaryContextRetain(int device) { nint c; Check(cuDevicePrimaryCtxRetain(&c, device), "cuDevicePrimaryCtxRetain"); return c; }

    /// <summary>Releases one retain of the primary context.</summary>
    public static void PrimaryContextRelease(int device) => Check(cuDevicePrimaryCtxRelease_v2(device), "cuDevicePrimaryCtxRelease_v2");

    /// <summary>Creates a context of its own (prefer the primary one).</summary>
    public static nint ContextCreate(uint flags, int device) { nint c; Check(cuCtxCreate_v2(&c, flags, device), "cuCtxCreate_v2"); return c; }

    /// <summary>Destroys a context made by <see cref="ContextCreate"/>.</summary>
    public static void ContextDestroy(nint context) => Check(cuCtxDestroy_v2(context), "cuCtxDestroy_v2");

    /// <summary>Makes <paramref name="context"/> current on the calling thread.</summary>
    public static void SetCurrent(nint context) => Check(cuCtxSetCurrent(context), "cuCtxSetCurrent");

    /// <summary>The calling thread's current context, or 0.</summary>
    public static nint GetCurrent() { nint c; Check(cuCtxGetCurrent(&c), "cuCtxGetCurrent"); return c; }

    /// <summary>Pushes <paramref name="context"/> onto the calling thread's stack.</summary>
    public static void PushCurrent(nint context) => Check(cuCtxPushCurrent_v2(context), "cuCtxPushCurrent_v2");

    /// <summary>Pops the calling thread's current context.</summary>
    public static nint PopCurrent() { nint c; Check(cuCtxPopCurrent_v2(&c), "cuCtxPopCurrent_v2"); return c; }

    /// <summary>Waits for all the current context's work.</summary>
    public static void Synchronize()
    {
        _hostWaits++;
        Check(cuCtxSynchronize(), "cuCtxSynchronize");
    }

    [ThreadStatic] private static long _hostWaits;

    /// <summary>
    /// How many times the calling thread has waited for a device (stream, event or context synchronisation):
    /// every read of device data to the host is one. A diagnostic, so that a test can count the waits of a
    /// training step (none between reads) without a profiler.
    /// </summary>
    public static long HostWaitsOnThisThread => _hostWaits;

    [LibraryImport(Lib)] private static partial int cuGetErrorName(int error, nint* name);
    [LibraryImport(Lib)] private static partial int cuGetErrorString(int error, nint* text);
    [LibraryImport(Lib)] private static partial int cuInit(uint flags);
    [LibraryImport(Lib)] private static partial int cuDriverGetVersion(int* version);
    [LibraryImport(Lib)] private static partial int cuDeviceGetCount(int* count);
    [LibraryImport(Lib)] private static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Lib)] private static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib)] private static partial int cuDeviceGetAttribute(int* value, int attribute, int device);
    [LibraryImport(Lib)] private static partial int cuDeviceTotalMem_v2(nuint* bytes, int device);
    [LibraryImport(Lib)] private static partial int cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(Lib)] private static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib)] private static partial int cuCtxCreate_v2(nint* context, uint flags, int device);
    [LibraryImport(Lib)] private static partial int cuCtxDestroy_v2(nint context);
    [LibraryImport(Lib)] private static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(Lib)] private static partial int cuCtxGetCurrent(nint* context);
    [LibraryImport(Lib)] private static partial int cuCtxPushCurrent_v2(nint context);
    [LibraryImport(Lib)] private static partial int cuCtxPopCurrent_v2(nint* context);
    [LibraryImport(Lib)] private static partial int cuCtxSynchronize();
}

/// <summary>The device attributes the engine reads (<c>CUdevice_attribute</c>).</summary>
public enum DeviceAttribute
{
    /// <summary>Threads per block.</summary>
    MaxThreadsPerBlock = 1,
    /// <summary>Static shared memory per block, in bytes.</summary>
    MaxSharedMemoryPerBlock = 8,
    /// <summary>Threads per warp.</summary>
    WarpSize = 10,
    /// <summary>Streaming multiprocessors.</summary>
    MultiprocessorCount = 16,
    /// <summary>L2 cache, in bytes.</summary>
    L2CacheSize = 38,
    /// <summary>Compute capability, major.</summary>
    ComputeCapabilityMajor = 75,
    /// <summary>Compute capability, minor.</summary>
    ComputeCapabilityMinor = 76,
    /// <summary>Shared memory per block a kernel may opt in to.</summary>
    MaxSharedMemoryPerBlockOptin = 97,
    /// <summary>Whether cuMemAllocAsync's pools are supported.</summary>
    MemoryPoolsSupported = 115,
}
