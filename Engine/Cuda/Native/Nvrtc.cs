using System.Runtime.InteropServices;
using System.Text;

namespace Engine.Cuda.Native;

/// <summary>
/// NVRTC (<c>libnvrtc.so.13</c> or <c>.12</c>): compiles CUDA C to PTX at run time. It has no libc headers:
/// kernel sources carry their own typedefs.
/// </summary>
public static unsafe partial class Nvrtc
{
    private const string Lib = "nvrtc";

    static Nvrtc() => NativeLibraries.EnsureRegistered();

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
    /// cuModuleLoadData wants it. A compile error throws with the compiler's log in the message.
    /// </summary>
    public static byte[] CompileToPtx(string source, string name, IReadOnlyList<string> options)
    {
        nint program;
        Check(nvrtcCreateProgram(&program, source, name, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var utf8 = options.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
            var handles = utf8.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
            try
            {
                var pointers = stackalloc nint[Math.Max(1, utf8.Length)];
                for (int i = 0; i < handles.Length; i++) pointers[i] = handles[i].AddrOfPinnedObject();
                int result = nvrtcCompileProgram(program, utf8.Length, (byte**)pointers);
                Check(result, "nvrtcCompileProgram", result != 0 ? Log(program) : null);
            }
            finally { foreach (var h in handles) h.Free(); }
            nuint size;
            Check(nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize");
            var ptx = new byte[(int)size];
            fixed (byte* p = ptx) Check(nvrtcGetPTX(program, p), "nvrtcGetPTX");
            return ptx;
        }
        finally { nvrtcDestroyProgram(&program); }
    }

    private static string Log(nint program)
    {
        nuint size;
        if (nvrtcGetProgramLogSize(program, &size) != 0 || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) if (nvrtcGetProgramLog(program, p) != 0) return "";
        return "\n" + Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    [LibraryImport(Lib)] private static partial nint nvrtcGetErrorString(int result);
    [LibraryImport(Lib)] private static partial int nvrtcVersion(int* major, int* minor);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int nvrtcCreateProgram(nint* program, string source, string name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] private static partial int nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(Lib)] private static partial int nvrtcGetPTXSize(nint program, nuint* size);
    [LibraryImport(Lib)] private static partial int nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib)] private static partial int nvrtcGetProgramLogSize(nint program, nuint* size);
    [LibraryImport(Lib)] private static partial int nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Lib)] private static partial int nvrtcDestroyProgram(nint* program);
}
