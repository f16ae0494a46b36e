using System.Runtime.InteropServices;
using Engine.Cuda.Kernels;

namespace Engine.Cuda.Native;

public static unsafe partial class Driver
{
    /// <summary>Loads a module from a NUL-terminated PTX (or a CUBIN) image.</summary>
    public static nint ModuleLoadData(ReadOnlySpan<byte> image)
    {
        nint module;
        fixed (byte* p = image) Check(cuModuleLoadData(&module, p), "cuModuleLoadData");
        return module;
    }

    /// <summary>A kernel of <paramref name="module"/> by its (<c>extern "C"</c>) name.</summary>
    public static nint ModuleGetFunction(nint module, string name)
    {
        nint function;
        int result = cuModuleGetFunction(&function, module, name);
        if (result != 0) throw new CudaException("driver", "cuModuleGetFunction", result, ErrorName(result), $"kernel '{name}'");
        return function;
    }

    /// <summary>Unloads a module.</summary>
    public static void ModuleUnload(nint module) => Check(cuModuleUnload(module), "cuModuleUnload");

    /// <summary>Sets a kernel attribute (8: the dynamic shared memory allowed above 48 KiB).</summary>
    public static void FunctionSetAttribute(nint function, int attribute, int value) =>
        Check(cuFuncSetAttribute(function, attribute, value), "cuFuncSetAttribute");

    /// <summary>Launches a kernel; <paramref name="arguments"/>[i] points at the value of argument i (copied at launch).</summary>
    public static void LaunchKernel(nint function, LaunchConfig config, uint sharedBytes, nint stream, void** arguments) =>
        Check(cuLaunchKernel(function, config.GridX, 1, 1, config.BlockX, 1, 1, sharedBytes, stream, arguments, null), "cuLaunchKernel");

    /// <summary>Creates a stream; use flag 1 (NON_BLOCKING) so it does not serialise with the legacy stream.</summary>
    public static nint StreamCreate(uint flags = 1) { nint s; Check(cuStreamCreate(&s, flags), "cuStreamCreate"); return s; }

    /// <summary>Destroys a stream.</summary>
    public static void StreamDestroy(nint stream) => Check(cuStreamDestroy_v2(stream), "cuStreamDestroy_v2");

    /// <summary>Waits for a stream's work.</summary>
    public static void StreamSynchronize(nint stream)
    {
        _hostWaits++;
        Check(cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    /// <summary>Makes <paramref name="stream"/> wait for <paramref name="cudaEvent"/>.</summary>
    public static void StreamWaitEvent(nint stream, nint cudaEvent) => Check(cuStreamWaitEvent(stream, cudaEvent, 0), "cuStreamWaitEvent");

    /// <summary>Creates an event (flags: 0 default, 1 blocking sync, 2 no timing).</summary>
    public static nint EventCreate(uint flags = 0) { nint e; Check(cuEventCreate(&e, flags), "cuEventCreate"); return e; }

    /// <summary>Records an event on a stream.</summary>
    public static void EventRecord(nint cudaEvent, nint stream) => Check(cuEventRecord(cudaEvent, stream), "cuEventRecord");

    /// <summary>Waits for an event.</summary>
    public static void EventSynchronize(nint cudaEvent)
    {
        _hostWaits++;
        Check(cuEventSynchronize(cudaEvent), "cuEventSynchronize");
    }

    /// <summary>Destroys an event.</summary>
    public static void EventDestroy(nint cudaEvent) => Check(cuEventDestroy_v2(cudaEvent), "cuEventDestroy_v2");

    /// <summary>Milliseconds between two recorded events.</summary>
    public static float EventElapsedMilliseconds(nint start, nint end)
    {
        float ms;
        Check(cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime");
        return ms;
    }

    [LibraryImport(Lib)] private static partial int cuModuleLoadData(nint* module, void* image);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int cuModuleGetFunction(nint* function, nint module, string name);
    [LibraryImport(Lib)] private static partial int cuModuleUnload(nint module);
    [LibraryImport(Lib)] private static partial int cuFuncSetAttribute(nint function, int attribute, int value);
    [LibraryImport(Lib)]
    private static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, nint stream, void** parameters, void** extra);
    [LibraryImport(Lib)] private static partial int cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(Lib)] private static partial int cuStreamDestroy_v2(nint stream);
    [LibraryImport(Lib)] private static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(Lib)] private static partial int cuStreamWaitEvent(nint stream, nint cudaEvent, uint flags);
    [LibraryImport(Lib)] private static partial int cuEventCreate(nint* cudaEvent, uint flags);
    [LibraryImport(Lib)] private static partial int cuEventRecord(nint cudaEvent, nint stream);
    [LibraryImport(Lib)] private static partial int cuEventSynchronize(nint cudaEvent);
    [LibraryImport(Lib)] private static partial int cuEventDestroy_v2(nint cudaEvent);
    [LibraryImport(Lib)] private static partial int cuEventElapsedTime(float* milliseconds, nint start, nint end);
}

public static unsafe partial class Driver
{
    private static readonly Lazy<nint> ParamInfoExport = new(() =>
        NativeLibrary.TryGetExport(NativeLibraries.Load(CudaLibrary.Driver), "cuFuncGetParamInfo", out var f) ? f : 0);

    /// <summary>
    /// The size in bytes of each parameter of <paramref name="function"/> (cuFuncGetParamInfo, CUDA 12.4 and
    /// later), or null when the driver does not export it. Bound by hand: older drivers lack the symbol.
    /// </summary>
    public static int[]? FunctionParameterSizes(nint function)
    {
        var export = ParamInfoExport.Value;
        if (export == 0) return null;
        var getInfo = (delegate* unmanaged<nint, nuint, nuint*, nuint*, int>)export;
        var sizes = new List<int>();
        for (nuint i = 0; ; i++)
        {
            nuint offset, size;
            int result = getInfo(function, i, &offset, &size);
            if (result == 1) break;                     // INVALID_VALUE: past the last parameter
            Check(result, "cuFuncGetParamInfo");
            sizes.Add((int)size);
        }
        return sizes.ToArray();
    }
}
