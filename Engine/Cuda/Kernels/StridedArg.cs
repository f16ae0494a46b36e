using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Cuda.Kernels;

/// <summary>
/// The C# twin of the prelude's <c>struct Strided { int ndim; i64 sizes[8]; i64 strides[8]; }</c>, passed to
/// kernels by value: 4 bytes of ndim, 4 of padding, then the two arrays (136 bytes). Sizes and strides are
/// in elements, outermost first; a stride of 0 broadcasts.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct StridedArg
{
    /// <summary>The struct's size in bytes, as the kernels see it.</summary>
    public const int Bytes = 8 + 2 * 8 * KernelSource.MaxDims;

    /// <summary>Number of dimensions used (0 for a single element).</summary>
    public int Rank;
    private fixed long _sizes[KernelSource.MaxDims];
    private fixed long _strides[KernelSource.MaxDims];

    /// <summary>Size of dimension <paramref name="d"/>.</summary>
    public readonly long Size(int d) => _sizes[d];

    /// <summary>Stride of dimension <paramref name="d"/>, in elements.</summary>
    public readonly long Stride(int d) => _strides[d];

    /// <summary>A layout from explicit sizes and strides (at most <see cref="KernelSource.MaxDims"/> dimensions).</summary>
    public static StridedArg Of(ReadOnlySpan<long> sizes, ReadOnlySpan<long> strides)
    {
        if (sizes.Length != strides.Length) throw new ArgumentException("sizes and strides differ in length.");
        if (sizes.Length > KernelSource.MaxDims)
            throw new ArgumentException($"a strided kernel operand has at most {KernelSource.MaxDims} dimensions after merging, not {sizes.Length}.");
        var s = new StridedArg { Rank = sizes.Length };
        for (int d = 0; d < sizes.Length; d++) { s._sizes[d] = sizes[d]; s._strides[d] = strides[d]; }
        return s;
    }

    /// <summary>
    /// The layouts of several operands iterated together over <paramref name="shape"/>: each operand is read
    /// with its broadcast strides, size-1 dimensions are dropped and neighbouring dimensions that are
    /// contiguous in every operand merged, so that most views need one or two dimensions.
    /// </summary>
    public static StridedArg[] Joint(int[] shape, params Tensor[] operands)
    {
        var strides = new long[operands.Length][];
        for (int k = 0; k < operands.Length; k++) strides[k] = operands[k].Layout.BroadcastStrides(shape);
        var ones = new int[operands.Length];
        Array.Fill(ones, 1);
        var (sizes, merged) = Cpu.StridedIterator.Coalesce(shape, strides, ones);
        var result = new StridedArg[operands.Length];
        for (int k = 0; k < operands.Length; k++) result[k] = Of(sizes, merged[k]);
        return result;
    }

    /// <summary>True when the layout is one dense run (so a contiguous kernel can serve).</summary>
    public readonly bool IsDense => Rank == 0 || (Rank == 1 && _strides[0] == 1);

    static StridedArg()
    {
        // The kernels read the struct at these offsets; a layout change here would be silent garbage there.
        if (Unsafe.SizeOf<StridedArg>() != Bytes) throw new InvalidOperationException($"StridedArg is {Unsafe.SizeOf<StridedArg>()} bytes, the kernels expect {Bytes}.");
    }
}
