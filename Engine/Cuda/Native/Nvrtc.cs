using System.Runtime.InteropServices;
using System.Text;

namespace Engine.Cuda.Native;

/// <summary>
/// NVRTC (<c>libnvrtc.so.13</c>, <c>.12</c> or CUDA 11's <c>.11.2</c>): compiles CUDA C at run time, to PTX for a
/// virtual architecture (<c>compute_XY</c>) or to CUBIN for a real one (<c>sm_XY</c>). It has no libc headers:
/// kernel sources carry their own typedefs. The static members are the engine's NVRTC, the one its kernels are
/// compiled with (the CUDA emulator's when <c>ENGINE_CUDA_EMULATOR</c> is set); <see cref="Toolkit"/> is always
/// NVIDIA's, for the checks that need the real compiler (CI's compile of every kernel, <c>engine cuda kernels</c>).
/// </summary>
public static class Nvrtc
{
    /// <summary>How to get NVRTC where it is missing, for messages that report it missing.</summary>
    public const string InstallHint =
        "on Debian 12 add the 'non-free' component to the apt sources and run 'apt-get install libnvrtc11.2 libnvrtc-builtins11.8' "
        + "(.ci/run does both), or point ENGINE_LIBNVRTC at a libnvrtc.so";

    private static readonly Lazy<NvrtcLibrary> EngineLibrary = new(() => new NvrtcLibrary(() => NativeLibraries.Load(CudaLibrary.Nvrtc)));
    private static readonly Lazy<NvrtcLibrary> ToolkitLibrary = new(() => new NvrtcLibrary(() => LibraryResolver.System.IgnoringEmulator().Load(CudaLibrary.Nvrtc)));

    /// <summary>The engine's NVRTC: the emulator's when <c>ENGINE_CUDA_EMULATOR</c> is set, else NVIDIA's.</summary>
    public static NvrtcLibrary Engine => EngineLibrary.Value;

    /// <summary>NVIDIA's NVRTC, whatever the emulator variable says.</summary>
    public static NvrtcLibrary Toolkit => ToolkitLibrary.Value;

    /// <summary>True when the engine's NVRTC loads and answers its version. Answering never throws.</summary>
    public static bool IsAvailable => Engine.IsAvailable;

    /// <summary>Why the engine's NVRTC cannot be used, in one line; null when it can.</summary>
    public static string? UnavailableReason => Engine.UnavailableReason;

    /// <summary>The engine's NVRTC's (major, minor) version.</summary>
    public static (int Major, int Minor) Version() => Engine.Version();

    /// <summary>Compiles with the engine's NVRTC and returns the NUL-terminated PTX (<see cref="NvrtcLibrary.CompileToPtx"/>).</summary>
    public static byte[] CompileToPtx(string source, string name, IReadOnlyList<string> options) => Engine.CompileToPtx(source, name, options);

    /// <summary>Compiles with the engine's NVRTC (<see cref="NvrtcLibrary.Compile"/>).</summary>
    public static NvrtcOutput Compile(string source, string name, IReadOnlyList<string> options) => Engine.Compile(source, name, options);
}

/// <summary>
/// One loaded NVRTC, bound by function pointers to the library it was loaded from, so that two can live in one
/// process (the emulator's and NVIDIA's). Every call checks the result and throws <see cref="CudaException"/>.
/// </summary>
public sealed unsafe class NvrtcLibrary
{
    private readonly Lazy<string?> _probe;
    private readonly Lazy<Table> _table;

    private sealed class Table(nint library)
    {
        public readonly delegate* unmanaged<int, nint> GetErrorString = (delegate* unmanaged<int, nint>)NativeLibrary.GetExport(library, "nvrtcGetErrorString");
        public readonly delegate* unmanaged<int*, int*, int> Version = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(library, "nvrtcVersion");
        public readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> CreateProgram =
            (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)NativeLibrary.GetExport(library, "nvrtcCreateProgram");
        public readonly delegate* unmanaged<nint, int, byte**, int> CompileProgram = (delegate* unmanaged<nint, int, byte**, int>)NativeLibrary.GetExport(library, "nvrtcCompileProgram");
        public readonly delegate* unmanaged<nint, nuint*, int> GetPtxSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(library, "nvrtcGetPTXSize");
        public readonly delegate* unmanaged<nint, byte*, int> GetPtx = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(library, "nvrtcGetPTX");
        public readonly delegate* unmanaged<nint, nuint*, int> GetCubinSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(library, "nvrtcGetCUBINSize");
        public readonly delegate* unmanaged<nint, byte*, int> GetCubin = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(library, "nvrtcGetCUBIN");
        public readonly delegate* unmanaged<nint, nuint*, int> GetLogSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(library, "nvrtcGetProgramLogSize");
        public readonly delegate* unmanaged<nint, byte*, int> GetLog = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(library, "nvrtcGetProgramLog");
        public readonly delegate* unmanaged<nint*, int> DestroyProgram = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(library, "nvrtcDestroyProgram");
    }

    /// <summary>An NVRTC whose library <paramref name="load"/> loads (on first use; its exception is the unavailability reason).</summary>
    public NvrtcLibrary(Func<nint> load)
    {
        _table = new Lazy<Table>(() => new Table(load()));
        _probe = new Lazy<string?>(Probe);
    }

    /// <summary>True when the library loads and answers its version. Answering never throws.</summary>
    public bool IsAvailable => _probe.Value is null;

    /// <summary>Why it cannot be used, in one line; null when it can.</summary>
    public string? UnavailableReason => _probe.Value;

    private Table Api => _table.Value;

