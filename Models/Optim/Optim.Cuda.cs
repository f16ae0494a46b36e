using System.Runtime.InteropServices;
using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Models.Optim;

/// <summary>
/// The optimizers on CUDA (<c>Optim.cu</c>): the kernels by name and dtype, the tensor lists they take, the
/// launches. One launch updates up to <see cref="TensorList.Capacity"/> tensors of one dtype, so a step of a
/// model with a hundred parameters is a few launches rather than a dozen per parameter. The grid is derived
/// from the shapes alone, and the updates are elementwise, so the bits do not depend on the device.
/// </summary>
internal static class OptimCuda
{
    private const string Unit = "Optim/Optim.cu";

    /// <summary>Elements per partial of the global norm (<c>NORM_CHUNK</c>).</summary>
    public const int NormChunk = 8192;

    private const uint NormBlock = 256;

    /// <summary>The table of one launch (<c>TensorList</c> of Optim.cu, passed by value): counts and up to five addresses per tensor.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct TensorList
    {
        /// <summary>Tensors per launch (<c>OPTIM_LIST_MAX</c>).</summary>
        public const int Capacity = 48;

        /// <summary>Addresses per tensor.</summary>
        public const int Slots = 5;

        /// <summary>The size the kernel expects, in bytes.</summary>
        public const int Bytes = 8 + Capacity * 8 * (2 + Slots);

        public int Count;
        public fixed long Numel[Capacity];
        public fixed long FirstChunk[Capacity];
        public fixed ulong Address[Slots * Capacity];
    }

    /// <summary>How the global norm sums (<c>kind</c> in Optim.cu).</summary>
    public enum NormKind { Power = 0, Squares = 1, Absolute = 2, Max = 3 }

    /// <summary>The norm kind of a p-norm.</summary>
    public static NormKind KindOf(double p) =>
        double.IsPositiveInfinity(p) ? NormKind.Max : p == 2 ? NormKind.Squares : p == 1 ? NormKind.Absolute : NormKind.Power;

    /// <summary>True when the kernels can update <paramref name="t"/> in place: a contiguous floating tensor on a CUDA device.</summary>
    public static bool CanUpdate(Tensor t) => t.Device.Type == DeviceType.Cuda && t.IsContiguous && t.DType is DType.F32 or DType.F64;

    private static CudaKernel Kernel(Device device, DType dtype, string name) => Kernel(device, $"{name}_{CudaKernels.Suffix(dtype)}");

    private static CudaKernel Kernel(Device device, string name) => CudaKernels.Get(device, typeof(OptimCuda).Assembly, Unit, name);

    /// <summary>
    /// Rows of tensors (row[0] decides the dtype and element count; null entries pass a null address) cut into
    /// launch tables in order, each with its largest element count. Every tensor must be contiguous, on
    /// <paramref name="device"/>, of the row's dtype and size.
    /// </summary>
    private static IEnumerable<(TensorList List, long MostElements)> Tables(IReadOnlyList<Tensor?[]> rows, Device device)
    {
        for (int start = 0; start < rows.Count; start += TensorList.Capacity)
        {
            var list = new TensorList();
            long most = 0;
            int count = Math.Min(TensorList.Capacity, rows.Count - start);
            for (int k = 0; k < count; k++) most = Math.Max(most, Fill(ref list, k, rows[start + k], device));
            list.Count = count;
            yield return (list, most);
        }
    }

    private static unsafe long Fill(ref TensorList list, int k, Tensor?[] row, Device device)
    {
        var first = row[0]!;
        if (row.Length > TensorList.Slots) throw new ArgumentException($"optimizer kernels take at most {TensorList.Slots} tensors per row, not {row.Length}.");
        for (int s = 0; s < row.Length; s++)
        {
            if (row[s] is not { } t) continue;
            if (t.Device != device || !t.IsContiguous || t.DType != first.DType || t.NumEl != first.NumEl)
                throw new ArgumentException($"optimizer kernels: tensor {s} of a row is a {(t.IsContiguous ? "" : "non-contiguous ")}{t.DType.TorchName()} " +
                    $"{Layout.Format(t.Shape)} on {t.Device}; the row needs contiguous {first.DType.TorchName()} tensors of {first.NumEl} elements on {device}.");
            list.Address[s * TensorList.Capacity + k] = ((CudaStorage)t.Storage).Address(t.Offset);
        }
        list.Numel[k] = first.NumEl;
        return first.NumEl;
    }

    private static void CheckScalar(Tensor? scalar, Device device, string what)
    {
        if (scalar is not null && (scalar.Device != device || scalar.DType != DType.F64 || scalar.NumEl != 1))
            throw new ArgumentException($"optimizer kernels: the {what} must be one float64 on {device}, not {scalar.DType.TorchName()} {Layout.Format(scalar.Shape)} on {scalar.Device}.");
    }

    /// <summary>AdamW over rows (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq or null) of one dtype and device, with the scalars of one step count.</summary>
    public static void AdamW(IReadOnlyList<Tensor?[]> rows, FusedKernels.AdamWScalars s, Tensor? gradScale)
    {
        if (rows.Count == 0) return;
        var (device, dtype) = (rows[0][0]!.Device, rows[0][0]!.DType);
        CheckScalar(gradScale, device, "gradient scale");
        var kernel = Kernel(device, dtype, "adamw_step");
        Span<byte> buffer = stackalloc byte[KernelArgs.Bytes];
        foreach (var (list, most) in Tables(rows, device))
        {
            var args = new KernelArgs(buffer);
            args.AddStruct(list);
            args.Add(s.DecayFactor); args.Add(s.Beta1); args.Add(1 - s.Beta1); args.Add(s.Beta2); args.Add(1 - s.Beta2);
            args.Add(s.Eps); args.Add(s.Bc2Sqrt); args.Add(s.NegStepSize); args.Add(s.Amsgrad ? 1 : 0); args.Add(s.Maximize ? 1 : 0);
            args.Add(gradScale);
            kernel.Launch(LaunchConfig.ForElements(most), args);
        }
    }

