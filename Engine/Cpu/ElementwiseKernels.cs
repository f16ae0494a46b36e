using System.Numerics;
using System.Runtime.CompilerServices;
using Engine.Backends;

namespace Engine.Cpu;

// Inner loops for the elementwise kernels. Each has a contiguous fast path (the op's span form where it
// declares one) and a strided path; operand 0 is always the output.

internal unsafe struct UnaryLoop<TOp, T>(T a, T b) : IStridedLoop
    where TOp : IUnaryOp where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(long n, byte** p, long* s)
    {
        if (s[0] == sizeof(T) && s[1] == sizeof(T) && TOp.TryForwardSpan(new ReadOnlySpan<T>(p[1], (int)n), new Span<T>(p[0], (int)n), a, b))
            return;
        byte* y = p[0], x = p[1];
        for (long i = 0; i < n; i++, y += s[0], x += s[1])
            *(T*)y = TOp.Forward(*(T*)x, a, b);
    }
}

internal unsafe struct UnaryBackwardLoop<TOp, T>(T a, T b) : IStridedLoop
    where TOp : IUnaryOp where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(long n, byte** p, long* s)
    {
        int len = (int)n;
        if (s[0] == sizeof(T) && s[1] == sizeof(T) && s[2] == sizeof(T) && s[3] == sizeof(T)
            && TOp.TryBackwardSpan(new ReadOnlySpan<T>(p[1], len), new ReadOnlySpan<T>(p[2], len), new ReadOnlySpan<T>(p[3], len), new Span<T>(p[0], len), a, b))
            return;
        byte* gx = p[0], g = p[1], x = p[2], y = p[3];
        for (long i = 0; i < n; i++, gx += s[0], g += s[1], x += s[2], y += s[3])
            *(T*)gx = TOp.TryBackward(*(T*)g, *(T*)x, *(T*)y, a, b, out T fused) ? fused : *(T*)g * TOp.Derivative(*(T*)x, *(T*)y, a, b);
    }
}

internal unsafe struct BinaryLoop<TOp, T> : IStridedLoop
    where TOp : IBinaryOp where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(long n, byte** p, long* s)
    {
        int len = (int)n;
        if (s[0] == sizeof(T))
        {
            if (s[1] == sizeof(T) && s[2] == sizeof(T)
                && TOp.TryForwardSpan(new ReadOnlySpan<T>(p[1], len), new ReadOnlySpan<T>(p[2], len), new Span<T>(p[0], len)))
                return;
            if (s[1] == sizeof(T) && s[2] == 0
                && TOp.TryForwardSpanScalar(new ReadOnlySpan<T>(p[1], len), *(T*)p[2], new Span<T>(p[0], len)))
                return;
            if (s[1] == 0 && s[2] == sizeof(T)
                && TOp.TryForwardScalarSpan(*(T*)p[1], new ReadOnlySpan<T>(p[2], len), new Span<T>(p[0], len)))
                return;
        }
        byte* z = p[0], x = p[1], y = p[2];
        for (long i = 0; i < n; i++, z += s[0], x += s[1], y += s[2])
            *(T*)z = TOp.Forward(*(T*)x, *(T*)y);
    }
}

/// <summary>The two gradients of a product: operands gx, gy, g, x, y; gx = g * y, gy = g * x.</summary>
internal unsafe struct ProductGradientsLoop<T> : IStridedLoop where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(long n, byte** p, long* s)
    {
        int len = (int)n;
        if (s[0] == sizeof(T) && s[1] == sizeof(T) && s[2] == sizeof(T) && s[3] == sizeof(T) && s[4] == sizeof(T))
        {
            VectorLoops.ProductGradients(new ReadOnlySpan<T>(p[2], len), new ReadOnlySpan<T>(p[3], len), new ReadOnlySpan<T>(p[4], len),
                new Span<T>(p[0], len), new Span<T>(p[1], len));
            return;
        }
        byte* gx = p[0], gy = p[1], g = p[2], x = p[3], y = p[4];
        for (long i = 0; i < n; i++, gx += s[0], gy += s[1], g += s[2], x += s[3], y += s[4])
        {
            T gs = *(T*)g;
            *(T*)gx = gs * *(T*)y;
            *(T*)gy = gs * *(T*)x;
        }
    }
}

