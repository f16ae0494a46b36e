using System.Reflection;
using Engine.Cuda.Kernels;

namespace Engine.Cuda.Runtime;

/// <summary>
/// The kernels of a <c>.cu</c> file embedded in any assembly (the operator families', a user's custom op), for
/// the device of a tensor: the unit (the prelude, then the file) is compiled for that device on first use,
/// cached on disk, and loaded once per device. The file is embedded with the <c>cuda/</c> convention of
/// <see cref="KernelUnit"/>, so CI's NVRTC check compiles it too.
/// </summary>
public static class CudaKernels
{
    /// <summary>
    /// Kernel <paramref name="kernel"/> of <paramref name="file"/> (its path under <c>cuda/</c>, for example
    /// <c>Norm/LayerNorm.cu</c>) embedded in <paramref name="assembly"/>, on <paramref name="device"/>.
    /// </summary>
    public static CudaKernel Get(Device device, Assembly assembly, string file, string kernel)
    {
        var cuda = CudaDevice.For(device);
        var module = cuda.Module($"{assembly.GetName().Name}/{file}", () =>
            KernelSource.Assemble(file, KernelSource.ReadResource(assembly, KernelUnit.ResourcePrefix + file)
                ?? throw new ArgumentException($"{assembly.GetName().Name} embeds no CUDA file '{KernelUnit.ResourcePrefix}{file}'.", nameof(file))));
        return module.Get(kernel);
    }

    /// <summary>The suffix of a dtype in kernel names: f32, f64, i64, bool.</summary>
    public static string Suffix(DType dtype) => dtype.ShortName();
}
