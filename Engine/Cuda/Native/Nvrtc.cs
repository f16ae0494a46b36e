using System.Runtime.InteropServices;
using System.Text;

namespace Engine.Cuda.Native;

/// <summary>
/// NVRTC (<c>libnvrtc.so.13</c>, <c>.12</c> or CUDA 11's <c>.11.2</c>): compiles CUDA C at run time, to PTX for a
/// virtual architecture (<c>compute_XY</c>) or to CUBIN for a real one (<c>sm_XY</c>). It has no libc headers:
/// kernel sources carry their own typedefs.
/// </summary>
public static unsafe partial class Nvrtc
{
    private const string Lib = "nvrtc";

    /// <summary>How to get NVRTC where it is missing, for messages that report it missing.</summary>
    public const string InstallHint =
        "on Debian 12 add the 'non-free' component to the apt sources and run 'apt-get install libnvrtc11.2 libnvrtc-builtins11.8' "
        + "(.ci/run does both), or point ENGINE_LIBNVRTC at a libnvrtc.so";

    private static readonly Lazy<string?> Probe = new(ProbeLibrary);

    static Nvrtc() => NativeLibraries.EnsureRegistered();

    /// <summary>True when NVRTC loads and answers its version. Answering never throws.</summary>
    public static bool IsAvailable => Probe.Value is null;

    /// <summary>Why NVRTC cannot be used, in one line; null when it can.</summary>
    public static string? UnavailableReason => Probe.Value;

    /// <summary>Throws when <paramref name="result"/> is not NVRTC_SUCCESS; <paramref name="log"/> is appended (the compiler's output).</summary>
    public static void Check(int result, string function, string? log = null)
    {
        if (result != 0) throw new CudaException("nvrtc", function, result, ErrorName(result), log);
    }

    /// <summary>NVRTC's own name for a result (nvrtcGetErrorString), or the table's.</summary>
    public static string ErrorName(int result)
    {
        nint text = nvrtcGetErrorString(result);
        return text != 0 ? Marshal.PtrToStringUTF8(text)! : ErrorNames.Nvrtc(result);
    }

    /// <summary>NVRTC's (major, minor) version.</summary>
    public static (int Major, int Minor) Version()
    {
        int major, minor;
        Check(nvrtcVersion(&major, &minor), "nvrtcVersion");
        return (major, minor);
    }

    /// <summary>
    /// Compiles <paramref name="source"/> with <paramref name="options"/> and returns the PTX, NUL-terminated as
    /// cuModuleLoadData wants it. A compile error throws <see cref="NvrtcCompileException"/> with the compiler's log.
    /// </summary>
    public static byte[] CompileToPtx(string source, string name, IReadOnlyList<string> options) =>
        Run(source, name, options, program => Take(program, &nvrtcGetPTXSize, &nvrtcGetPTX, "nvrtcGetPTX")).Image;

    /// <summary>
    /// Compiles <paramref name="source"/> (called <paramref name="name"/> in the log) with <paramref name="options"/>.
    /// For a real architecture (<c>--gpu-architecture=sm_XY</c>) the image is the CUBIN, otherwise the PTX. The log
    /// comes back on success too: it holds the warnings and, with <c>--ptxas-options=-v</c>, the resources of each
    /// kernel. A compile error throws <see cref="NvrtcCompileException"/>.
    /// </summary>
    public static NvrtcOutput Compile(string source, string name, IReadOnlyList<string> options) =>
        Run(source, name, options, program =>
        {
            // NVRTC reports a CUBIN size of 0, not an error, when the target was virtual.
            nuint size;
            Check(nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize");
            return size > 0
                ? Take(program, &nvrtcGetCUBINSize, &nvrtcGetCUBIN, "nvrtcGetCUBIN") with { IsCubin = true }
                : Take(program, &nvrtcGetPTXSize, &nvrtcGetPTX, "nvrtcGetPTX");
        });

    private static NvrtcOutput Run(string source, string name, IReadOnlyList<string> options, Func<nint, NvrtcOutput> take)
    {
        nint program;
        Check(nvrtcCreateProgram(&program, source, name, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var utf8 = options.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
            var handles = utf8.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
            int result;
            try
            {
                var pointers = stackalloc nint[Math.Max(1, utf8.Length)];
                for (int i = 0; i < handles.Length; i++) pointers[i] = handles[i].AddrOfPinnedObject();
                result = nvrtcCompileProgram(program, utf8.Length, (byte**)pointers);
            }
            finally { foreach (var h in handles) h.Free(); }
            var log = Log(program);
            if (result != 0) throw new NvrtcCompileException(result, ErrorName(result), log);
            return take(program) with { Log = log };
        }
        finally { nvrtcDestroyProgram(&program); }
    }

    private static NvrtcOutput Take(nint program, delegate*<nint, nuint*, int> getSize, delegate*<nint, byte*, int> get, string function)
    {
        nuint size;
        Check(getSize(program, &size), function + "Size");
        var image = new byte[(int)size];
        fixed (byte* p = image) Check(get(program, p), function);
        return new NvrtcOutput(image, IsCubin: false, Log: "");
    }

    private static string Log(nint program)
    {
        nuint size;
        if (nvrtcGetProgramLogSize(program, &size) != 0 || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) if (nvrtcGetProgramLog(program, p) != 0) return "";
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private static string? ProbeLibrary()
    {
        try
        {
            // Resolve first: with no NVRTC this is the resolver's one search, not a failed P/Invoke.
            NativeLibraries.Load(CudaLibrary.Nvrtc);
            Version();
            return null;
        }
        catch (CudaLibraryNotFoundException e) { return $"NVRTC could not be loaded (tried {string.Join(", ", e.Tried)})"; }
        catch (Exception e) { return "NVRTC did not answer: " + e.Message.Split('\n')[0]; }
    }

    [LibraryImport(Lib)] private static partial nint nvrtcGetErrorString(int result);
    [LibraryImport(Lib)] private static partial int nvrtcVersion(int* major, int* minor);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int nvrtcCreateProgram(nint* program, string source, string name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] private static partial int nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(Lib)] private static partial int nvrtcGetPTXSize(nint program, nuint* size);
    [LibraryImport(Lib)] private static partial int nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib)] private static partial int nvrtcGetCUBINSize(nint program, nuint* size);
    [LibraryImport(Lib)] private static partial int nvrtcGetCUBIN(nint program, byte* cubin);
    [LibraryImport(Lib)] private static partial int nvrtcGetProgramLogSize(nint program, nuint* size);
    [LibraryImport(Lib)] private static partial int nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Lib)] private static partial int nvrtcDestroyProgram(nint* program);
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