    /// <summary>Throws when <paramref name="result"/> is not NVRTC_SUCCESS; <paramref name="log"/> is appended (the compiler's output).</summary>
    public void Check(int result, string function, string? log = null)
    {
        if (result != 0) throw new CudaException("nvrtc", function, result, ErrorName(result), log);
    }

    /// <summary>NVRTC's own name for a result (nvrtcGetErrorString), or the table's.</summary>
    public string ErrorName(int result)
    {
        nint text = Api.GetErrorString(result);
        return text != 0 ? Marshal.PtrToStringUTF8(text)! : ErrorNames.Nvrtc(result);
    }

    /// <summary>The library's (major, minor) version.</summary>
    public (int Major, int Minor) Version()
    {
        int major, minor;
        Check(Api.Version(&major, &minor), "nvrtcVersion");
        return (major, minor);
    }

    /// <summary>
    /// Compiles <paramref name="source"/> with <paramref name="options"/> and returns the PTX, NUL-terminated as
    /// cuModuleLoadData wants it. A compile error throws <see cref="NvrtcCompileException"/> with the compiler's log.
    /// </summary>
    public byte[] CompileToPtx(string source, string name, IReadOnlyList<string> options) =>
        Run(source, name, options, program => Take(program, Api.GetPtxSize, Api.GetPtx, "nvrtcGetPTX")).Image;

    /// <summary>
    /// Compiles <paramref name="source"/> (called <paramref name="name"/> in the log) with <paramref name="options"/>.
    /// For a real architecture (<c>--gpu-architecture=sm_XY</c>) the image is the CUBIN, otherwise the PTX. The log
    /// comes back on success too: it holds the warnings and, with <c>--ptxas-options=-v</c>, the resources of each
    /// kernel. A compile error throws <see cref="NvrtcCompileException"/>.
    /// </summary>
    public NvrtcOutput Compile(string source, string name, IReadOnlyList<string> options) =>
        Run(source, name, options, program =>
        {
            // NVRTC reports a CUBIN size of 0, not an error, when the target was virtual.
            nuint size;
            Check(Api.GetCubinSize(program, &size), "nvrtcGetCUBINSize");
            return size > 0
                ? Take(program, Api.GetCubinSize, Api.GetCubin, "nvrtcGetCUBIN") with { IsCubin = true }
                : Take(program, Api.GetPtxSize, Api.GetPtx, "nvrtcGetPTX");
        });

    private NvrtcOutput Run(string source, string name, IReadOnlyList<string> options, Func<nint, NvrtcOutput> take)
    {
        nint program;
        var sourceUtf8 = Encoding.UTF8.GetBytes(source + "\0");
        var nameUtf8 = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* ps = sourceUtf8, pn = nameUtf8)
            Check(Api.CreateProgram(&program, ps, pn, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var utf8 = options.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
            var handles = utf8.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
            int result;
            try
            {
                var pointers = stackalloc nint[Math.Max(1, utf8.Length)];
                for (int i = 0; i < handles.Length; i++) pointers[i] = handles[i].AddrOfPinnedObject();
                result = Api.CompileProgram(program, utf8.Length, (byte**)pointers);
            }
            finally { foreach (var h in handles) h.Free(); }
            var log = Log(program);
            if (result != 0) throw new NvrtcCompileException(result, ErrorName(result), log);
            return take(program) with { Log = log };
        }
        finally { Api.DestroyProgram(&program); }
    }

    private NvrtcOutput Take(nint program, delegate* unmanaged<nint, nuint*, int> getSize, delegate* unmanaged<nint, byte*, int> get, string function)
    {
        nuint size;
        Check(getSize(program, &size), function + "Size");
        var image = new byte[(int)size];
        fixed (byte* p = image) Check(get(program, p), function);
        return new NvrtcOutput(image, IsCubin: false, Log: "");
    }

    private string Log(nint program)
    {
        nuint size;
        if (Api.GetLogSize(program, &size) != 0 || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) if (Api.GetLog(program, p) != 0) return "";
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private string? Probe()
    {
        try
        {
            Version();
            return null;
        }
        catch (CudaLibraryNotFoundException e) { return $"NVRTC could not be loaded (tried {string.Join(", ", e.Tried)})"; }
        catch (EntryPointNotFoundException e) { return "the library loaded as NVRTC lacks a function: " + e.Message.Split('\n')[0]; }
        catch (Exception e) { return "NVRTC did not answer: " + e.Message.Split('\n')[0]; }
    }
}

/// <summary>What one NVRTC compile produced.</summary>
/// <param name="Image">The CUBIN, or the NUL-terminated PTX.</param>
/// <param name="IsCubin">True for a CUBIN (a real <c>sm_XY</c> target), false for PTX.</param>
/// <param name="Log">The program log, possibly empty: warnings and, with <c>--ptxas-options=-v</c>, ptxas's resource lines.</param>
public sealed record NvrtcOutput(byte[] Image, bool IsCubin, string Log);

/// <summary>
/// <c>nvrtcCompileProgram</c> failed. The message carries the log, whose lines name the file and line of each
/// error (<c>elementwise.cu(12): error: …</c>, from the units' <c>#line</c> directives).
/// </summary>
public sealed class NvrtcCompileException : CudaException
{
    /// <summary>Creates the exception for <paramref name="result"/> with the program's <paramref name="log"/>.</summary>
    public NvrtcCompileException(int result, string errorName, string log)
        : base("nvrtc", "nvrtcCompileProgram", result, errorName, string.IsNullOrEmpty(log) ? null : "\n" + log)
    {
        Log = log;
    }

    /// <summary>The program log, as NVRTC wrote it.</summary>
    public string Log { get; }
}
