using System.Collections.Concurrent;
using Engine.Cuda.Kernels;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// One compiled kernel unit loaded on one device: NVRTC compiles the source for the device's compute
/// capability once (the PTX is cached on disk across processes), the driver loads it, and each kernel is
/// looked up by name once. Made by <see cref="CudaDevice.Module"/>.
/// </summary>
public sealed class CudaModule
{
    private static readonly Lazy<PtxCache> Compiler = new(() => PtxCache.WithNvrtc());
    private readonly ConcurrentDictionary<string, Lazy<CudaKernel>> _kernels = new();
    private readonly nint _handle;

    private CudaModule(CudaDevice device, string name, nint handle)
    {
        Device = device;
        Name = name;
        _handle = handle;
    }

    /// <summary>The device it is loaded on.</summary>
    public CudaDevice Device { get; }

    /// <summary>The unit's name (for example <c>copy.cu</c>), as errors name it.</summary>
    public string Name { get; }

    /// <summary>Compiles (or finds in the PTX cache) and loads <paramref name="source"/> on <paramref name="device"/>.</summary>
    internal static CudaModule Load(CudaDevice device, string name, string source)
    {
        int arch = device.Info.Architecture;
        byte[] image;
        try { image = Compiler.Value.GetOrCompile(source, arch); }
        catch (CudaException e)
        {
            throw new CudaException($"Compiling the CUDA kernels of {name} for sm_{arch} failed: {e.Message}");
        }
        device.MakeCurrent();
        return new CudaModule(device, name, Driver.ModuleLoadData(image));
    }

    /// <summary>The kernels of this unit looked up so far.</summary>
    public IEnumerable<CudaKernel> Kernels => _kernels.Values.Where(k => k.IsValueCreated).Select(k => k.Value);

    /// <summary>The kernel <paramref name="kernel"/> of this unit (an <c>extern "C"</c> name such as <c>copy_f32_f64</c>).</summary>
    public CudaKernel Get(string kernel) =>
        _kernels.GetOrAdd(kernel, k => new Lazy<CudaKernel>(() =>
        {
            Device.MakeCurrent();
            nint function;
            try { function = Driver.ModuleGetFunction(_handle, k); }
            catch (CudaException e) { throw new CudaException($"The kernel unit {Name} has no kernel '{k}': {e.Message}"); }
            return new CudaKernel(Device, Name, k, function);
        })).Value;
}
