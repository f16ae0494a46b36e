using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Engine.Autograd;
using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Interpolate on CUDA (<c>Interpolate.cu</c>): a thread per output element forward; the adjoint as two gathers
/// (along H into rows of the output width, then along W), a thread per element each, through the taps grouped by
/// input index. The taps of an axis are uploaded once per device and kept beside the host's cached taps.
/// </summary>
internal static class InterpolateCuda
{
    private const string Unit = "Resize/Interpolate.cu";

    /// <summary>One axis's taps on one device: what the forward reads, and the same grouped by input index for the adjoint.</summary>
    private sealed record DeviceTaps(Tensor Index, Tensor Weight, Tensor Start, Tensor TapsOf);

    /// <summary>Per host taps (themselves cached by key), their copies per device; they go when the host taps go.</summary>
    private static readonly ConditionalWeakTable<ResizeTaps, ConcurrentDictionary<Device, Lazy<DeviceTaps>>> OnDevices = new();

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(InterpolateCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(ResizePlan plan, Tensor x, Tensor y, int planes)
    {
        var (h, w) = (Taps(plan.H, x.Device), Taps(plan.W, x.Device));
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(y); args.Add((long)planes);
        args.Add(plan.H.InSize); args.Add(plan.W.InSize); args.Add(plan.H.OutSize); args.Add(plan.W.OutSize);
        args.Add(h.Index); args.Add(h.Weight); args.Add(plan.H.Taps);
        args.Add(w.Index); args.Add(w.Weight); args.Add(plan.W.Taps);
        Kernel(x, "interpolate_forward").Launch(FamilyLaunch.Elements(y.NumEl), args);
    }

    public static void Backward(ResizePlan plan, Tensor g, Tensor gx, int planes)
    {
        var (h, w) = (Taps(plan.H, g.Device), Taps(plan.W, g.Device));
        using var rows = Tensor.Empty([planes, plan.H.InSize, plan.W.OutSize], g.DType, g.Device);
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(g); args.Add(rows); args.Add((long)planes);
            args.Add(plan.H.InSize); args.Add(plan.H.OutSize); args.Add(plan.W.OutSize);
            args.Add(h.Weight); args.Add(plan.H.Taps); args.Add(h.Start); args.Add(h.TapsOf);
            Kernel(g, "interpolate_backward_rows").Launch(FamilyLaunch.Elements(rows.NumEl), args);
        }
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(rows); args.Add(gx); args.Add((long)planes);
            args.Add(plan.H.InSize); args.Add(plan.W.InSize); args.Add(plan.W.OutSize);
            args.Add(w.Weight); args.Add(plan.W.Taps); args.Add(w.Start); args.Add(w.TapsOf);
            Kernel(g, "interpolate_backward_columns").Launch(FamilyLaunch.Elements(gx.NumEl), args);
        }
    }

    /// <summary>The taps of one axis on <paramref name="device"/>, uploaded on first use.</summary>
    private static DeviceTaps Taps(ResizeTaps taps, Device device) =>
        // PublicationOnly: a failed upload (out of memory, say) is tried again next time rather than remembered.
        OnDevices.GetValue(taps, _ => new()).GetOrAdd(device, d => new Lazy<DeviceTaps>(() => Upload(taps, d), LazyThreadSafetyMode.PublicationOnly)).Value;

    private static DeviceTaps Upload(ResizeTaps taps, Device device)
    {
        // Kept for the life of the host taps: out of every scope, off the tape.
        using var noGrad = Tape.NoGrad();
        var (start, tapsOf) = taps.Inverse();
        var index = Array.ConvertAll(taps.Index, i => (long)i);
        return new DeviceTaps(Moved(Tensor.FromArray(index), device),
            Moved(taps.Weight is float[] f ? Tensor.FromArray(f) : Tensor.FromArray((double[])taps.Weight), device),
            Moved(Tensor.FromArray(start), device), Moved(Tensor.FromArray(tapsOf), device));
    }

    private static Tensor Moved(Tensor host, Device device)
    {
        using (host) return host.ToDevice(device).DetachFromScope();
    }
}
