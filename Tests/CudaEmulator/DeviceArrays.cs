using System.Runtime.InteropServices;
using Engine.Cuda;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// A test of what only the emulator promises (status codes for arguments a GPU would crash on, poison, its
/// messages): it runs on the CUDA emulator and is skipped, with the reason, on a real GPU or where neither is.
/// </summary>
public sealed class EmulatedLibraryFactAttribute : FactAttribute
{
    /// <summary>The explicit skip reason, else why this run cannot test the emulator, else null.</summary>
    public override string? Skip
    {
        get => base.Skip ?? GpuFactAttribute.SkipReason(GpuNeeds.Driver)
            ?? (Engine.Cuda.Cuda.IsEmulated ? null : "skipped: tests the CUDA emulator's own checks, and this run has a real GPU");
        set => base.Skip = value;
    }
}

/// <summary>
/// Device buffers for one test, filled from and read back into arrays, all freed on dispose; raw pointers,
/// because the tests offset them. Plus the emulator's explanation of the last failed cuBLAS/cuFFT call (the
/// bindings only see the status code).
/// </summary>
internal sealed unsafe class DeviceArrays : IDisposable
{
    private readonly List<CUdeviceptr> _owned = [];

    /// <summary>Makes the primary context current on this thread (xUnit runs tests on pool threads).</summary>
    public DeviceArrays() => Emu.MakeCurrent();

    /// <summary>A device copy of <paramref name="data"/>.</summary>
    public CUdeviceptr Upload<T>(T[] data) where T : unmanaged
    {
        var p = Alloc<T>(data.Length);
        fixed (T* src = data) Driver.CopyHtoD(p, src, (ulong)(data.Length * sizeof(T)));
        return p;
    }

    /// <summary>A fresh allocation (NaN poison on the emulator, anything on a GPU).</summary>
    public CUdeviceptr Alloc<T>(long count) where T : unmanaged
    {
        var p = Driver.MemAlloc((ulong)(count * sizeof(T)));
        _owned.Add(p);
        return p;
    }

    /// <summary>A buffer of <paramref name="count"/> NaNs, on a GPU as on the emulator.</summary>
    public CUdeviceptr NaNs<T>(long count) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> =>
        Upload(Enumerable.Repeat(T.NaN, (int)count).ToArray());

    /// <summary><paramref name="count"/> elements read back from <paramref name="p"/>.</summary>
    public static T[] Download<T>(CUdeviceptr p, long count) where T : unmanaged
    {
        var data = new T[count];
        fixed (T* dst = data) Driver.CopyDtoH(dst, p, (ulong)(count * sizeof(T)));
        return data;
    }

    /// <summary>Frees every buffer this made.</summary>
    public void Dispose()
    {
        foreach (var p in _owned) Driver.MemFree(p);
        _owned.Clear();
    }

    /// <summary>Uniform values in [-1, 1), from a fixed seed.</summary>
    public static double[] Random(int seed, long count)
    {
        var rng = new System.Random(seed);
        var v = new double[count];
        for (long i = 0; i < count; i++) v[i] = rng.NextDouble() * 2 - 1;
        return v;
    }

    /// <summary>The emulator's message for this thread's last failed cuBLAS/cuFFT call.</summary>
    public static string LastLibraryError()
    {
        var library = NativeLibraries.Load(CudaLibrary.CuBlas);
        var get = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(library, "cuEmuGetLastLibraryError");
        nint text;
        Assert.Equal(0, get(&text));
        return Marshal.PtrToStringUTF8(text) ?? "";
    }

    /// <summary>
    /// Runs <paramref name="call"/>, which must throw a <see cref="CudaException"/> with <paramref name="code"/>,
    /// and checks that the emulator's explanation mentions <paramref name="needle"/>.
    /// </summary>
    public static void Fails(int code, string needle, Action call)
    {
        var e = Assert.Throws<CudaException>(call);
        string detail = LastLibraryError();
        Assert.True(e.Code == code, $"expected status {code}, got {e.Code} ({e.Message}); emulator: {detail}");
        Assert.Contains(needle, detail);
    }
}
