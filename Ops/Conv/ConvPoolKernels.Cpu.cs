using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// Row primitives shared by the convolution and pooling kernels, generic over float and double (the JIT
/// compiles one copy per type and drops the branches of the other). Reductions use a fixed lane order,
/// so a result depends on the data and its length only, never on alignment or threads.
/// </summary>
internal static unsafe class ConvPoolKernels
{
    /// <summary>y[i] += a * x[i], fused in both the vector body and the tail so every element rounds alike.</summary>
    public static void Axpy<T>(T* y, T* x, T a, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var va = Vector256.Create(a);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                Vector256.Store(Fma(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        }
        for (; i < n; i++) y[i] = T.FusedMultiplyAdd(a, x[i], y[i]);
    }

    /// <summary>y[i] += x[i].</summary>
    public static void Add<T>(T* y, T* x, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                Vector256.Store(Vector256.Load(y + i) + Vector256.Load(x + i), y + i);
        for (; i < n; i++) y[i] += x[i];
    }

    /// <summary>y[i] += a.</summary>
    public static void AddScalar<T>(T* y, T a, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var va = Vector256.Create(a);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                Vector256.Store(Vector256.Load(y + i) + va, y + i);
        }
        for (; i < n; i++) y[i] += a;
    }

    /// <summary>Sum of a[i] * b[i].</summary>
    public static T Dot<T>(T* a, T* b, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            int c = Vector256<T>.Count;
            Vector256<T> acc0 = Vector256<T>.Zero, acc1 = Vector256<T>.Zero;
            for (; i <= n - 2 * c; i += 2 * c)
            {
                acc0 = Fma(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
                acc1 = Fma(Vector256.Load(a + i + c), Vector256.Load(b + i + c), acc1);
            }
            for (; i <= n - c; i += c)
                acc0 = Fma(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum = T.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    /// <summary>Sum of a[i].</summary>
    public static T Sum<T>(T* a, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var acc = Vector256<T>.Zero;
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count) acc += Vector256.Load(a + i);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += a[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>The first element of a contiguous CPU tensor, or null for a missing (optional) operand.</summary>
    public static T* Ptr<T>(Tensor? t) where T : unmanaged => t is null ? null : CpuBackend.Ptr<T>(t);

    /// <summary>C = A * B (or C += A * B) through the engine's GEMM, for either element type.</summary>
    public static void Gemm<T>(int m, int n, int k, T* a, long aRowStride, long aColStride, T* b, long bRowStride, long bColStride,
        bool accumulate, T* c, long cRowStride) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            CpuGemm.Gemm(m, n, k, 1f, (float*)a, aRowStride, aColStride, (float*)b, bRowStride, bColStride, accumulate ? 1f : 0f, (float*)c, cRowStride);
        else
            CpuGemm.Gemm(m, n, k, 1.0, (double*)a, aRowStride, aColStride, (double*)b, bRowStride, bColStride, accumulate ? 1.0 : 0.0, (double*)c, cRowStride);
    }
}

/// <summary>Scratch memory for a kernel: 64-byte aligned, outside the tensor accounting, freed on dispose.</summary>
internal readonly unsafe struct ConvScratch<T> : IDisposable where T : unmanaged
{
    public readonly T* Ptr;

    public ConvScratch(long count, bool zeroed = false)
    {
        nuint bytes = (nuint)(Math.Max(count, 1) * sizeof(T));
        Ptr = (T*)NativeMemory.AlignedAlloc(bytes, 64);
        if (zeroed) NativeMemory.Clear(Ptr, bytes);
    }

    public void Dispose() => NativeMemory.AlignedFree(Ptr);
}
