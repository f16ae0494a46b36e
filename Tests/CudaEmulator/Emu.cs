using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Engine.Cuda;
using Engine.Cuda.Kernels;
using Engine.Cuda.Native;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// What the emulator tests share: the primary context (retained once for the process and made current on
/// each test's thread, since contexts are per thread), modules compiled once per source through the engine's
/// own NVRTC binding, device buffers, launches, and the emulator's own exports (options, counters, 3-D launches).
/// </summary>
internal static unsafe class Emu
{
    private static readonly Lazy<nint> PrimaryContext = new(() =>
    {
        Driver.Init();
        return Driver.PrimaryContextRetain(Driver.Device(0));
    });

    private static readonly ConcurrentDictionary<string, Lazy<nint>> Modules = new();

    /// <summary>The options the engine compiles with, for compute capability 9.0.</summary>
    public static IReadOnlyList<string> Options => KernelSource.Options(90);

    /// <summary>Makes the primary context current on the calling thread (do it first in every test).</summary>
    public static void MakeCurrent() => Driver.SetCurrent(PrimaryContext.Value);

    /// <summary>The module of <paramref name="source"/> (compiled and loaded once per distinct source).</summary>
    public static nint Module(string source) =>
        Modules.GetOrAdd(source, s => new Lazy<nint>(() => Driver.ModuleLoadData(Nvrtc.CompileToPtx(s, "emu_tests.cu", Options)))).Value;

    /// <summary>Kernel <paramref name="name"/> of <paramref name="source"/>'s module.</summary>
    public static nint Kernel(string source, string name) => Driver.ModuleGetFunction(Module(source), name);

    /// <summary>A 1-D launch through the engine's binding; <paramref name="args"/> are the kernel's arguments in order.</summary>
    public static void Launch(nint kernel, uint grid, uint block, params object[] args) => Launch(kernel, grid, block, 0, args);

    /// <summary>A 1-D launch with dynamic shared memory.</summary>
    public static void Launch(nint kernel, uint grid, uint block, uint sharedBytes, params object[] args)
    {
        using var packed = new KernelArgs(args);
        Driver.LaunchKernel(kernel, new LaunchConfig(grid, block), sharedBytes, 0, packed.Pointers);
    }

    /// <summary>A 3-D launch (the engine's binding launches 1-D grids only), straight through cuLaunchKernel; returns its result.</summary>
    public static int Launch3D(nint kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes, params object[] args)
    {
        using var packed = new KernelArgs(args);
        var launch = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Export("cuLaunchKernel");
        return launch(kernel, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, 0, packed.Pointers, null);
    }

    /// <summary>The message of the CudaException that <paramref name="action"/> throws, checking its code.</summary>
    public static string Fails(int code, Action action)
    {
        var e = Assert.Throws<CudaException>(action);
        Assert.True(e.Code == code, $"expected error {code}, got {e.Code}: {e.Message}");
        return e.Message;
    }

    /// <summary>Assert.Contains that shows the whole message when it fails (xunit cuts long strings).</summary>
    public static void Contains(string expected, string? actual) =>
        Assert.True(actual?.Contains(expected, StringComparison.Ordinal) == true, $"expected to find\n  {expected}\nin\n  {actual}");

    /// <summary>An export of the loaded driver (the emulator).</summary>
    public static nint Export(string name) => NativeLibrary.GetExport(NativeLibraries.Load(CudaLibrary.Driver), name);

    /// <summary>Sets an emulator option (its variable's name); null restores the default.</summary>
    public static void SetOption(string name, string? value)
    {
        var set = (delegate* unmanaged<byte*, byte*, int>)Export("cuEmuSetOption");
        var n = Marshal.StringToCoTaskMemUTF8(name);
        var v = value is null ? 0 : Marshal.StringToCoTaskMemUTF8(value);
        try { Driver.Check(set((byte*)n, (byte*)v), "cuEmuSetOption"); }
        finally { Marshal.FreeCoTaskMem(n); Marshal.FreeCoTaskMem(v); }
    }

    /// <summary>The emulator's counters.</summary>
    public static EmuStats Stats()
    {
        EmuStats s;
        Driver.Check(((delegate* unmanaged<EmuStats*, nuint, int>)Export("cuEmuGetStats"))(&s, (nuint)sizeof(EmuStats)), "cuEmuGetStats");
        return s;
    }
}

/// <summary>cuEmuGetStats's counters, in its order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EmuStats
{
    public ulong Launches, Blocks, Threads, Switches, Fibers, Barriers, WarpRounds;
    public ulong Compiles, CompileCacheHits, ModulesLoaded, LibraryCalls, Errors;
}

/// <summary>Kernel arguments packed in native memory: each value, and the array of pointers to them that cuLaunchKernel takes.</summary>
internal sealed unsafe class KernelArgs : IDisposable
{
    private readonly byte* _values;
    public void** Pointers { get; }

    public KernelArgs(object[] args)
    {
        _values = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, args.Length * 16 + args.Sum(a => a is byte[] b ? b.Length : 0)), 16);
        Pointers = (void**)NativeMemory.Alloc((nuint)Math.Max(1, args.Length), (nuint)sizeof(void*));
        byte* at = _values;
        for (int i = 0; i < args.Length; i++)
        {
            Pointers[i] = at;
            switch (args[i])
            {
                case CUdeviceptr p: *(ulong*)at = p.Address; at += 8; break;
                case DeviceBuffer b: *(ulong*)at = b.Pointer.Address; at += 8; break;
                case long v: *(long*)at = v; at += 8; break;
                case ulong v: *(ulong*)at = v; at += 8; break;
                case int v: *(int*)at = v; at += 16; break;
                case uint v: *(uint*)at = v; at += 16; break;
                case float v: *(float*)at = v; at += 16; break;
                case double v: *(double*)at = v; at += 8; break;
                case nint v: *(nint*)at = v; at += 8; break;
                case byte[] raw: raw.CopyTo(new Span<byte>(at, raw.Length)); at += (raw.Length + 15) / 16 * 16; break;
                default: throw new ArgumentException($"argument {i}: {args[i]?.GetType()} is not a kernel argument type here");
            }
            if (((nint)at & 15) != 0) at += 16 - ((nint)at & 15);
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_values);
        NativeMemory.Free(Pointers);
    }
}

/// <summary>A device allocation of <see cref="Bytes"/> bytes, freed on dispose (cuMemAlloc_v2 / cuMemFree_v2).</summary>
internal sealed unsafe class DeviceBuffer : IDisposable
{
    public DeviceBuffer(ulong bytes) { Bytes = bytes; Pointer = Driver.MemAlloc(bytes); }

    public CUdeviceptr Pointer { get; private set; }
    public ulong Bytes { get; }

    public static DeviceBuffer Of<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var b = new DeviceBuffer((ulong)(data.Length * sizeof(T)));
        b.Upload(data);
        return b;
    }

    public static DeviceBuffer Of<T>(int count) where T : unmanaged => new((ulong)(count * sizeof(T)));

    public void Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        fixed (T* p = data) Driver.CopyHtoD(Pointer, p, (ulong)(data.Length * sizeof(T)));
    }

    public T[] Download<T>() where T : unmanaged
    {
        var result = new T[Bytes / (ulong)sizeof(T)];
        fixed (T* p = result) Driver.CopyDtoH(p, Pointer, (ulong)(result.Length * sizeof(T)));
        return result;
    }

    public void Dispose()
    {
        if (Pointer.IsNull) return;
        Driver.MemFree(Pointer);
        Pointer = CUdeviceptr.Null;
    }
}
