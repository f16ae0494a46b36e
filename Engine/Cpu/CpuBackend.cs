using System.Numerics;
using Engine.Backends;

namespace Engine.Cpu;

/// <summary>The CPU implementation of the core primitives: dtype dispatch onto generic kernels.</summary>
internal sealed unsafe partial class CpuBackend : IBackend
{
    public static CpuBackend Instance { get; } = new();

    public Storage Allocate(Device device, long length, DType dtype, bool zeroed) => new CpuStorage(length, dtype, zeroed);

    /// <summary>Address of the tensor's first element.</summary>
    internal static nint BasePointer(Tensor t) =>
        (nint)((byte*)((CpuStorage)t.Storage).Pointer + t.Offset * t.DType.SizeOf());

    internal static T* Ptr<T>(Tensor t) where T : unmanaged => (T*)BasePointer(t);

    /// <summary>Runs an elementwise loop over operands viewed at <paramref name="shape"/>; operand 0 is the output.</summary>
    private static void Elementwise<TLoop>(int[] shape, TLoop loop, double cost, params Tensor[] operands) where TLoop : struct, IStridedLoop
    {
        var bases = new nint[operands.Length];
        var strides = new long[operands.Length][];
        var sizes = new int[operands.Length];
        for (int k = 0; k < operands.Length; k++)
        {
            bases[k] = BasePointer(operands[k]);
            strides[k] = operands[k].Layout.BroadcastStrides(shape);
            sizes[k] = operands[k].DType.SizeOf();
        }
        StridedIterator.Run(shape, bases, strides, sizes, loop, cost);
    }

    public void Fill(Tensor dst, double value)
    {
        var shape = dst.Layout.Shape;
        switch (dst.DType)
        {
            case DType.F32: Elementwise(shape, new FillLoop<float>((float)value), 0.25, dst); break;
            case DType.F64: Elementwise(shape, new FillLoop<double>(value), 0.25, dst); break;
            case DType.I64: Elementwise(shape, new FillLoop<long>((long)value), 0.25, dst); break;
            case DType.Bool: Elementwise(shape, new FillLoop<byte>(value != 0 ? (byte)1 : (byte)0), 0.25, dst); break;
        }
    }

    public void Copy(Tensor src, Tensor dst)
    {
        switch (src.DType)
        {
            case DType.F32: CopyFrom<float>(src, dst); break;
            case DType.F64: CopyFrom<double>(src, dst); break;
            case DType.I64: CopyFrom<long>(src, dst); break;
            case DType.Bool: CopyFrom<byte>(src, dst); break;
        }
    }

    private static void CopyFrom<TSrc>(Tensor src, Tensor dst) where TSrc : unmanaged, INumberBase<TSrc>
    {
        var shape = dst.Layout.Shape;
        // Large outputs of a broadcast source are streamed past the caches (see StreamedFill).
        bool stream = StreamedFill.Worth(dst.NumEl * dst.DType.SizeOf());
        switch (dst.DType)
        {
            case DType.F32: Elementwise(shape, new CopyLoop<TSrc, float>(stream), 0.5, dst, src); break;
            case DType.F64: Elementwise(shape, new CopyLoop<TSrc, double>(stream), 0.5, dst, src); break;
            case DType.I64: Elementwise(shape, new CopyLoop<TSrc, long>(stream), 0.5, dst, src); break;
            case DType.Bool: Elementwise(shape, new CopyLoop<TSrc, byte>(stream), 0.5, dst, src); break;
        }
    }

    public void Unary<TOp>(Tensor x, Tensor y, double a, double b) where TOp : IUnaryOp
    {
        if (x.DType == DType.F32) Elementwise(y.Layout.Shape, new UnaryLoop<TOp, float>((float)a, (float)b), 4, y, x);
        else Elementwise(y.Layout.Shape, new UnaryLoop<TOp, double>(a, b), 4, y, x);
    }

    public void UnaryBackward<TOp>(Tensor g, Tensor x, Tensor y, Tensor gx, double a, double b) where TOp : IUnaryOp
    {
        if (x.DType == DType.F32) Elementwise(gx.Layout.Shape, new UnaryBackwardLoop<TOp, float>((float)a, (float)b), 4, gx, g, x, y);
        else Elementwise(gx.Layout.Shape, new UnaryBackwardLoop<TOp, double>(a, b), 4, gx, g, x, y);
    }

    public void Binary<TOp>(Tensor x, Tensor y, Tensor z) where TOp : IBinaryOp
    {
        if (z.DType == DType.F32) Elementwise(z.Layout.Shape, new BinaryLoop<TOp, float>(), 1, z, x, y);
        else Elementwise(z.Layout.Shape, new BinaryLoop<TOp, double>(), 1, z, x, y);
    }

    public void ProductGradients(Tensor g, Tensor x, Tensor y, Tensor gx, Tensor gy)
    {
        if (g.DType == DType.F32) Elementwise(g.Layout.Shape, new ProductGradientsLoop<float>(), 2, gx, gy, g, x, y);
        else Elementwise(g.Layout.Shape, new ProductGradientsLoop<double>(), 2, gx, gy, g, x, y);
    }

    public void QuotientGradients(Tensor g, Tensor y, Tensor z, Tensor gx, Tensor gy)
    {
        if (g.DType == DType.F32) Elementwise(g.Layout.Shape, new QuotientGradientsLoop<float>(), 4, gx, gy, g, y, z);
        else Elementwise(g.Layout.Shape, new QuotientGradientsLoop<double>(), 4, gx, gy, g, y, z);
    }

    public void Compare<TOp>(Tensor x, Tensor y, Tensor z) where TOp : ICompareOp
    {
        var shape = z.Layout.Shape;
        switch (x.DType)
        {
            case DType.F32: Elementwise(shape, new CompareLoop<TOp, float>(), 1, z, x, y); break;
            case DType.F64: Elementwise(shape, new CompareLoop<TOp, double>(), 1, z, x, y); break;
            case DType.I64: Elementwise(shape, new CompareLoop<TOp, long>(), 1, z, x, y); break;
            case DType.Bool: Elementwise(shape, new CompareLoop<TOp, byte>(), 1, z, x, y); break;
        }
    }

    public void Where(Tensor cond, Tensor x, Tensor y, Tensor z)
    {
        var shape = z.Layout.Shape;
        switch (z.DType)
        {
            case DType.F32: Elementwise(shape, new WhereLoop<float>(), 1, z, cond, x, y); break;
            case DType.F64: Elementwise(shape, new WhereLoop<double>(), 1, z, cond, x, y); break;
            case DType.I64: Elementwise(shape, new WhereLoop<long>(), 1, z, cond, x, y); break;
            case DType.Bool: Elementwise(shape, new WhereLoop<byte>(), 1, z, cond, x, y); break;
        }
    }
}
