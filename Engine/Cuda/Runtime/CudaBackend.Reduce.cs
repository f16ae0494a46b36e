using Engine.Backends;
using Engine.Cuda.Kernels;

namespace Engine.Cuda.Runtime;

// Reductions (reduction.cu). The input is seen as two strided views: the kept dimensions, one output each
// in y's row-major order, and the reduced ones. Few outputs over many elements split each output into
// chunks reduced by separate blocks and combined by a second launch. Every choice depends on the shapes
// alone, never on the device, so the same input gives the same bits on every run and every GPU.
internal sealed unsafe partial class CudaBackend
{
    /// <summary>Below this many outputs, reductions of more than <see cref="SplitFrom"/> elements each are split.</summary>
    private const long SplitBelowOutputs = 64;
    private const long SplitFrom = 1 << 16;
    private const long ElementsPerSplit = 1 << 14;
    private const uint ReduceThreads = 256;

    public void Reduce(ReduceKind kind, Tensor x, int[] axes, Tensor y)
    {
        if (!x.DType.IsFloatingPoint()) throw Kernel.Missing(kind.ToString().ToLowerInvariant(), x);
        var reduced = new bool[x.Rank];
        foreach (var a in axes) reduced[a] = true;
        var keptShape = new List<int>(); var keptStrides = new List<long>();
        var redShape = new List<int>(); var redStrides = new List<long>();
        for (int d = 0; d < x.Rank; d++)
        {
            if (reduced[d]) { redShape.Add(x.Layout.Shape[d]); redStrides.Add(x.Layout.Strides[d]); }
            else { keptShape.Add(x.Layout.Shape[d]); keptStrides.Add(x.Layout.Strides[d]); }
        }
        long outputs = Layout.Count(keptShape.ToArray()), count = Layout.Count(redShape.ToArray());
        if (outputs == 0) return;
        bool arg = kind is ReduceKind.ArgMax or ReduceKind.ArgMin;
        var kept = Merged(keptShape, keptStrides);
        // Arg-reductions report positions along the original axis: those dimensions must not be merged.
        var red = arg ? StridedArg.Of(redShape.Select(s => (long)s).ToArray(), redStrides.ToArray()) : Merged(redShape, redStrides);
        if (kept is null || red is null)
        {
            // More than 8 dimensions that do not merge: reduce a contiguous copy, whose dimensions do merge.
            if (x.IsContiguous) throw new NotSupportedException($"{KindName(kind)}: {x.Rank} dimensions reduced along {axes.Length} separate axes exceed the kernels' {KernelSource.MaxDims}.");
            using var c = Tensor.Empty(x.Layout.Shape, x.DType, x.Device);
            Copy(x, c);
            Reduce(kind, c, axes, y);
            return;
        }
        var device = DeviceOf(x);
        var unit = Unit(device, "reduction.cu");
        string name = kind.ToString().ToLowerInvariant(), suffix = Suffix(x.DType);
        long splits = !arg && outputs < SplitBelowOutputs && count > SplitFrom ? Math.Min(1024, count / ElementsPerSplit) : 1;
        if (splits <= 1)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(x); args.Add(kept.Value); args.Add(red.Value); args.Add(y); args.Add(outputs); args.Add(count);
            unit.Get($"reduce_{name}_{suffix}").Launch(Blocks(outputs), args);
            return;
        }
        using var partials = Tensor.Empty([(int)(outputs * splits)], DType.F64, x.Device);
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(x); args.Add(kept.Value); args.Add(red.Value); args.Add(partials);
            args.Add(outputs * splits); args.Add(splits); args.Add(count);
            unit.Get($"reduce_{name}_partials_{suffix}").Launch(Blocks(outputs * splits), args);
        }
        {
            var rows = StridedArg.Of([outputs], [splits]);
            var cols = StridedArg.Of([splits], [1]);
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(partials); args.Add(in rows); args.Add(in cols); args.Add(y); args.Add(outputs); args.Add(splits);
            unit.Get($"reduce_{name}_final_{suffix}").Launch(Blocks(outputs), args);
        }
    }

    private static string KindName(ReduceKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>One block per work item, the grid capped (the kernels stride over the rest).</summary>
    private static LaunchConfig Blocks(long items) => new((uint)Math.Clamp(items, 1, LaunchConfig.DefaultMaxGrid), ReduceThreads);

    /// <summary>The dimensions as one strided view with size-1 dimensions dropped and contiguous neighbours merged; null when more than 8 remain.</summary>
    private static StridedArg? Merged(List<int> shape, List<long> strides)
    {
        var (sizes, merged) = Cpu.StridedIterator.Coalesce(shape.ToArray(), [strides.ToArray()], [1]);
        return sizes.Length > KernelSource.MaxDims ? null : StridedArg.Of(sizes, merged[0]);
    }
}