    /// <summary>SGD over rows (param, grad, momentum_buffer or null) of one dtype and device.</summary>
    public static void Sgd(IReadOnlyList<Tensor?[]> rows, FusedKernels.SgdScalars s, Tensor? gradScale)
    {
        if (rows.Count == 0) return;
        var (device, dtype) = (rows[0][0]!.Device, rows[0][0]!.DType);
        CheckScalar(gradScale, device, "gradient scale");
        var kernel = Kernel(device, dtype, "sgd_step");
        Span<byte> buffer = stackalloc byte[KernelArgs.Bytes];
        foreach (var (list, most) in Tables(rows, device))
        {
            var args = new KernelArgs(buffer);
            args.AddStruct(list);
            args.Add(-s.Lr); args.Add(s.WeightDecay); args.Add(s.Momentum); args.Add(1 - s.Dampening);
            args.Add(s.Nesterov ? 1 : 0); args.Add(s.Maximize ? 1 : 0); args.Add(s.FirstStep ? 1 : 0);
            args.Add(gradScale);
            kernel.Launch(LaunchConfig.ForElements(most), args);
        }
    }

    /// <summary>EMA over rows (average, source) of one dtype and device.</summary>
    public static void Ema(IReadOnlyList<Tensor?[]> rows, double decay)
    {
        if (rows.Count == 0) return;
        var (device, dtype) = (rows[0][0]!.Device, rows[0][0]!.DType);
        var kernel = Kernel(device, dtype, "ema_update");
        Span<byte> buffer = stackalloc byte[KernelArgs.Bytes];
        foreach (var (list, most) in Tables(rows, device))
        {
            var args = new KernelArgs(buffer);
            args.AddStruct(list);
            args.Add(decay); args.Add(1 - decay);
            kernel.Launch(LaunchConfig.ForElements(most), args);
        }
    }

    /// <summary>Multiplies contiguous gradients of one dtype and device by a device scalar, in place.</summary>
    public static void Scale(IReadOnlyList<Tensor> grads, Tensor scale)
    {
        if (grads.Count == 0) return;
        var (device, dtype) = (grads[0].Device, grads[0].DType);
        CheckScalar(scale, device, "scale");
        var kernel = Kernel(device, dtype, "scale_in_place");
        Span<byte> buffer = stackalloc byte[KernelArgs.Bytes];
        foreach (var (list, most) in Tables(grads.Select(g => new Tensor?[] { g }).ToList(), device))
        {
            var args = new KernelArgs(buffer);
            args.AddStruct(list);
            args.Add(scale);
            kernel.Launch(LaunchConfig.ForElements(most), args);
        }
    }

    /// <summary>
    /// The p-norm of all elements of <paramref name="grads"/> (contiguous, on one device, F32 or F64) into
    /// <paramref name="normOut"/>, and with <paramref name="scaleOut"/> the clipping factor for
    /// <paramref name="maxNorm"/>: partials of <see cref="NormChunk"/> elements in parameter order, then one
    /// block adds them in order. Nothing is read back.
    /// </summary>
    public static unsafe void Norm(IReadOnlyList<Tensor> grads, double p, double maxNorm, Tensor normOut, Tensor? scaleOut)
    {
        var device = normOut.Device;
        CheckScalar(normOut, device, "norm");
        CheckScalar(scaleOut, device, "scale");
        var firstChunk = new long[grads.Count];
        long chunks = 0;
        for (int i = 0; i < grads.Count; i++)
        {
            firstChunk[i] = chunks;
            chunks += (grads[i].NumEl + NormChunk - 1) / NormChunk;
        }
        var kind = KindOf(p);
        using var partials = Tensor.Empty([(int)Math.Max(1, chunks)], DType.F64, device);
        Span<byte> buffer = stackalloc byte[KernelArgs.Bytes];
        // Lists are runs of one dtype, so that each list's partials are one contiguous range.
        for (int start = 0; start < grads.Count;)
        {
            int end = start + 1;
            while (end < grads.Count && end - start < TensorList.Capacity && grads[end].DType == grads[start].DType) end++;
            var (list, _) = Tables(grads.Skip(start).Take(end - start).Select(g => new Tensor?[] { g }).ToList(), device).Single();
            for (int k = 0; k < end - start; k++) list.FirstChunk[k] = firstChunk[start + k];
            long listChunks = (end < grads.Count ? firstChunk[end] : chunks) - firstChunk[start];
            if (listChunks > 0)
            {
                var args = new KernelArgs(buffer);
                args.AddStruct(list);
                args.Add(listChunks); args.Add((int)kind); args.Add(p); args.Add(partials);
                Kernel(device, grads[start].DType, "norm_partials").Launch(new LaunchConfig((uint)Math.Min(listChunks, LaunchConfig.DefaultMaxGrid), NormBlock), args);
            }
            start = end;
        }
        var final = new KernelArgs(buffer);
        final.Add(partials); final.Add(chunks); final.Add((int)kind); final.Add(p); final.Add(maxNorm); final.Add(normOut); final.Add(scaleOut);
        Kernel(device, "norm_final").Launch(new LaunchConfig(1, NormBlock), final);
    }
}