/// <summary>The two gradients of a quotient z = x / y: operands gx, gy, g, y, z; gx = g / y, gy = -(g * (z / y)).</summary>
internal unsafe struct QuotientGradientsLoop<T> : IStridedLoop where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(long n, byte** p, long* s)
    {
        int len = (int)n;
        if (s[0] == sizeof(T) && s[1] == sizeof(T) && s[2] == sizeof(T) && s[3] == sizeof(T) && s[4] == sizeof(T))
        {
            VectorLoops.QuotientGradients(new ReadOnlySpan<T>(p[2], len), new ReadOnlySpan<T>(p[3], len), new ReadOnlySpan<T>(p[4], len),
                new Span<T>(p[0], len), new Span<T>(p[1], len));
            return;
        }
        byte* gx = p[0], gy = p[1], g = p[2], y = p[3], z = p[4];
        for (long i = 0; i < n; i++, gx += s[0], gy += s[1], g += s[2], y += s[3], z += s[4])
        {
            T gs = *(T*)g, ys = *(T*)y;
            *(T*)gx = gs / ys;
            *(T*)gy = -(gs * (*(T*)z / ys));
        }
    }
}

internal unsafe struct CompareLoop<TOp, T> : IStridedLoop
    where TOp : ICompareOp where T : unmanaged, INumber<T>
{
    public void Run(long n, byte** p, long* s)
    {
        byte* z = p[0], x = p[1], y = p[2];
        for (long i = 0; i < n; i++, z += s[0], x += s[1], y += s[2])
            *z = TOp.Test(*(T*)x, *(T*)y) ? (byte)1 : (byte)0;
    }
}

internal unsafe struct WhereLoop<T> : IStridedLoop where T : unmanaged
{
    public void Run(long n, byte** p, long* s)
    {
        byte* z = p[0], c = p[1], x = p[2], y = p[3];
        for (long i = 0; i < n; i++, z += s[0], c += s[1], x += s[2], y += s[3])
            *(T*)z = *c != 0 ? *(T*)x : *(T*)y;
    }
}

/// <summary>Converting copy; <paramref name="streamFill"/>: a broadcast source's fill uses non-temporal stores (<see cref="StreamedFill"/>).</summary>
internal unsafe struct CopyLoop<TSrc, TDst>(bool streamFill) : IStreamingLoop
    where TSrc : unmanaged, INumberBase<TSrc> where TDst : unmanaged, INumberBase<TDst>
{
    public void Run(long n, byte** p, long* s)
    {
        byte* dst = p[0], src = p[1];
        if (typeof(TSrc) == typeof(TDst) && s[0] == sizeof(TDst) && s[1] == sizeof(TSrc))
        {
            Buffer.MemoryCopy(src, dst, n * sizeof(TDst), n * sizeof(TDst));
            return;
        }
        if (typeof(TSrc) == typeof(TDst) && s[0] == sizeof(TDst) && s[1] == 0 && n <= int.MaxValue)
        {
            // A broadcast (expanded) source, as the gradients of sums and means are: a fill, not a gather.
            if (streamFill) StreamedFill.Fill((TDst*)dst, n, Convert(*(TSrc*)src));
            else new Span<TDst>(dst, (int)n).Fill(Convert(*(TSrc*)src));
            return;
        }
        for (long i = 0; i < n; i++, dst += s[0], src += s[1])
            *(TDst*)dst = Convert(*(TSrc*)src);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TDst Convert(TSrc v)
    {
        if (typeof(TSrc) == typeof(TDst)) return Unsafe.As<TSrc, TDst>(ref v);
        // Bool is stored as a byte: any non-zero value is true.
        if (typeof(TDst) == typeof(byte)) return v == TSrc.Zero ? TDst.Zero : TDst.One;
        return TDst.CreateSaturating(v);
    }
}

internal unsafe struct FillLoop<T>(T value) : IStridedLoop where T : unmanaged
{
    public void Run(long n, byte** p, long* s)
    {
        if (s[0] == sizeof(T))
        {
            new Span<T>(p[0], (int)n).Fill(value);
            return;
        }
        byte* d = p[0];
        for (long i = 0; i < n; i++, d += s[0]) *(T*)d = value;
    }
}
