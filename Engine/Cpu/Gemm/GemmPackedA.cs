using System.Numerics;
using System.Runtime.InteropServices;

namespace Engine.Cpu;

/// <summary>The micro-kernel family a <see cref="GemmPackedA{T}"/> was packed for (its panel height and k blocking).</summary>
internal enum GemmKernelKind { Portable, Avx2, Avx512 }

/// <summary>
/// An m x k matrix packed once into the micro-panels of the kernel the GEMM picks, for use as the A operand of
/// many products (<see cref="CpuGemm.Gemm{T}(GemmPackedA{T}, int, GemmOperand{T}?, T*, long, long, bool, T*, long, int, long)"/>):
/// a weight multiplied by many column blocks, such as Winograd's transformed weights, each used by every chunk of
/// tiles. A product with it skips the packing of A, which it would otherwise repeat per call and per column block.
/// </summary>
/// <remarks>
/// <para>
/// The layout is the one the driver gives an A it packs whole for a call: k cut into the driver's k blocks
/// (<see cref="GemmDriver{T, K}.KBlockDepth"/>), the block at k offset pc starting at <c>pc * mPadded</c>, where
/// mPadded is m rounded up to the panel height, and the panel of rows [r, r + MR) at <c>+ r * kc</c>. A product
/// with it therefore runs the same kernel calls on the same packed values as one that packs A itself: the same
/// bits (tested), independent of the thread count.
/// </para>
/// <para>
/// The copy is taken at construction: later writes to the source matrix do not reach it. The kernel family is
/// fixed at construction too (by the constructing thread's switches, as a call would pick it); products with it
/// use that family. Holds native memory: dispose it (a finalizer frees it otherwise).
/// </para>
/// </remarks>
internal sealed unsafe class GemmPackedA<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private T* _data;

    /// <summary>Packs the m x k matrix A[i, p] = a[i * rowStride + p * colStride] for the kernel a call from this thread would use.</summary>
    public GemmPackedA(int m, int k, T* a, long rowStride, long colStride)
        : this(m, k, a, rowStride, colStride, CallerKernel)
    {
    }

    /// <summary>Packs A for the kernel family <paramref name="kernel"/> (one this process can run: from <see cref="CallerKernel"/>).</summary>
    public GemmPackedA(int m, int k, T* a, long rowStride, long colStride, GemmKernelKind kernel)
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"gemm: element type {typeof(T).Name} is not supported (float or double).");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (a == null) throw new ArgumentNullException(nameof(a));
        (Rows, Depth) = (m, k);
        Kernel = kernel;
        long elements = Elements(Kernel, m, k);
        _data = (T*)NativeMemory.AlignedAlloc((nuint)(elements * sizeof(T)), 64);
        Pack(Kernel, _data, m, k, a, rowStride, colStride);
    }

    /// <summary>The kernel family a product called from this thread would use (its switches included).</summary>
    public static GemmKernelKind CallerKernel =>
        CpuGemm.UsesAvx512 ? GemmKernelKind.Avx512 : CpuGemm.UsesAvx2 ? GemmKernelKind.Avx2 : GemmKernelKind.Portable;

    /// <summary>Rows of A (and of the products' C).</summary>
    public int Rows { get; }

    /// <summary>Columns of A: the products' depth.</summary>
    public int Depth { get; }

    /// <summary>The kernel family the panels are laid out for; products with this matrix use it.</summary>
    internal GemmKernelKind Kernel { get; }

    /// <summary>The packed panels (see the class remarks for the layout).</summary>
    internal T* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(GemmPackedA<T>));

    /// <inheritdoc/>
    public void Dispose()
    {
        NativeMemory.AlignedFree(_data);
        _data = null;
        GC.SuppressFinalize(this);
    }

    ~GemmPackedA() => NativeMemory.AlignedFree(_data);

    private static long Elements(GemmKernelKind kind, int m, int k)
    {
        if (typeof(T) == typeof(float))
            return kind switch
            {
                GemmKernelKind.Avx512 => GemmDriver<float, Avx512KernelF32>.WholeAElements(m, k),
                GemmKernelKind.Avx2 => GemmDriver<float, Avx2KernelF32>.WholeAElements(m, k),
                _ => GemmDriver<float, PortableKernel<float>>.WholeAElements(m, k),
            };
        return kind switch
        {
            GemmKernelKind.Avx512 => GemmDriver<double, Avx512KernelF64>.WholeAElements(m, k),
            GemmKernelKind.Avx2 => GemmDriver<double, Avx2KernelF64>.WholeAElements(m, k),
            _ => GemmDriver<double, PortableKernel<double>>.WholeAElements(m, k),
        };
    }

    private static void Pack(GemmKernelKind kind, T* dst, int m, int k, T* a, long rs, long cs)
    {
        if (typeof(T) == typeof(float))
        {
            float* d = (float*)dst, s = (float*)a;
            if (kind == GemmKernelKind.Avx512) GemmDriver<float, Avx512KernelF32>.PackWholeA(d, m, k, s, rs, cs);
            else if (kind == GemmKernelKind.Avx2) GemmDriver<float, Avx2KernelF32>.PackWholeA(d, m, k, s, rs, cs);
            else GemmDriver<float, PortableKernel<float>>.PackWholeA(d, m, k, s, rs, cs);
        }
        else
        {
            double* d = (double*)dst, s = (double*)a;
            if (kind == GemmKernelKind.Avx512) GemmDriver<double, Avx512KernelF64>.PackWholeA(d, m, k, s, rs, cs);
            else if (kind == GemmKernelKind.Avx2) GemmDriver<double, Avx2KernelF64>.PackWholeA(d, m, k, s, rs, cs);
            else GemmDriver<double, PortableKernel<double>>.PackWholeA(d, m, k, s, rs, cs);
        }
    }
}
