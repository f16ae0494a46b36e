using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Backends;

/// <summary>
/// A lanewise binary operation at every width the loops of <see cref="VectorLoops"/> use. Each form must give the
/// bits of the scalar one in every lane (the IEEE operations do: +, -, *, / and sqrt round once, in hardware).
/// </summary>
internal interface IBinaryVectorOp
{
    static abstract T Apply<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Apply<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector256<T> Apply<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>A lanewise unary operation at every width; as <see cref="IBinaryVectorOp"/>, the bits of the scalar form in every lane.</summary>
internal interface IUnaryVectorOp
{
    static abstract T Apply<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Apply<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector256<T> Apply<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>
/// Elementwise loops over contiguous spans with ordinary stores. TensorPrimitives streams outputs above 256 KiB past
/// the cache (non-temporal stores), so the op that reads them next fetches them back from memory; these loops keep
/// them in cache. They run 256-bit vectors where accelerated, else <see cref="Vector{T}"/>, then a scalar tail (never
/// an overlapping last vector: the output may be an input, in place; it must not overlap one partially). Not 512
/// bits: on the AVX-512 development machine (AMD EPYC, Zen 4: 512-bit operations double-pumped) a 512-bit add,
/// multiply or divide of 1 M floats ran 5-10% slower than a 256-bit one, one thread or two, in the same process (issue 20): the loops are bound by the
/// caches' bandwidth, not by the arithmetic. Ordinary stores pay where the output is still cached when its consumer
/// runs (quiet machine, docs/benchmarks.md: add's bench median halved, sub's and mul's forward minima fell by a third);
/// under other processes' load the read-for-ownership each one costs made their medians about twice TensorPrimitives'.
/// Division's forward is about 7% slower than TensorPrimitives' 512-bit one (quiet).
/// </summary>
internal static class VectorLoops
{
    /// <summary>z[i] = op(x[i], y[i]).</summary>
    public static void Binary<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z)
        where TOp : IBinaryVectorOp where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, y.Length, z.Length);
        ref T xr = ref MemoryMarshal.GetReference(x), yr = ref MemoryMarshal.GetReference(y), zr = ref MemoryMarshal.GetReference(z);
        nuint n = (nuint)z.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
                TOp.Apply(Vector256.LoadUnsafe(ref xr, i), Vector256.LoadUnsafe(ref yr, i)).StoreUnsafe(ref zr, i);
        else if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            for (; i + (nuint)Vector<T>.Count <= n; i += (nuint)Vector<T>.Count)
                TOp.Apply(Vector.LoadUnsafe(ref xr, i), Vector.LoadUnsafe(ref yr, i)).StoreUnsafe(ref zr, i);
        for (; i < n; i++) Unsafe.Add(ref zr, i) = TOp.Apply(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }

