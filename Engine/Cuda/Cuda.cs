using System.Runtime.InteropServices;
using Engine.Cuda.Native;

namespace Engine.Cuda;

/// <summary>
/// Whether this process can use a CUDA device, and what the devices are. Answering never throws: a missing
/// driver, a stub library or no device all mean "not available", and <see cref="UnavailableReason"/> says which.
/// </summary>
public static class Cuda
{
    private static readonly Lazy<(int Count, string? Reason, bool Emulated)> Probe = new(ProbeDevices);

    /// <summary>True when the driver loads, initialises and reports at least one device.</summary>
    public static bool IsAvailable => Probe.Value.Count > 0;

    /// <summary>The number of devices (0 when CUDA is not available).</summary>
    public static int DeviceCount => Probe.Value.Count;

    /// <summary>Why CUDA is not available, in one line; null when it is.</summary>
    public static string? UnavailableReason => Probe.Value.Reason;

    /// <summary>
    /// True when the loaded driver is the CUDA emulator (a test library that runs kernels on the CPU; see
    /// <c>ENGINE_CUDA_EMULATOR</c> in <see cref="LibraryResolver"/>) rather than NVIDIA's: it exports <c>cuEmuGetVersion</c>.
    /// </summary>
    public static bool IsEmulated => Probe.Value.Emulated;

    /// <summary>Device <paramref name="ordinal"/>'s name, compute capability and memory.</summary>
    public static CudaDeviceInfo Device(int ordinal)
    {
        if (ordinal < 0 || ordinal >= DeviceCount)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"cuda:{ordinal} does not exist: {DeviceCount} CUDA device(s){(UnavailableReason is { } r ? " (" + r + ")" : "")}.");
        int device = Driver.Device(ordinal);
        return new CudaDeviceInfo(ordinal, Driver.DeviceName(device),
            Driver.Attribute(device, DeviceAttribute.ComputeCapabilityMajor), Driver.Attribute(device, DeviceAttribute.ComputeCapabilityMinor),
            Driver.TotalMemory(device), Driver.Attribute(device, DeviceAttribute.MultiprocessorCount));
    }

    private static (int, string?, bool) ProbeDevices()
    {
        bool emulated = false;
        try
        {
            // Resolve first: with no libcuda.so.1 this is a directory scan, not a failed P/Invoke per call.
            emulated = NativeLibrary.TryGetExport(NativeLibraries.Load(CudaLibrary.Driver), "cuEmuGetVersion", out _);
            Driver.Init();
            int count = Driver.DeviceCount();
            return (count, count > 0 ? null : "the CUDA driver reports no device", emulated);
        }
        catch (CudaLibraryNotFoundException)
        {
            return (0, ResolverEnvironment.System.Variable(LibraryResolver.EmulatorVariable) is { } emulator
                ? $"the CUDA emulator did not load ({LibraryResolver.EmulatorVariable}={emulator})"
                : "no CUDA driver (libcuda.so.1) found", false);
        }
        catch (Exception e) { return (0, e.Message.Split('\n')[0], emulated); }
    }
}

/// <summary>What the engine needs to know about one CUDA device.</summary>
/// <param name="Ordinal">The device's index, as in <c>cuda:N</c>.</param>
/// <param name="Name">The marketing name.</param>
/// <param name="Major">Compute capability, major.</param>
/// <param name="Minor">Compute capability, minor.</param>
/// <param name="TotalMemory">Device memory in bytes.</param>
/// <param name="Multiprocessors">Streaming multiprocessors (grids are capped at a multiple of these).</param>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int Major, int Minor, ulong TotalMemory, int Multiprocessors)
{
    /// <summary>The compute capability as NVRTC's architecture number (90 for 9.0).</summary>
    public int Architecture => Major * 10 + Minor;
}
