using Engine.Backends;
using Engine.Cuda.Kernels;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// The CUDA implementation of the core primitives. Every operation is queued on the tensor's device's one
/// compute stream and returns at once; only the transfers to the host (and <see cref="Synchronize"/>) wait.
/// Kernels come from the embedded units in <c>Engine/Cuda/Kernels/Sources</c>, compiled for the device on
/// first use; their names are <c>op_dtype</c> (<c>fill_f32</c>, <c>copy_f64_i64</c>).
/// </summary>
internal sealed unsafe partial class CudaBackend : IBackend
{
    public static CudaBackend Instance { get; } = new();

    /// <summary>The module of an embedded unit (the prelude and <paramref name="file"/>) on <paramref name="device"/>.</summary>
    internal static CudaModule Unit(CudaDevice device, string file) => device.Module(file, () => KernelSource.Assemble(file));

    /// <summary>The kernel <paramref name="name"/> of an embedded unit, on the device of <paramref name="on"/>.</summary>
    internal static CudaKernel KernelFor(Tensor on, string file, string name) => Unit(DeviceOf(on), file).Get(name);

    internal static CudaDevice DeviceOf(Tensor t) =>
        t.Storage is CudaStorage s ? s.CudaDevice
        : throw new ArgumentException($"expected a CUDA tensor, got a {t.DType.TorchName()} tensor {Layout.Format(t.Layout.Shape)} on {t.Device}.");

    /// <summary>The kernel-name suffix of a dtype: f32, f64, i64, bool.</summary>
    internal static string Suffix(DType dtype) => dtype.ShortName();

    /// <summary>Memory for <paramref name="length"/> elements on <paramref name="device"/>; zeroed on the stream when asked.</summary>
    public Storage Allocate(Device device, long length, DType dtype, bool zeroed)
    {
        var cuda = CudaDevice.For(device);
        var storage = new CudaStorage(cuda, length, dtype);
        if (zeroed && length > 0)
        {
            // Whole 32-bit words: the block's size class is a multiple of 512 bytes, so the last partial word is ours.
            ulong words = ((ulong)(length * dtype.SizeOf()) + 3) / 4;
            cuda.Counters.MemoryOperation();
            Driver.MemsetD32Async(new CUdeviceptr(storage.BaseAddress), 0, words, cuda.Stream);
        }
        return storage;
    }

    public void Fill(Tensor dst, double value)
    {
        long n = dst.NumEl;
        if (n == 0) return;
        var kernel = KernelFor(dst, "copy.cu", "fill_" + Suffix(dst.DType));
        var layout = StridedArg.Joint(dst.Layout.Shape, dst)[0];
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(dst);
        args.Add(in layout);
        switch (dst.DType)
        {
            case DType.F32: args.Add((float)value); break;
            case DType.F64: args.Add(value); break;
            case DType.I64: args.Add((long)value); break;
            default: args.Add(value != 0 ? (byte)1 : (byte)0); break;
        }
        args.Add(n);
        kernel.Launch(LaunchConfig.ForElements(n), args);
    }

    public void Copy(Tensor src, Tensor dst)
    {
        long n = dst.NumEl;
        if (n == 0) return;
        if (src.Device != dst.Device)
            throw new ArgumentException($"copy: source on {src.Device} and destination on {dst.Device}; cross-device copies go through Tensor.ToDevice or CopyFrom.");
        var device = DeviceOf(dst);
        if (src.DType == dst.DType && src.IsContiguous && dst.IsContiguous && src.Layout.Shape.AsSpan().SequenceEqual(dst.Layout.Shape))
        {
            device.MakeCurrent();
            ulong bytes = (ulong)(n * dst.DType.SizeOf());
            device.Counters.MemoryOperation();
            Driver.CopyDtoDAsync(new CUdeviceptr(((CudaStorage)dst.Storage).Address(dst.Offset)),
                new CUdeviceptr(((CudaStorage)src.Storage).Address(src.Offset)), bytes, device.Stream);
            return;
        }
        var kernel = Unit(device, "copy.cu").Get($"copy_{Suffix(src.DType)}_{Suffix(dst.DType)}");
        var layouts = StridedArg.Joint(dst.Layout.Shape, src, dst);
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(src); args.Add(in layouts[0]);
        args.Add(dst); args.Add(in layouts[1]);
        args.Add(n);
        kernel.Launch(LaunchConfig.ForElements(n), args);
    }
}