    /// <summary>
    /// gx[i] = g[i] * y[i] and gy[i] = g[i] * x[i] in one pass: the two gradients of a product. One pass reads g once
    /// and runs one loop instead of two (five streams instead of six; mul's backward, issue 20). Each product is the
    /// scalar one's bits, as in <see cref="Binary{TOp, T}"/>. An output may be one of the inputs, in place; the two
    /// outputs must be different.
    /// </summary>
    public static void ProductGradients<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> gx, Span<T> gy)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(g.Length, x.Length, gx.Length);
        Check(y.Length, gy.Length, gx.Length);
        ref T gr = ref MemoryMarshal.GetReference(g), xr = ref MemoryMarshal.GetReference(x), yr = ref MemoryMarshal.GetReference(y);
        ref T gxr = ref MemoryMarshal.GetReference(gx), gyr = ref MemoryMarshal.GetReference(gy);
        nuint n = (nuint)gx.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
            {
                var gv = Vector256.LoadUnsafe(ref gr, i);
                var xv = Vector256.LoadUnsafe(ref xr, i);
                var yv = Vector256.LoadUnsafe(ref yr, i);
                (gv * yv).StoreUnsafe(ref gxr, i);
                (gv * xv).StoreUnsafe(ref gyr, i);
            }
        else if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            for (; i + (nuint)Vector<T>.Count <= n; i += (nuint)Vector<T>.Count)
            {
                var gv = Vector.LoadUnsafe(ref gr, i);
                var xv = Vector.LoadUnsafe(ref xr, i);
                var yv = Vector.LoadUnsafe(ref yr, i);
                (gv * yv).StoreUnsafe(ref gxr, i);
                (gv * xv).StoreUnsafe(ref gyr, i);
            }
        for (; i < n; i++)
        {
            T gs = Unsafe.Add(ref gr, i), xs = Unsafe.Add(ref xr, i), ys = Unsafe.Add(ref yr, i);
            Unsafe.Add(ref gxr, i) = gs * ys;
            Unsafe.Add(ref gyr, i) = gs * xs;
        }
    }

    /// <summary>
    /// gx[i] = g[i] / y[i] and gy[i] = -(g[i] * (z[i] / y[i])) in one pass, where z = x / y: the two gradients of a
    /// quotient in PyTorch's order (z / y before the product keeps gy finite where g * z would overflow). One pass
    /// instead of four (division's backward, issue 20); every operation is the scalar one's, so are the bits. z / y goes
    /// through gy's memory before the product: a NaN result keeps the sign of the operand the hardware sees first, and
    /// the product must see g first, as the separate multiplication (g in a register, the quotient loaded) did. An
    /// output may be one of the inputs, in place; the two outputs must be different.
    /// </summary>
    public static void QuotientGradients<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> y, ReadOnlySpan<T> z, Span<T> gx, Span<T> gy)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(g.Length, y.Length, gx.Length);
        Check(z.Length, gy.Length, gx.Length);
        ref T gr = ref MemoryMarshal.GetReference(g), yr = ref MemoryMarshal.GetReference(y), zr = ref MemoryMarshal.GetReference(z);
        ref T gxr = ref MemoryMarshal.GetReference(gx), gyr = ref MemoryMarshal.GetReference(gy);
        nuint n = (nuint)gx.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
            {
                var gv = Vector256.LoadUnsafe(ref gr, i);
                var yv = Vector256.LoadUnsafe(ref yr, i);
                (Vector256.LoadUnsafe(ref zr, i) / yv).StoreUnsafe(ref gyr, i);
                (gv / yv).StoreUnsafe(ref gxr, i);
                (-(gv * Vector256.LoadUnsafe(ref gyr, i))).StoreUnsafe(ref gyr, i);
            }
        else if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            for (; i + (nuint)Vector<T>.Count <= n; i += (nuint)Vector<T>.Count)
            {
                var gv = Vector.LoadUnsafe(ref gr, i);
                var yv = Vector.LoadUnsafe(ref yr, i);
                (Vector.LoadUnsafe(ref zr, i) / yv).StoreUnsafe(ref gyr, i);
                (gv / yv).StoreUnsafe(ref gxr, i);
                (-(gv * Vector.LoadUnsafe(ref gyr, i))).StoreUnsafe(ref gyr, i);
            }
        for (; i < n; i++)
        {
            T gs = Unsafe.Add(ref gr, i), ys = Unsafe.Add(ref yr, i);
            Unsafe.Add(ref gyr, i) = Unsafe.Add(ref zr, i) / ys;
            Unsafe.Add(ref gxr, i) = gs / ys;
            Unsafe.Add(ref gyr, i) = -(gs * Unsafe.Add(ref gyr, i));
        }
    }

    /// <summary>z[i] = op(x[i], y): a scalar right operand.</summary>
    public static void BinaryScalar<TOp, T>(ReadOnlySpan<T> x, T y, Span<T> z)
        where TOp : IBinaryVectorOp where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, x.Length, z.Length);
        ref T xr = ref MemoryMarshal.GetReference(x), zr = ref MemoryMarshal.GetReference(z);
        nuint n = (nuint)z.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var yv = Vector256.Create(y);
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
                TOp.Apply(Vector256.LoadUnsafe(ref xr, i), yv).StoreUnsafe(ref zr, i);
        }
        else if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var yv = new Vector<T>(y);
            for (; i + (nuint)Vector<T>.Count <= n; i += (nuint)Vector<T>.Count)
                TOp.Apply(Vector.LoadUnsafe(ref xr, i), yv).StoreUnsafe(ref zr, i);
        }
        for (; i < n; i++) Unsafe.Add(ref zr, i) = TOp.Apply(Unsafe.Add(ref xr, i), y);
    }

    /// <summary>z[i] = op(x, y[i]): a scalar left operand.</summary>
    public static void ScalarBinary<TOp, T>(T x, ReadOnlySpan<T> y, Span<T> z)
        where TOp : IBinaryVectorOp where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, y.Length, z.Length);
        ref T yr = ref MemoryMarshal.GetReference(y), zr = ref MemoryMarshal.GetReference(z);
        nuint n = (nuint)z.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var xv = Vector256.Create(x);
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
                TOp.Apply(xv, Vector256.LoadUnsafe(ref yr, i)).StoreUnsafe(ref zr, i);
        }
        else if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var xv = new Vector<T>(x);
            for (; i + (nuint)Vector<T>.Count <= n; i += (nuint)Vector<T>.Count)
                TOp.Apply(xv, Vector.LoadUnsafe(ref yr, i)).StoreUnsafe(ref zr, i);
        }
        for (; i < n; i++) Unsafe.Add(ref zr, i) = TOp.Apply(x, Unsafe.Add(ref yr, i));
    }

    /// <summary>y[i] = op(x[i]).</summary>
    public static void Unary<TOp, T>(ReadOnlySpan<T> x, Span<T> y)
        where TOp : IUnaryVectorOp where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, x.Length, y.Length);
        ref T xr = ref MemoryMarshal.GetReference(x), yr = ref MemoryMarshal.GetReference(y);
        nuint n = (nuint)y.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
                TOp.Apply(Vector256.LoadUnsafe(ref xr, i)).StoreUnsafe(ref yr, i);
        else if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            for (; i + (nuint)Vector<T>.Count <= n; i += (nuint)Vector<T>.Count)
                TOp.Apply(Vector.LoadUnsafe(ref xr, i)).StoreUnsafe(ref yr, i);
        for (; i < n; i++) Unsafe.Add(ref yr, i) = TOp.Apply(Unsafe.Add(ref xr, i));
    }

    private static void Check(int x, int y, int z)
    {
        if (x != z || y != z)
            throw new ArgumentException($"elementwise loop: operand lengths {x} and {y} differ from the output's {z}");
    }
}
