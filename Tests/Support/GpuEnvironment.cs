using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Cuda;

namespace Engine.Tests.Support;

/// <summary>
/// Where this test run's GPU tests run: on a real CUDA device when one loads, else on the CUDA emulator built
/// beside the test assembly (<c>libcudaemu.so</c>, see <c>Tests/CudaEmulator/README.md</c>), else nowhere, with
/// the reason. The choice is made by a module initializer, before anything in the engine probes CUDA: it points
/// <c>ENGINE_CUDA_EMULATOR</c> at the emulator unless a real driver with a device loads, or the variable is
/// already set. The run prints one line to stderr saying which it is.
/// </summary>
internal static class GpuEnvironment
{
    /// <summary>The emulator's file name beside the test assembly.</summary>
    public const string EmulatorFile = "libcudaemu.so";

    /// <summary>A line for people: "GPU tests run on: CUDA emulator (CPU), libcudaemu.so at /…".</summary>
    public static string Description { get; private set; } = "";

    /// <summary>The emulator's path when the GPU tests run on it; null on a real GPU or when they cannot run.</summary>
    public static string? EmulatorPath { get; private set; }

    /// <summary>Why there is neither a GPU nor the emulator; null when one of them is there.</summary>
    public static string? MissingReason { get; private set; }

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "The emulator must be chosen before any test, or the engine, probes CUDA.")]
    internal static void Choose()
    {
        if (Environment.GetEnvironmentVariable(LibraryResolver.EmulatorVariable) is { Length: > 0 } preset)
        {
            EmulatorPath = preset;
            Description = $"GPU tests run on: CUDA emulator (CPU), {LibraryResolver.EmulatorVariable}={preset} (set by the caller)";
        }
        else if (RealDeviceCount() is > 0 and var devices)
            Description = $"GPU tests run on: a real CUDA driver (libcuda.so.1) with {devices} device(s)";
        else
        {
            var path = Path.Combine(AppContext.BaseDirectory, EmulatorFile);
            if (File.Exists(path))
            {
                Environment.SetEnvironmentVariable(LibraryResolver.EmulatorVariable, path);
                EmulatorPath = path;
                Description = $"GPU tests run on: CUDA emulator (CPU), {EmulatorFile} at {path}";
            }
            else
            {
                var status = Path.Combine(AppContext.BaseDirectory, "libcudaemu.status");
                MissingReason = File.Exists(status) && File.ReadAllText(status).Trim() is { Length: > 0 } s && s != "built"
                    ? s : $"no emulator built: {EmulatorFile} is not beside the test assembly";
                Description = $"GPU tests are skipped: no CUDA device, and {MissingReason}";
            }
        }
        Console.Error.WriteLine(Description);
    }

    // cuInit + cuDeviceGetCount straight from libcuda.so.1, without the engine's resolver (which must not run
    // before the choice is made). 0 when there is no driver or no device.
    private static unsafe int RealDeviceCount()
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var handle)) return 0;
        if (!NativeLibrary.TryGetExport(handle, "cuInit", out var init) || !NativeLibrary.TryGetExport(handle, "cuDeviceGetCount", out var count))
            return 0;
        int devices = 0;
        if (((delegate* unmanaged<uint, int>)init)(0) != 0 || ((delegate* unmanaged<int*, int>)count)(&devices) != 0) return 0;
        return devices;
    }
}
